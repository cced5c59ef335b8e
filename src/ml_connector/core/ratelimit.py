"""The request-budget interface clients call before every HTTP request.

Pure: an in-process sliding window lives in `clients.ratelimit`; the store provides one
shared by every worker through the database, so "200 Ramp requests in any 10 s per
business" holds across processes and machines.
"""

from __future__ import annotations

from typing import Protocol


class RateLimiter(Protocol):
    """Waits until one more request under `key` fits the budget, then books it."""

    async def acquire(self, key: str) -> None:
        """Return once a request under `key` may be sent; the slot is consumed."""
        ...


__all__ = ["RateLimiter"]
