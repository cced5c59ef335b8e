"""Bearer authentication for Ramp with client-credentials tokens kept in the token store.

Client-credentials tokens live 10 days and cannot be refreshed, only re-minted. The flow
re-mints ahead of expiry (`renew_margin`), and once more when Ramp answers 401 (the token
was revoked, or another worker minted a newer one). Every renewal goes through
`TokenStore.refresh`, so across workers sharing the store only one of them calls Ramp's
token endpoint and the others pick up its token.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Generator
from datetime import timedelta

import httpx2

from ml_connector.core.clock import Clock
from ml_connector.core.tokens import TokenSet, TokenStore

FetchToken = Callable[[], Awaitable[TokenSet]]
"""Mint a new client-credentials token (one call to `POST /developer/v1/token`)."""


class ClientCredentialsAuth(httpx2.Auth):
    """An `httpx2.Auth` flow: attach a live token, renew ahead of expiry and once on 401."""

    def __init__(
        self,
        *,
        token_store: TokenStore,
        token_key: str,
        fetch_token: FetchToken,
        clock: Clock,
        renew_margin: timedelta,
    ) -> None:
        if renew_margin < timedelta(0):
            raise ValueError("renew_margin cannot be negative")
        self._store = token_store
        self._key = token_key
        self._fetch = fetch_token
        self._clock = clock
        self._margin = renew_margin
        self._cached: TokenSet | None = None

    def __repr__(self) -> str:
        return f"ClientCredentialsAuth(token_key={self._key!r})"

    async def _renew(self, _current: TokenSet | None) -> TokenSet:
        return await self._fetch()

    def _usable(self, tokens: TokenSet | None) -> bool:
        return tokens is not None and not tokens.expires_within(self._clock(), self._margin)

    async def token(self) -> TokenSet:
        """A token that will not expire within the renewal margin, minted only if needed."""
        if self._cached is not None and self._usable(self._cached):
            return self._cached
        stored = await self._store.load(self._key)
        if stored is None or not self._usable(stored):
            stored = await self._store.refresh(self._key, stale=stored, renew=self._renew)
        self._cached = stored
        return stored

    async def renew_after_rejection(self, rejected: TokenSet) -> tuple[TokenSet, bool]:
        """Replace a token Ramp refused (a newer one another worker stored is reused);
        also says whether this call minted it."""
        minted = False

        async def renew(current: TokenSet | None) -> TokenSet:
            nonlocal minted
            minted = True
            return await self._renew(current)

        fresh = await self._store.refresh(self._key, stale=rejected, renew=renew)
        self._cached = fresh
        return fresh, minted

    async def async_auth_flow(
        self, request: httpx2.Request
    ) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        tokens = await self.token()
        request.headers["Authorization"] = f"Bearer {tokens.access_token}"
        response = yield request
        # A token another worker stored may already be stale; only a 401 to a token this
        # flow minted itself is final (so a revoked client never loops).
        for _ in range(_MAX_ROUNDS):
            if response.status_code != 401:
                return
            await response.aread()
            tokens, minted_here = await self.renew_after_rejection(tokens)
            request.headers["Authorization"] = f"Bearer {tokens.access_token}"
            response = yield request
            if minted_here:
                return

    def sync_auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, httpx2.Response]:
        # Without this, httpx2's default sync flow would send the request unauthenticated.
        raise RuntimeError("ClientCredentialsAuth works with httpx2.AsyncClient only")


_MAX_ROUNDS = 3
"""Bound on renewals per request; only others' stale sets can make it go past one."""


__all__ = ["ClientCredentialsAuth", "FetchToken"]
