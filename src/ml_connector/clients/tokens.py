"""In-process token store: the single-flight refresh contract of `core.tokens.TokenStore`."""

from __future__ import annotations

import anyio

from ml_connector.core.errors import InvalidGrantError
from ml_connector.core.tokens import Renew, TokenSet


class InMemoryTokenStore:
    """Tokens in a dict, refreshes serialized per key with an anyio lock.

    Good for tests and for one-process tools; the durable store replaces it in `serve`.
    """

    def __init__(self) -> None:
        self._tokens: dict[str, TokenSet] = {}
        self._locks: dict[str, anyio.Lock] = {}
        self.renewals = 0
        """How many times `renew` was actually called (tests assert single-flight on it)."""

    async def load(self, key: str) -> TokenSet | None:
        return self._tokens.get(key)

    async def save(self, key: str, tokens: TokenSet) -> TokenSet:
        current = self._tokens.get(key)
        stored = tokens.with_version((current.version if current else 0) + 1)
        self._tokens[key] = stored
        return stored

    async def refresh(self, key: str, *, stale: TokenSet | None, renew: Renew) -> TokenSet:
        lock = self._locks.setdefault(key, anyio.Lock())
        async with lock:
            current = self._tokens.get(key)
            if current is not None and (stale is None or current.version != stale.version):
                return current
            try:
                self.renewals += 1
                fresh = await renew(current)
            except InvalidGrantError:
                newer = self._tokens.get(key)
                if newer is not None and current is not None and newer.version != current.version:
                    return newer
                raise
            return await self.save(key, fresh)


__all__ = ["InMemoryTokenStore"]
