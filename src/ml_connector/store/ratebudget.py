"""Request budgets shared by every worker through the database (`core.ratelimit.RateLimiter`).

A sliding window: each request books a row `(key, booked_at)`. To book, a worker locks
the key's row in `rate_keys` (PostgreSQL: `SELECT … FOR UPDATE`; SQLite: the write
transaction's lock), counts the bookings inside the window and either books or learns
when the oldest booking leaves the window. It then sleeps *outside* the transaction.
So "never more than 200 Ramp requests in any 10 s per business" holds across processes
and machines, as far as their clocks agree.

A vendor's 429 stays the final authority: `pause(key, until)` stops every worker from
booking under that key until the given time.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import anyio
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ml_connector.core.clock import Clock
from ml_connector.core.ratelimit import share_of
from ml_connector.store.engine import read
from ml_connector.store.schema import rate_bookings, rate_keys

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, kw_only=True)
class Budget:
    """At most `limit` requests in any `window`, as the vendor counts them.

    We book a request when it leaves; the vendor counts it when it arrives, some
    latency later, and that latency varies (network, a busy event loop on either side).
    Requests booked in one window can so arrive closer together than they left and make
    201 in the vendor's window. `jitter` is how much the delay may vary: bookings are
    counted over `window + jitter`, so the vendor's window never sees more than `limit`
    as long as the delays differ by less than that. Each 429 holds every caller of the
    key back for at least a second (`Retry-After`), which costs more than the jitter.
    """

    limit: int
    window: timedelta
    jitter: timedelta = timedelta(0)

    def __post_init__(self) -> None:
        if self.limit < 1 or self.window <= timedelta(0):
            raise ValueError("a budget needs a positive limit and window")
        if self.jitter < timedelta(0):
            raise ValueError("a budget's jitter allowance cannot be negative")

    @property
    def span(self) -> timedelta:
        """The window bookings are counted over."""
        return self.window + self.jitter


# Ramp: "200 requests per 10-second rolling window" (reference/ramp-api.md §3.4). The
# jitter allowance comes from the backfill benchmark: with bookings stamped once the key
# is locked and the emulator counting on arrival, no allowance let 201 into its window
# (5 429s in a 2,000-bill run); 0.1 s kept it at 200. (Stamped before the lock wait and
# counted after the emulator's own latency sleep, it was 207 and 23-35 429s.)
# FreshBooks publishes no limit; observed headers and SDK behaviour suggest staying
# at or under ~5 requests per second per account (reference/freshbooks-api.md §7.2).
DEFAULT_BUDGETS: Mapping[str, Budget] = {
    "ramp": Budget(limit=200, window=timedelta(seconds=10), jitter=timedelta(seconds=0.1)),
    "freshbooks": Budget(limit=50, window=timedelta(seconds=10)),
}


class DbRateLimiter:
    """Sliding-window request budgets per key, shared through the database.

    Keys look like ``ramp:<business id>`` or ``freshbooks:<account id>``; the part before
    the first colon picks the budget from `budgets`.

    Args:
        engine: the shared database.
        clock: injected time; bookings are stamped with it.
        sleep: injected sleep used while the window is full.
        budgets: budget per key prefix.
        retention: how long bookings are kept before pruning (at least the window).
    """

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        clock: Clock,
        sleep: Sleep = anyio.sleep,
        budgets: Mapping[str, Budget] = DEFAULT_BUDGETS,
        retention: timedelta | None = None,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._sleep = sleep
        self._budgets = dict(budgets)
        self._retention = retention

    def budget_for(self, key: str) -> Budget:
        prefix = key.split(":", 1)[0]
        try:
            return self._budgets[prefix]
        except KeyError:
            raise KeyError(f"no request budget for {prefix!r} keys") from None

    async def acquire(self, key: str, *, share: float = 1.0) -> None:
        budget = self.budget_for(key)
        while True:
            wait = await self.try_acquire(key, budget, share=share)
            if wait is None:
                return
            await self._sleep(wait)

    async def try_acquire(
        self, key: str, budget: Budget | None = None, *, share: float = 1.0
    ) -> float | None:
        """Book one request now if it fits (within `share` of the limit, see
        `RateLimiter.acquire`); otherwise the seconds to wait before retrying."""
        budget = budget or self.budget_for(key)
        allowed = share_of(budget.limit, share)
        retention = max(self._retention or budget.span, budget.span)
        async with self._engine.begin() as db:
            paused_until = await _lock_key(db, key)
            # Stamped once the key is ours: a booking stamped before a wait for the lock
            # (SQLite's one writer is busy under load) would record a time the request
            # never left at, and bookings would cluster closer than the requests do.
            now = self._clock()
            window_start = now - budget.span
            if paused_until is not None and paused_until > now:
                return max((paused_until - now).total_seconds(), 0.001)
            await db.execute(
                rate_bookings.delete().where(
                    rate_bookings.c.key == key, rate_bookings.c.booked_at <= now - retention
                )
            )
            in_window = sa.and_(
                rate_bookings.c.key == key, rate_bookings.c.booked_at > window_start
            )
            used, oldest = (
                await db.execute(
                    sa.select(sa.func.count(), sa.func.min(rate_bookings.c.booked_at)).where(
                        in_window
                    )
                )
            ).one()
            if used >= allowed:
                # Which booking leaves the window next decides the wait: with `used`
                # bookings and room for `allowed`, the (used - allowed + 1)-th oldest must go.
                nth = (
                    await db.execute(
                        sa.select(rate_bookings.c.booked_at)
                        .where(in_window)
                        .order_by(rate_bookings.c.booked_at)
                        .offset(used - allowed)
                        .limit(1)
                    )
                ).scalar_one_or_none() or oldest
                wait: float = max((nth + budget.span - now).total_seconds(), 0.001)
                return wait
            await db.execute(rate_bookings.insert().values(key=key, booked_at=now))
            return None

    async def pause(self, key: str, until: datetime) -> None:
        """Hold every booking under `key` until `until` (a vendor's Retry-After)."""
        async with self._engine.begin() as db:
            current = await _lock_key(db, key)
            if current is None or current < until:
                await db.execute(
                    rate_keys.update().where(rate_keys.c.key == key).values(paused_until=until)
                )

    async def bookings(self, key: str) -> list[datetime]:
        """The booked request times still kept for `key`, oldest first (status, tests)."""
        async with read(self._engine) as db:
            result = await db.execute(
                sa.select(rate_bookings.c.booked_at)
                .where(rate_bookings.c.key == key)
                .order_by(rate_bookings.c.booked_at)
            )
            return list(result.scalars())


async def _lock_key(db: AsyncConnection, key: str) -> datetime | None:
    """Ensure the key's row exists and lock it; returns its `paused_until`."""
    insert = postgresql.insert if db.dialect.name == "postgresql" else sqlite.insert
    await db.execute(
        insert(rate_keys).values(key=key).on_conflict_do_nothing(index_elements=["key"])
    )
    result = await db.execute(
        sa.select(rate_keys.c.paused_until).where(rate_keys.c.key == key).with_for_update()
    )
    paused: datetime | None = result.scalar_one()
    return paused


__all__ = ["DEFAULT_BUDGETS", "Budget", "DbRateLimiter"]
