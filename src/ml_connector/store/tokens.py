"""The durable, encrypted `core.tokens.TokenStore`, shared by every worker and machine.

A refresh follows `TokenStore`'s contract point by point:

1. single flight: an in-process lock per key, then a refresh lease on the token row
   (`refresh_owner`, `refresh_lease_until`) taken in a short write transaction, guarded
   by the row's `version`. A worker that finds a live lease held by someone else polls
   and re-reads until the version moves (then returns the winner's set) or the lease
   expires (then it takes over: the holder died).
2. a stored `version` different from the caller's stale one is returned as is.
3. `renew` runs with no transaction open (on SQLite an open write transaction would stall
   every webhook ack); its result is committed, version + 1, before it is returned.
4. on `InvalidGrantError` the row is re-read once: a newer set is returned, otherwise the
   error propagates so the caller can mark the connection "needs reconnect".

The window between the vendor accepting a single-use refresh token and our commit cannot
be closed; it is kept to one short UPDATE, and a crash there surfaces as invalid_grant on
the next refresh, i.e. "reconnect FreshBooks" in the admin UI.
"""

from __future__ import annotations

import json
import os
import platform
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import anyio
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ml_connector.core.clock import Clock
from ml_connector.core.errors import InvalidGrantError
from ml_connector.core.tokens import Renew, TokenSet
from ml_connector.store.crypto import Cipher
from ml_connector.store.engine import read
from ml_connector.store.schema import oauth_tokens

PURPOSE = "oauth-token"
Sleep = Callable[[float], Awaitable[None]]


def token_key(system: str, connection_id: int) -> str:
    """The conventional key of a connection's tokens, e.g. ``freshbooks:12``."""
    return f"{system}:{connection_id}"


def default_owner() -> str:
    """This process, as named in lease rows (host and pid: who to blame for a stuck lease)."""
    return f"{platform.node() or 'host'}:{os.getpid()}"


def seal(cipher: Cipher, key: str, tokens: TokenSet) -> str:
    payload = {
        "access_token": tokens.access_token,
        "refresh_token": tokens.refresh_token,
        "expires_at": tokens.expires_at.isoformat(),
        "scope": tokens.scope,
        "token_type": tokens.token_type,
    }
    return cipher.encrypt(json.dumps(payload), subject=key, purpose=PURPOSE)


def unseal(cipher: Cipher, key: str, ciphertext: str, version: int) -> TokenSet:
    payload = json.loads(cipher.decrypt(ciphertext, subject=key, purpose=PURPOSE))
    return TokenSet(
        access_token=payload["access_token"],
        refresh_token=payload["refresh_token"],
        expires_at=datetime.fromisoformat(payload["expires_at"]),
        scope=payload["scope"],
        token_type=payload["token_type"],
        version=version,
    )


