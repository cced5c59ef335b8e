"""The request-budget interface clients call before every HTTP request.

Pure: an in-process sliding window lives in `clients.ratelimit`; the store provides one
shared by every worker through the database, so "200 Ramp requests in any 10 s per
business" holds across processes and machines.
"""

from __future__ import annotations

from typing import Protocol


class RateLimiter(Protocol):
    """Waits until one more request under `key` fits the budget, then books it."""

    async def acquire(self, key: str, *, share: float = 1.0) -> None:
        """Return once a request under `key` may be sent; the slot is consumed.

        `share` < 1 books only while the window holds fewer than that share of the limit:
        background work (listings) leaves the rest to the requests a sync is waiting on.
        """
        ...


def share_of(limit: int, share: float) -> int:
    """How many bookings a caller with `share` may find in the window and still book."""
    if not 0 < share <= 1:
        raise ValueError("a budget share is in (0, 1]")
    return max(1, int(limit * share))


__all__ = ["RateLimiter", "share_of"]
