"""Where webhook signing secrets live: encrypted credentials of the connection, one per hook.

- A FreshBooks callback's verifier is the key of every delivery's signature. The
  handshake that carries it is unauthenticated (anyone can POST a form to our URL), so a
  verifier is first stored as *pending*; it becomes trusted only once FreshBooks accepts
  it back in the verify call, which proves the handshake really came from FreshBooks.
- A Ramp subscription's secret arrives in the (authenticated) response to our own
  subscribe call, so it is trusted at once.

Every accepted secret of a connection is tried on each delivery, so a replaced callback
or subscription keeps working while the old one drains.

`WebhookKeyCache` keeps, per process, what the webhook endpoints read for every delivery
(the connection and its decrypted keys) for a few seconds; see its docstring for why
that is safe.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import anyio
from sqlalchemy.ext.asyncio import AsyncConnection

from ml_connector.store import Cipher, read
from ml_connector.store import connections as connections_store
from ml_connector.store import credentials as credentials_store
from ml_connector.store.connections import Connection
from ml_connector.sync.runtime import Runtime

FRESHBOOKS_VERIFIER = "freshbooks_verifier:"
FRESHBOOKS_PENDING_VERIFIER = "freshbooks_verifier_pending:"
RAMP_WEBHOOK_SECRET = "ramp_webhook_secret:"  # noqa: S105 - a credential kind's prefix


async def _with_prefix(
    db: AsyncConnection, cipher: Cipher, connection_id: int, prefix: str
) -> dict[str, str]:
    found: dict[str, str] = {}
    for kind in await credentials_store.kinds(db, connection_id=connection_id):
        if not kind.startswith(prefix):
            continue
        secret = await credentials_store.get(db, cipher, connection_id=connection_id, kind=kind)
        if secret is not None:
            found[kind.removeprefix(prefix)] = secret.get_secret_value()
    return found


async def freshbooks_verifiers(
    db: AsyncConnection, cipher: Cipher, connection_id: int
) -> dict[str, str]:
    """Confirmed verifiers by callback id: the keys deliveries may be signed with."""
    return await _with_prefix(db, cipher, connection_id, FRESHBOOKS_VERIFIER)


async def pending_freshbooks_verifier(
    db: AsyncConnection, cipher: Cipher, connection_id: int, callback_id: str
) -> str | None:
    secret = await credentials_store.get(
        db, cipher, connection_id=connection_id, kind=FRESHBOOKS_PENDING_VERIFIER + callback_id
    )
    return None if secret is None else secret.get_secret_value()


async def store_pending_verifier(
    db: AsyncConnection,
    cipher: Cipher,
    *,
    connection_id: int,
    callback_id: str,
    verifier: str,
    now: datetime,
) -> None:
    await credentials_store.put(
        db,
        cipher,
        connection_id=connection_id,
        kind=FRESHBOOKS_PENDING_VERIFIER + callback_id,
        secret=verifier,
        now=now,
    )


async def confirm_verifier(
    db: AsyncConnection,
    cipher: Cipher,
    *,
    connection_id: int,
    callback_id: str,
    verifier: str,
    now: datetime,
) -> None:
    """FreshBooks accepted `verifier`: trust it for deliveries, drop the pending copy."""
    await credentials_store.put(
        db,
        cipher,
        connection_id=connection_id,
        kind=FRESHBOOKS_VERIFIER + callback_id,
        secret=verifier,
        now=now,
    )
    await credentials_store.delete(
        db, connection_id=connection_id, kind=FRESHBOOKS_PENDING_VERIFIER + callback_id
    )


async def forget_freshbooks_callback(
    db: AsyncConnection, *, connection_id: int, callback_id: str
) -> None:
    for prefix in (FRESHBOOKS_VERIFIER, FRESHBOOKS_PENDING_VERIFIER):
        await credentials_store.delete(db, connection_id=connection_id, kind=prefix + callback_id)


async def freshbooks_callback_ids(db: AsyncConnection, connection_id: int) -> set[str]:
    """Callback ids we hold any verifier for (confirmed or pending)."""
    ids: set[str] = set()
    for kind in await credentials_store.kinds(db, connection_id=connection_id):
        for prefix in (FRESHBOOKS_VERIFIER, FRESHBOOKS_PENDING_VERIFIER):
            if kind.startswith(prefix):
                ids.add(kind.removeprefix(prefix))
    return ids


async def ramp_secrets(db: AsyncConnection, cipher: Cipher, connection_id: int) -> dict[str, str]:
    """Signing secrets by Ramp subscription id."""
    return await _with_prefix(db, cipher, connection_id, RAMP_WEBHOOK_SECRET)


async def store_ramp_secret(
    db: AsyncConnection,
    cipher: Cipher,
    *,
    connection_id: int,
    subscription_id: str,
    secret: str,
    now: datetime,
) -> None:
    await credentials_store.put(
        db,
        cipher,
        connection_id=connection_id,
        kind=RAMP_WEBHOOK_SECRET + subscription_id,
        secret=secret,
        now=now,
    )


async def forget_ramp_secret(
    db: AsyncConnection, *, connection_id: int, subscription_id: str
) -> None:
    await credentials_store.delete(
        db, connection_id=connection_id, kind=RAMP_WEBHOOK_SECRET + subscription_id
    )


WEBHOOK_KEYS_TTL = timedelta(seconds=5)
"""How long a process trusts its copy of a connection's webhook keys for *accepting*."""


