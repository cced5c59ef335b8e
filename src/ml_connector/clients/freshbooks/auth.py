"""The FreshBooks bearer-token auth flow: refresh ahead of expiry and once on 401.

Refreshing is delegated to `TokenStore.refresh`, which owns the two hard guarantees —
one refresh at a time per connection across workers, and the rotated pair persisted
before anyone uses it. This flow only decides *when* to ask for one: when the stored
access token is within `refresh_margin` of expiry, and when FreshBooks answers 401 to
a token we believed valid. It passes the set it actually used as `stale`, so a caller
that lost a race receives the winner's set instead of spending a refresh token again.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator
from datetime import timedelta
from typing import NoReturn

import httpx2

from ml_connector.clients.freshbooks.errors import SYSTEM
from ml_connector.clients.freshbooks.oauth import FreshBooksOAuth
from ml_connector.core.clock import Clock
from ml_connector.core.errors import AuthError, InvalidGrantError
from ml_connector.core.tokens import Renew, TokenSet, TokenStore

DEFAULT_REFRESH_MARGIN = timedelta(minutes=5)


def renew_with(oauth: FreshBooksOAuth) -> Renew:
    """The `renew` callback the token store runs: spend the stored refresh token."""

    async def renew(current: TokenSet | None) -> TokenSet:
        if current is None or not current.refresh_token:
            raise InvalidGrantError(
                "no FreshBooks refresh token is stored; reconnect FreshBooks", system=SYSTEM
            )
        return await oauth.refresh(current.refresh_token)

    return renew


class FreshBooksAuth(httpx2.Auth):
    """`Authorization: Bearer …` from the token store, refreshed through the store."""

    # The body is buffered so the request can be sent a second time after a 401.
    requires_request_body = True

    def __init__(
        self,
        *,
        store: TokenStore,
        key: str,
        renew: Renew,
        clock: Clock,
        refresh_margin: timedelta = DEFAULT_REFRESH_MARGIN,
    ) -> None:
        self._store = store
        self._key = key
        self._renew = renew
        self._clock = clock
        self._margin = refresh_margin

    def __repr__(self) -> str:
        return f"FreshBooksAuth(key={self._key!r})"

    async def usable_tokens(self) -> TokenSet:
        """The stored set, refreshed first when it is within the margin of expiry."""
        tokens = await self._store.load(self._key)
        if tokens is None:
            raise AuthError("FreshBooks is not connected (no tokens stored)", system=SYSTEM)
        if tokens.expires_within(self._clock(), self._margin):
            tokens = await self._store.refresh(self._key, stale=tokens, renew=self._renew)
        return tokens

    async def refreshed_after_rejection(self, rejected: TokenSet) -> tuple[TokenSet, bool]:
        """A set newer than `rejected`, and whether this call renewed it (vs. another worker)."""
        renewed = False

        async def renew(current: TokenSet | None) -> TokenSet:
            nonlocal renewed
            renewed = True
            return await self._renew(current)

        fresh = await self._store.refresh(self._key, stale=rejected, renew=renew)
        return fresh, renewed

    def sync_auth_flow(
        self, request: httpx2.Request
    ) -> Generator[httpx2.Request, httpx2.Response, None]:
        return self._async_only()

    def _async_only(self) -> NoReturn:
        raise TypeError("FreshBooksAuth works with httpx2.AsyncClient only")

    async def async_auth_flow(
        self, request: httpx2.Request
    ) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        tokens = await self.usable_tokens()
        request.headers["Authorization"] = f"Bearer {tokens.access_token}"
        response = yield request
        # A set another worker stored may itself be stale by the time we use it; only a
        # 401 to a set this flow renewed itself is final (so a bad grant never loops).
        for _ in range(_MAX_ROUNDS):
            if response.status_code != 401:
                return
            await response.aread()
            tokens, renewed_here = await self.refreshed_after_rejection(tokens)
            request.headers["Authorization"] = f"Bearer {tokens.access_token}"
            response = yield request
            if renewed_here:
                return


_MAX_ROUNDS = 3
"""Bound on renewals per request; only others' stale sets can make it go past one."""


__all__ = ["DEFAULT_REFRESH_MARGIN", "FreshBooksAuth", "renew_with"]
