"""Where webhook signing secrets live: encrypted credentials of the connection, one per hook.

- A FreshBooks callback's verifier is the key of every delivery's signature. The
  handshake that carries it is unauthenticated (anyone can POST a form to our URL), so a
  verifier is first stored as *pending*; it becomes trusted only once FreshBooks accepts
  it back in the verify call, which proves the handshake really came from FreshBooks.
- A Ramp subscription's secret arrives in the (authenticated) response to our own
  subscribe call, so it is trusted at once.

Every accepted secret of a connection is tried on each delivery, so a replaced callback
or subscription keeps working while the old one drains.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from ml_connector.store import Cipher
from ml_connector.store import credentials as credentials_store

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


__all__ = [
    "FRESHBOOKS_PENDING_VERIFIER",
    "FRESHBOOKS_VERIFIER",
    "RAMP_WEBHOOK_SECRET",
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
