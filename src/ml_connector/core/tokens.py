"""OAuth token values and the token-store interface both API clients depend on.

Pure: the `TokenStore` protocol is implemented in memory by
`ml_connector.clients.tokens.InMemoryTokenStore` (tests, one process) and durably,
encrypted and across processes by the store layer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Protocol


@dataclass(frozen=True, kw_only=True)
class TokenSet:
    """One access token (and, for FreshBooks, its single-use refresh token).

    `version` is assigned by the token store: it grows by one each time a new set is
    persisted, which is how a worker that lost a refresh race notices the winner's set.
    Secrets are kept out of `repr` so a stray log line cannot leak them.
    """

    access_token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    expires_at: datetime
    scope: str | None = None
    token_type: str = "Bearer"  # noqa: S105 - a scheme name, not a secret
    version: int = 0

    def expires_within(self, now: datetime, margin: timedelta) -> bool:
        """True when the token is expired or will be within `margin` of `now`."""
        return self.expires_at - margin <= now

    def with_version(self, version: int) -> TokenSet:
        return replace(self, version=version)

    @property
    def scopes(self) -> frozenset[str]:
        return frozenset((self.scope or "").split())


Renew = Callable[[TokenSet | None], Awaitable[TokenSet]]
"""Obtain a fresh token set given the current one (None when nothing is stored yet)."""


class TokenStore(Protocol):
    """Where a connection's tokens live, and the one place a refresh is serialized.

    Contract of `refresh` (both implementations must honour it):

    1. At most one `renew` runs per key at a time, across every worker sharing the store.
    2. If the stored set's `version` differs from `stale.version` (someone else refreshed
       since the caller read it), the stored set is returned and `renew` is not called.
    3. Otherwise `renew(current)` is called with no database transaction open, and its
       result is persisted (version + 1) *before* it is returned, so a rotated single-use
       refresh token is never held only in memory.
    4. If `renew` raises `InvalidGrantError`, the store re-reads once: a newer set (another
       worker won) is returned; otherwise the error propagates and the caller marks the
       connection as needing reconnection.
    """

    async def load(self, key: str) -> TokenSet | None:
        """The current token set for `key`, or None."""
        ...

    async def save(self, key: str, tokens: TokenSet) -> TokenSet:
        """Persist a set obtained outside `refresh` (e.g. a code exchange); returns it with its version."""
        ...

    async def refresh(self, key: str, *, stale: TokenSet | None, renew: Renew) -> TokenSet:
        """Replace `stale` by a fresh set, exactly once across workers (see class docs)."""
        ...


__all__ = ["Renew", "TokenSet", "TokenStore"]
