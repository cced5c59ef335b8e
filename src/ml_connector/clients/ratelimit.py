"""In-process request budgets, and the transport that spends them on every request.

Ramp allows 200 requests per business in any rolling 10-second window. A sliding window
of timestamps is the exact model of that rule; with a safety margin below the vendor's
number, clock skew and a request the vendor counts but we did not (another tool using the
same API client) do not push us over. Several processes sharing one budget use the
store's database-backed limiter through the same `core.ratelimit.RateLimiter` protocol.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

import anyio
import httpx2

from ml_connector.clients.http import parse_retry_after
from ml_connector.core.clock import Clock, system_clock
from ml_connector.core.ratelimit import RateLimiter, share_of

Monotonic = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

RAMP_LIMIT = 200
RAMP_WINDOW_SECONDS = 10.0
DEFAULT_RAMP_BUDGET = 180
"""10 % below Ramp's published limit: room for requests we do not see."""

_BOUNDARY_GUARD = 0.001
"""A request exactly `window` seconds old may still be counted by the vendor; wait past it."""

MAX_PAUSE_SECONDS = 60.0
"""Longer `Retry-After` hints are left to the job queue rather than parking every caller."""


@runtime_checkable
class PausableLimiter(Protocol):
    """A limiter that can also hold every caller of a key back for a while (after a 429)."""

    async def pause(self, key: str, until: datetime) -> None:
        """No acquisition under `key` returns before `until` (same shape as the store's)."""
        ...


class SlidingWindowLimiter:
    """At most `limit` acquisitions per key in any `window` seconds, in one process.

    Waiters on one key queue behind a lock, so they are served in arrival order and a
    burst cannot starve an earlier caller. `clock` (monotonic seconds), `wall_clock` (for
    `pause` deadlines) and `sleep` are injected so tests can drive time by hand (and keep
    an emulator's clock in step) instead of waiting.
    """

    def __init__(
        self,
        *,
        limit: int = DEFAULT_RAMP_BUDGET,
        window: float = RAMP_WINDOW_SECONDS,
        clock: Monotonic = time.monotonic,
        wall_clock: Clock = system_clock,
        sleep: Sleep = anyio.sleep,
    ) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        if window <= 0:
            raise ValueError("window must be positive")
        self.limit = limit
        self.window = window
        self._clock = clock
        self._wall_clock = wall_clock
        self._sleep = sleep
        self._stamps: dict[str, deque[float]] = {}
        self._locks: dict[str, anyio.Lock] = {}
        self._paused_until: dict[str, float] = {}

    def in_window(self, key: str) -> int:
        """How many acquisitions under `key` still count against the window now."""
        stamps = self._stamps.get(key)
        if stamps is None:
            return 0
        self._expire(stamps, self._clock())
        return len(stamps)

    async def pause(self, key: str, until: datetime) -> None:
        """Hold back every caller of `key` until `until` (a vendor's `Retry-After`)."""
        seconds = (until - self._wall_clock()).total_seconds()
        if seconds > 0:
            resume = self._clock() + seconds
            self._paused_until[key] = max(self._paused_until.get(key, resume), resume)

    async def acquire(self, key: str, *, share: float = 1.0) -> None:
        allowed = share_of(self.limit, share)
        lock = self._locks.setdefault(key, anyio.Lock())
        async with lock:
            stamps = self._stamps.setdefault(key, deque())
            while True:
                now = self._clock()
                paused = self._paused_until.get(key, now) - now
                if paused > 0:
                    await self._sleep(paused)
                    continue
                self._expire(stamps, now)
                if len(stamps) < allowed:
                    stamps.append(now)
                    return
                # The booking whose leaving makes room for this share goes first.
                wait = stamps[len(stamps) - allowed] + self.window - now + _BOUNDARY_GUARD
                await self._sleep(max(wait, _BOUNDARY_GUARD))

    def _expire(self, stamps: deque[float], now: float) -> None:
        while stamps and now - stamps[0] > self.window:
            stamps.popleft()


class RateLimitedTransport(httpx2.AsyncBaseTransport):
    """Books a slot under `key` before handing each request to the wrapped transport.

    It sits below authentication and retries, so token calls, the resend after a 401
    and every retry are counted: the budget sees exactly what the vendor sees. A 429's
    `Retry-After` pauses the whole key when the limiter can pause, so every task sharing
    the budget backs off, not only the one that was refused.
    """

    def __init__(
        self,
        inner: httpx2.AsyncBaseTransport,
        *,
        limiter: RateLimiter,
        key: str,
        clock: Clock = system_clock,
        max_pause: float = MAX_PAUSE_SECONDS,
    ) -> None:
        self._inner = inner
        self._limiter = limiter
        self._key = key
        self._clock = clock
        self._max_pause = max_pause

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        await self._limiter.acquire(self._key)
        response = await self._inner.handle_async_request(request)
        if response.status_code == 429 and isinstance(self._limiter, PausableLimiter):
            hint = parse_retry_after(response.headers.get("Retry-After"), self._clock())
            if hint is not None:
                pause = timedelta(seconds=min(hint, self._max_pause))
                await self._limiter.pause(self._key, self._clock() + pause)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


__all__ = [
    "DEFAULT_RAMP_BUDGET",
    "MAX_PAUSE_SECONDS",
    "RAMP_LIMIT",
    "RAMP_WINDOW_SECONDS",
    "PausableLimiter",
    "RateLimitedTransport",
    "SlidingWindowLimiter",
]