class DbTokenStore:
    """Tokens in the `oauth_tokens` table, encrypted, refreshed once across workers.

    Args:
        engine: the shared database.
        cipher: the key ring sealing the token sets.
        clock: injected time (lease expiry is computed from it).
        owner: this process's name in lease rows.
        lease: how long a refresher may take before others assume it died; longer than
            the token endpoint's HTTP timeout.
        poll_interval: seconds between re-reads while another worker refreshes.
        sleep: injected sleep for the polling.
        new_id: unique suffix per refresh, so two refreshes in one process never share a lease.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        cipher: Cipher,
        *,
        clock: Clock,
        owner: str | None = None,
        lease: timedelta = timedelta(minutes=2),
        poll_interval: float = 0.25,
        sleep: Sleep = anyio.sleep,
        new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
    ) -> None:
        self._engine = engine
        self._cipher = cipher
        self._clock = clock
        self._owner = owner or default_owner()
        self._lease = lease
        self._poll = poll_interval
        self._sleep = sleep
        self._new_id = new_id
        self._locks: dict[str, anyio.Lock] = {}

    def __repr__(self) -> str:
        return f"DbTokenStore(owner={self._owner!r})"

    async def load(self, key: str) -> TokenSet | None:
        async with read(self._engine) as db:
            row = await _select(db, key)
        return self._decode(key, row)

    async def save(self, key: str, tokens: TokenSet) -> TokenSet:
        for _ in range(3):
            try:
                return await self._save_once(key, tokens)
            except sa.exc.IntegrityError:
                # Two first saves raced to insert the row; the loser updates it instead.
                continue
        return await self._save_once(key, tokens)

    async def _save_once(self, key: str, tokens: TokenSet) -> TokenSet:
        now = self._clock()
        async with self._engine.begin() as db:
            row = await _select(db, key, for_update=True)
            version = (row.version if row is not None else 0) + 1
            values = {
                "ciphertext": seal(self._cipher, key, tokens),
                "expires_at": tokens.expires_at,
                "version": version,
                "updated_at": now,
            }
            if row is None:
                await db.execute(oauth_tokens.insert().values(key=key, **values))
            else:
                await db.execute(
                    oauth_tokens.update().where(oauth_tokens.c.key == key).values(**values)
                )
        return tokens.with_version(version)

    async def forget(self, key: str) -> None:
        """Drop a key's tokens (disconnect)."""
        async with self._engine.begin() as db:
            await db.execute(oauth_tokens.delete().where(oauth_tokens.c.key == key))

    async def refresh(self, key: str, *, stale: TokenSet | None, renew: Renew) -> TokenSet:
        async with self._locks.setdefault(key, anyio.Lock()):
            lease_id = f"{self._owner}:{self._new_id()}"
            while True:
                claimed = await self._try_lease(key, stale, lease_id)
                if isinstance(claimed, TokenSet):
                    return claimed
                if claimed is not None:
                    break
                await self._sleep(self._poll)
            base_version, current = claimed
            try:
                fresh = await renew(current)
            except InvalidGrantError:
                newer = await self._release_and_reread(key, lease_id, base_version)
                if newer is not None:
                    return newer
                raise
            except BaseException:
                with anyio.CancelScope(shield=True):
                    await self._release(key, lease_id)
                raise
            with anyio.CancelScope(shield=True):
                # Shielded: the vendor has already consumed the old refresh token, so the
                # new pair must reach the database even if our caller is being cancelled.
                stored = await self._persist(key, lease_id, base_version, fresh)
            return stored  # noqa: RET504 - outside the shield so mypy sees a return

    async def _try_lease(
        self, key: str, stale: TokenSet | None, lease_id: str
    ) -> TokenSet | tuple[int, TokenSet | None] | None:
        """One short transaction: a set to return, a lease taken, or None (wait)."""
        try:
            return await self._try_lease_once(key, stale, lease_id)
        except sa.exc.IntegrityError:
            # Another worker created the row first; its lease is live, so wait.
            return None

    async def _try_lease_once(
        self, key: str, stale: TokenSet | None, lease_id: str
    ) -> TokenSet | tuple[int, TokenSet | None] | None:
        now = self._clock()
        async with self._engine.begin() as db:
            row = await _select(db, key, for_update=True)
            current = self._decode(key, row)
            if current is not None and (stale is None or current.version != stale.version):
                return current
            if (
                row is not None
                and row.refresh_owner is not None
                and row.refresh_lease_until is not None
                and row.refresh_lease_until > now
            ):
                return None
            lease = {"refresh_owner": lease_id, "refresh_lease_until": now + self._lease}
            if row is None:
                await db.execute(
                    oauth_tokens.insert().values(key=key, version=0, updated_at=now, **lease)
                )
                return (0, None)
            await db.execute(oauth_tokens.update().where(oauth_tokens.c.key == key).values(**lease))
            return (int(row.version), current)

    async def _persist(
        self, key: str, lease_id: str, base_version: int, fresh: TokenSet
    ) -> TokenSet:
        now = self._clock()
        async with self._engine.begin() as db:
            # Guarded by version, not by lease: if our lease expired but nobody else
            # stored a newer set, ours is the only valid pair and must not be dropped.
            result = await db.execute(
                oauth_tokens.update()
                .where(oauth_tokens.c.key == key, oauth_tokens.c.version == base_version)
                .values(
                    ciphertext=seal(self._cipher, key, fresh),
                    expires_at=fresh.expires_at,
                    version=base_version + 1,
                    updated_at=now,
                    **_clear_lease_if_ours(lease_id),
                )
            )
            if result.rowcount:
                return fresh.with_version(base_version + 1)
            # Someone stored a newer set meanwhile (a reconnect, or a takeover after our
            # lease expired): that one is current.
            row = await _select(db, key)
            await db.execute(
                oauth_tokens.update()
                .where(oauth_tokens.c.key == key)
                .values(**_clear_lease_if_ours(lease_id))
            )
        stored = self._decode(key, row)
        if stored is None:
            # The key was forgotten (disconnect) while we refreshed; store ours anew.
            return await self.save(key, fresh)
        return stored

    async def _release(self, key: str, lease_id: str) -> None:
        async with self._engine.begin() as db:
            await db.execute(
                oauth_tokens.update()
                .where(oauth_tokens.c.key == key, oauth_tokens.c.refresh_owner == lease_id)
                .values(refresh_owner=None, refresh_lease_until=None)
            )

    async def _release_and_reread(
        self, key: str, lease_id: str, base_version: int
    ) -> TokenSet | None:
        async with self._engine.begin() as db:
            await db.execute(
                oauth_tokens.update()
                .where(oauth_tokens.c.key == key, oauth_tokens.c.refresh_owner == lease_id)
                .values(refresh_owner=None, refresh_lease_until=None)
            )
            row = await _select(db, key)
        stored = self._decode(key, row)
        if stored is not None and stored.version != base_version:
            return stored
        return None

    def _decode(self, key: str, row: Any) -> TokenSet | None:
        if row is None or row.ciphertext is None:
            return None
        return unseal(self._cipher, key, row.ciphertext, int(row.version))


def _clear_lease_if_ours(lease_id: str) -> dict[str, Any]:
    mine = oauth_tokens.c.refresh_owner == lease_id
    return {
        "refresh_owner": sa.case((mine, None), else_=oauth_tokens.c.refresh_owner),
        "refresh_lease_until": sa.case((mine, None), else_=oauth_tokens.c.refresh_lease_until),
    }


async def _select(db: AsyncConnection, key: str, *, for_update: bool = False) -> Any:
    query = sa.select(oauth_tokens).where(oauth_tokens.c.key == key)
    if for_update:
        query = query.with_for_update()
    return (await db.execute(query)).one_or_none()


__all__ = ["PURPOSE", "DbTokenStore", "default_owner", "seal", "token_key", "unseal"]