@dataclass(frozen=True)
class WebhookKeys:
    """A connection as its webhook endpoint sees it, with the keys deliveries are signed with."""

    connection: Connection
    secrets: tuple[str, ...] = field(repr=False)
    loaded_at: datetime


class WebhookKeyCache:
    """Per process: each connection's row and decrypted webhook keys, for `ttl` at most.

    Without it every delivery paid two read transactions and a Fernet decryption before
    its one write. What a stale copy may and may not do:

    - Refusals are never decided on it: the endpoint reloads (`fresh=True`) before
      answering 401 or 403, so a verifier confirmed or an account linked a moment ago is
      honoured at once. Unknown connections are never cached, so 404 is always fresh.
    - Acceptance may rest on it for up to `ttl` (on the injected clock): a key deleted
      or an account unlinked in the meantime is still honoured that long, as it would
      be by a delivery already in flight. A failed commit drops the copy (`forget`).
    - The plaintext keys stay in this process's memory only: they are never logged
      (`repr` omits them), and the process already holds the key ring that decrypts
      every stored secret, so memory gains no new secret; the short `ttl` bounds how
      long a revoked key stays usable, not how long it stays secret.
    """

    def __init__(self, ttl: timedelta = WEBHOOK_KEYS_TTL) -> None:
        self.ttl = ttl
        self._entries: dict[tuple[str, int], WebhookKeys] = {}
        self._locks: dict[tuple[str, int], anyio.Lock] = {}

    async def get(
        self, runtime: Runtime, prefix: str, connection_id: int, *, fresh: bool = False
    ) -> tuple[WebhookKeys, bool]:
        """The keys of `prefix` (`FRESHBOOKS_VERIFIER`, `RAMP_WEBHOOK_SECRET`) and whether
        this call read them from the database; `fresh` always reads.

        Raises:
            ConnectionNotFoundError: no such connection (nothing is cached for it).
        """
        key = (prefix, connection_id)
        if fresh:
            return await self._load(runtime, key), True
        now = runtime.clock()
        cached = self._younger_than(self.ttl, key, now)
        if cached is not None:
            # Past half its life, the first delivery to see the copy reloads it while the
            # others go on using it: a busy endpoint never stops to wait for an expiry.
            lock = self._locks.setdefault(key, anyio.Lock())
            if lock.locked() or self._younger_than(self.ttl / 2, key, now) is not None:
                return cached, False
        elif key not in self._entries:
            # No lock for a connection never seen: ids probed at random leave nothing behind.
            return await self._load(runtime, key), True
        async with self._locks.setdefault(key, anyio.Lock()):
            # Whoever held the lock may have just reloaded: take that copy.
            reloaded = self._younger_than(self.ttl / 2, key, runtime.clock())
            if reloaded is not None:
                return reloaded, False
            return await self._load(runtime, key), True

    def _younger_than(
        self, age: timedelta, key: tuple[str, int], now: datetime
    ) -> WebhookKeys | None:
        cached = self._entries.get(key)
        # A clock set back must not make a copy immortal: a negative age is a miss too.
        if cached is not None and timedelta(0) <= now - cached.loaded_at < age:
            return cached
        return None

    async def _load(self, runtime: Runtime, key: tuple[str, int]) -> WebhookKeys:
        prefix, connection_id = key
        now = runtime.clock()
        try:
            async with read(runtime.engine) as db:
                connection = await connections_store.get(db, connection_id)
                secrets = await _with_prefix(db, runtime.cipher, connection_id, prefix)
        except connections_store.ConnectionNotFoundError:
            self._entries.pop(key, None)
            raise
        loaded = WebhookKeys(connection, tuple(secrets.values()), loaded_at=now)
        self._entries[key] = loaded
        return loaded

    def forget(self, connection_id: int) -> None:
        """Drop every copy held for `connection_id`: the next delivery reads afresh."""
        for key in [k for k in self._entries if k[1] == connection_id]:
            del self._entries[key]


__all__ = [
    "FRESHBOOKS_PENDING_VERIFIER",
    "FRESHBOOKS_VERIFIER",
    "RAMP_WEBHOOK_SECRET",
    "WEBHOOK_KEYS_TTL",
    "WebhookKeyCache",
    "WebhookKeys",
    "confirm_verifier",
    "forget_freshbooks_callback",
    "forget_ramp_secret",
    "freshbooks_callback_ids",
    "freshbooks_verifiers",
    "pending_freshbooks_verifier",
    "ramp_secrets",
    "store_pending_verifier",
    "store_ramp_secret",
]
