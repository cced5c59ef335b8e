"""The shared request budget never books more than its limit in any window."""

from __future__ import annotations

from datetime import timedelta

import anyio
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ml_connector.core.clock import FixedClock
from ml_connector.store.engine import make_engine
from ml_connector.store.ratebudget import Budget, DbRateLimiter, _lock_key

WINDOW = timedelta(seconds=10)
LIMIT = 5


def _max_in_any_window(times: list, window: timedelta) -> int:
    times = sorted(times)
    best = 0
    start = 0
    for end, t in enumerate(times):
        while times[start] <= t - window:
            start += 1
        best = max(best, end - start + 1)
    return best


@pytest.mark.anyio
async def test_concurrent_acquirers_on_several_engines_never_exceed_the_budget(
    engine: AsyncEngine, database_url: str, clock: FixedClock
) -> None:
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        # Time only moves when someone waits: the window must hold without real time.
        sleeps.append(seconds)
        clock.advance(min(seconds, 0.7))
        await anyio.lowlevel.checkpoint()

    budgets = {"ramp": Budget(limit=LIMIT, window=WINDOW)}
    engines = [make_engine(database_url) for _ in range(3)]
    limiters = [
        DbRateLimiter(e, clock=clock, sleep=sleep, budgets=budgets, retention=timedelta(days=1))
        for e in engines
    ]

    async def worker(i: int) -> None:
        for _ in range(4):
            await limiters[i % 3].acquire("ramp:biz-1")

    try:
        async with anyio.create_task_group() as tg:
            for i in range(6):
                tg.start_soon(worker, i)
        booked = await limiters[0].bookings("ramp:biz-1")
    finally:
        for e in engines:
            await e.dispose()
    assert len(booked) == 24
    assert _max_in_any_window(booked, WINDOW) == LIMIT
    assert sleeps  # the budget did make someone wait


@pytest.mark.anyio
async def test_keys_have_separate_budgets_and_old_bookings_are_pruned(
    engine: AsyncEngine, clock: FixedClock
) -> None:
    limiter = DbRateLimiter(engine, clock=clock, budgets={"ramp": Budget(limit=2, window=WINDOW)})
    for _ in range(2):
        assert await limiter.try_acquire("ramp:a") is None
    wait = await limiter.try_acquire("ramp:a")
    assert wait == pytest.approx(10.0)
    assert await limiter.try_acquire("ramp:b") is None
    clock.advance(WINDOW)
    assert await limiter.try_acquire("ramp:a") is None
    assert await limiter.bookings("ramp:a") == [clock()]


@pytest.mark.anyio
async def test_bookings_count_over_the_window_plus_the_jitter_allowance(
    engine: AsyncEngine, clock: FixedClock
) -> None:
    budget = Budget(limit=2, window=WINDOW, jitter=timedelta(seconds=0.5))
    limiter = DbRateLimiter(engine, clock=clock, budgets={"ramp": budget})
    assert await limiter.try_acquire("ramp:a") is None
    clock.advance(1)
    assert await limiter.try_acquire("ramp:a") is None
    clock.advance(9)
    # The first booking is a window old, but may have reached the vendor up to 0.5 s late.
    assert await limiter.try_acquire("ramp:a") == pytest.approx(0.5)
    clock.advance(0.5)
    assert await limiter.try_acquire("ramp:a") is None
    assert await limiter.try_acquire("ramp:a") == pytest.approx(1.0)


@pytest.mark.anyio
async def test_a_booking_is_stamped_once_the_key_is_locked_not_before_the_wait(
    engine: AsyncEngine, database_url: str, clock: FixedClock
) -> None:
    # Under load the key's lock (SQLite: the write lock) can take a while; a stamp taken
    # before that wait would record a time the request never left at.
    stamps: list[object] = []

    def watched_clock():  # type: ignore[no-untyped-def]
        stamps.append(clock())
        return clock()

    holder = make_engine(database_url)
    limiter = DbRateLimiter(
        engine, clock=watched_clock, budgets={"ramp": Budget(limit=5, window=WINDOW)}
    )
    try:
        async with anyio.create_task_group() as tg, holder.begin() as db:
            await _lock_key(db, "ramp:a")
            tg.start_soon(limiter.try_acquire, "ramp:a")
            await anyio.sleep(0.3)
            stamped_while_waiting = list(stamps)
            clock.advance(3)
        booked = await limiter.bookings("ramp:a")
    finally:
        await holder.dispose()
    assert stamped_while_waiting == []
    assert booked == [clock()]


@pytest.mark.anyio
async def test_a_share_books_only_while_the_window_holds_less_than_it(
    engine: AsyncEngine, clock: FixedClock
) -> None:
    limiter = DbRateLimiter(
        engine, clock=clock, budgets={"freshbooks": Budget(limit=10, window=WINDOW)}
    )
    for _ in range(6):
        assert await limiter.try_acquire("freshbooks:a", share=0.6) is None
        clock.advance(1)
    # Six booked, at 0..5 s: a seventh background request waits for the first to leave.
    assert await limiter.try_acquire("freshbooks:a", share=0.6) == pytest.approx(4.0)
    for _ in range(4):  # the rest of the window is the full callers'
        assert await limiter.try_acquire("freshbooks:a") is None
    assert await limiter.try_acquire("freshbooks:a") == pytest.approx(4.0)
    # With ten in the window, a background caller waits for five to leave (10 - 6 + 1).
    assert await limiter.try_acquire("freshbooks:a", share=0.6) == pytest.approx(8.0)


def test_a_negative_jitter_allowance_is_refused() -> None:
    with pytest.raises(ValueError, match="jitter"):
        Budget(limit=1, window=WINDOW, jitter=timedelta(seconds=-1))


@pytest.mark.anyio
async def test_pause_holds_every_booking_until_retry_after(
    engine: AsyncEngine, clock: FixedClock
) -> None:
    limiter = DbRateLimiter(engine, clock=clock)
    await limiter.pause("ramp:a", clock() + timedelta(seconds=30))
    assert await limiter.try_acquire("ramp:a") == pytest.approx(30.0)
    clock.advance(30)
    assert await limiter.try_acquire("ramp:a") is None


def test_unknown_key_prefix_is_an_error() -> None:
    limiter = DbRateLimiter(None, clock=FixedClock.__new__(FixedClock))  # type: ignore[arg-type]
    with pytest.raises(KeyError, match="no request budget"):
        limiter.budget_for("stripe:1")
    ramp = limiter.budget_for("ramp:x")
    assert (ramp.limit, ramp.window) == (200, timedelta(seconds=10))
    assert ramp.span > ramp.window  # room for requests arriving closer than they left
