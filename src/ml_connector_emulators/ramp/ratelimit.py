"""Ramp's rolling-window request budget (200 requests per 10 s per business by default).

Only accepted requests spend the budget, so a client that backs off on 429 gets back in
as soon as the oldest accepted request leaves the window. Separately, every request that
reached the limiter (accepted or refused) is counted to report the most requests a
client ever sent inside one window: that is the number a well-behaved connector keeps at
or under the limit, and it would be useless if refusals were left out.
"""

from __future__ import annotations

import math
from collections import deque
from datetime import datetime, timedelta

from ml_connector_emulators.clock import EmulatorClock


class RollingWindowLimiter:
    def __init__(self, clock: EmulatorClock, limit: int = 200, window_seconds: int = 10) -> None:
        self._clock = clock
        self.limit = limit
        self.window = timedelta(seconds=window_seconds)
        self._accepted: dict[str, deque[datetime]] = {}
        self._seen: dict[str, deque[datetime]] = {}
        self.max_seen: dict[str, int] = {}
        self.refused: dict[str, int] = {}

    def configure(self, limit: int, window_seconds: int) -> None:
        self.limit = limit
        self.window = timedelta(seconds=window_seconds)

    def admit(self, key: str) -> int | None:
        """Record one request; `None` if admitted, else the seconds to wait before retrying."""
        now = self._clock.now()
        horizon = now - self.window
        seen = self._seen.setdefault(key, deque())
        seen.append(now)
        _expire(seen, horizon)
        self.max_seen[key] = max(self.max_seen.get(key, 0), len(seen))
        accepted = self._accepted.setdefault(key, deque())
        _expire(accepted, horizon)
        if len(accepted) >= self.limit:
            self.refused[key] = self.refused.get(key, 0) + 1
            wait = (accepted[0] + self.window - now).total_seconds()
            return max(1, math.ceil(wait))
        accepted.append(now)
        return None

    def reset(self) -> None:
        self._accepted.clear()
        self._seen.clear()
        self.max_seen.clear()
        self.refused.clear()


def _expire(stamps: deque[datetime], horizon: datetime) -> None:
    while stamps and stamps[0] <= horizon:
        stamps.popleft()
