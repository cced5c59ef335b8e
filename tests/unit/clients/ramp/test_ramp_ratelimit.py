from __future__ import annotations

from datetime import UTC, datetime, timedelta

import anyio
import httpx2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ml_connector.clients.ratelimit import RateLimitedTransport, SlidingWindowLimiter


class ManualTime:
    """A monotonic clock that only moves when the limiter sleeps or the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def wall(self) -> datetime:
        return datetime(2026, 11, 27, tzinfo=UTC) + timedelta(seconds=self.now)

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def max_in_any_window(stamps: list[float], window: float) -> int:
    """The most stamps in any closed interval of length `window` (what a strict server counts)."""
    ordered = sorted(stamps)
    best = 0
    start = 0
    for end, stamp in enumerate(ordered):
        while stamp - ordered[start] > window:
            start += 1
        best = max(best, end - start + 1)
    return best


async def _acquire_all(limiter: SlidingWindowLimiter, time: ManualTime, n: int) -> list[float]:
    stamps = []
    for _ in range(n):
        await limiter.acquire("ramp:b1")
        stamps.append(time.now)
    return stamps


@pytest.mark.anyio
async def test_burst_is_spread_so_no_window_exceeds_the_limit() -> None:
    time = ManualTime()
    limiter = SlidingWindowLimiter(limit=180, window=10.0, clock=time, sleep=time.sleep)
    stamps = await _acquire_all(limiter, time, 450)
    assert max_in_any_window(stamps, 10.0) == 180
    assert stamps[179] == stamps[0]  # the first 180 go at once
    assert stamps[180] > stamps[0] + 10.0  # the 181st waits for the first to age out
    assert time.now - stamps[0] < 30.0  # and no longer than needed (3 windows for 450)


@pytest.mark.anyio
async def test_a_share_leaves_the_rest_of_the_window_to_full_callers() -> None:
    time = ManualTime()
    limiter = SlidingWindowLimiter(limit=10, window=10.0, clock=time, sleep=time.sleep)
    for _ in range(6):
        await limiter.acquire("fb:a", share=0.6)
    assert time.slept == []
    await limiter.acquire("fb:a", share=0.6)  # a 7th background request waits ...
    assert time.slept
    assert time.now == pytest.approx(1010.0, abs=0.01)  # ... for the first to age out
    waited = len(time.slept)
    for _ in range(4):
        await limiter.acquire("fb:a")  # the other 4 slots were left to full callers
    assert len(time.slept) == waited
    with pytest.raises(ValueError, match="share"):
        await limiter.acquire("fb:a", share=0)


@pytest.mark.anyio
async def test_keys_have_separate_budgets() -> None:
    time = ManualTime()
    limiter = SlidingWindowLimiter(limit=2, window=10.0, clock=time, sleep=time.sleep)
    for key in ("ramp:a", "ramp:a", "ramp:b", "ramp:b"):
        await limiter.acquire(key)
    assert time.slept == []
    assert limiter.in_window("ramp:a") == 2
    await limiter.acquire("ramp:a")
    assert time.slept  # the third for "a" had to wait
    assert limiter.in_window("ramp:b") == 0  # "b"'s requests aged out while "a" waited


@pytest.mark.anyio
async def test_concurrent_callers_share_the_budget() -> None:
    time = ManualTime()
    limiter = SlidingWindowLimiter(limit=5, window=10.0, clock=time, sleep=time.sleep)
    stamps: list[float] = []

    async def worker() -> None:
        for _ in range(4):
            await limiter.acquire("ramp:b1")
            stamps.append(time.now)

    async with anyio.create_task_group() as tg:
        for _ in range(5):
            tg.start_soon(worker)
    assert len(stamps) == 20
    assert max_in_any_window(stamps, 10.0) == 5


@settings(max_examples=60, deadline=None)
@given(
    limit=st.integers(1, 12),
    gaps=st.lists(st.floats(0, 4, allow_nan=False), min_size=1, max_size=80),
)
def test_no_window_ever_exceeds_the_limit(limit: int, gaps: list[float]) -> None:
    async def scenario() -> list[float]:
        time = ManualTime()
        limiter = SlidingWindowLimiter(limit=limit, window=10.0, clock=time, sleep=time.sleep)
        stamps = []
        for gap in gaps:
            time.now += gap
            await limiter.acquire("k")
            stamps.append(time.now)
        return stamps

    stamps = anyio.run(scenario)
    assert max_in_any_window(stamps, 10.0) <= limit


def test_invalid_configuration_is_refused() -> None:
    with pytest.raises(ValueError, match="limit"):
        SlidingWindowLimiter(limit=0)
    with pytest.raises(ValueError, match="window"):
        SlidingWindowLimiter(window=0)


@pytest.mark.anyio
async def test_transport_books_a_slot_per_request() -> None:
    booked: list[str] = []

    class Recorder:
        async def acquire(self, key: str, *, share: float = 1.0) -> None:
            booked.append(key)

    inner = httpx2.MockTransport(lambda request: httpx2.Response(204))
    transport = RateLimitedTransport(inner, limiter=Recorder(), key="ramp:b1")
    async with httpx2.AsyncClient(transport=transport) as client:
        for _ in range(3):
            await client.get("https://api.ramp.com/developer/v1/bills")
    assert booked == ["ramp:b1"] * 3


@pytest.mark.anyio
async def test_pause_holds_back_every_caller_of_the_key() -> None:
    time = ManualTime()
    limiter = SlidingWindowLimiter(
        limit=100, window=10.0, clock=time, wall_clock=time.wall, sleep=time.sleep
    )
    await limiter.pause("ramp:b1", time.wall() + timedelta(seconds=7))
    await limiter.pause("ramp:b1", time.wall() + timedelta(seconds=3))  # never shortens
    await limiter.pause("ramp:b1", time.wall() - timedelta(seconds=30))  # past: no effect
    start = time.now
    await limiter.acquire("ramp:b2")
    assert time.now == start  # other keys are not paused
    await limiter.acquire("ramp:b1")
    assert time.now == start + 7.0


@pytest.mark.anyio
async def test_transport_pauses_the_key_on_429_retry_after() -> None:
    time = ManualTime()
    limiter = SlidingWindowLimiter(
        limit=100, window=10.0, clock=time, wall_clock=time.wall, sleep=time.sleep
    )
    answers = iter([httpx2.Response(429, headers={"Retry-After": "5"}), httpx2.Response(200)])
    sent_at: list[float] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        sent_at.append(time.now)
        return next(answers)

    transport = RateLimitedTransport(
        httpx2.MockTransport(handler), limiter=limiter, key="k", clock=time.wall
    )
    async with httpx2.AsyncClient(transport=transport) as client:
        assert (await client.get("https://api.ramp.com/x")).status_code == 429
        assert (await client.get("https://api.ramp.com/x")).status_code == 200
    assert sent_at[1] - sent_at[0] == 5.0


@pytest.mark.anyio
async def test_transport_caps_a_huge_retry_after() -> None:
    time = ManualTime()
    limiter = SlidingWindowLimiter(
        limit=100, window=10.0, clock=time, wall_clock=time.wall, sleep=time.sleep
    )
    inner = httpx2.MockTransport(lambda r: httpx2.Response(429, headers={"Retry-After": "3600"}))
    transport = RateLimitedTransport(
        inner, limiter=limiter, key="k", clock=time.wall, max_pause=60.0
    )
    async with httpx2.AsyncClient(transport=transport) as client:
        await client.get("https://api.ramp.com/x")
    start = time.now
    await limiter.acquire("k")
    assert time.now - start == 60.0
