"""Per-connection secrets (Ramp client secret, webhook verifiers, …), encrypted at rest.

Each value is sealed for its connection and kind (see `crypto`), so the database alone
reveals nothing and a row moved to another connection does not decrypt.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncConnection

from ml_connector.store.crypto import Cipher
from ml_connector.store.schema import credentials

_PURPOSE = "credential"


def _subject(connection_id: int, kind: str) -> str:
    return f"connection:{connection_id}:{kind}"


async def put(
    db: AsyncConnection,
    cipher: Cipher,
    *,
    connection_id: int,
    kind: str,
    secret: SecretStr | str,
    now: datetime,
) -> None:
    """Store (or replace) the secret of `kind` for a connection."""
    value = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    sealed = cipher.encrypt(value, subject=_subject(connection_id, kind), purpose=_PURPOSE)
    updated = await db.execute(
        credentials.update()
        .where(credentials.c.connection_id == connection_id, credentials.c.kind == kind)
        .values(ciphertext=sealed, updated_at=now)
    )
    if not updated.rowcount:
        await db.execute(
            credentials.insert().values(
                connection_id=connection_id, kind=kind, ciphertext=sealed, updated_at=now
            )
        )


async def get(
    db: AsyncConnection, cipher: Cipher, *, connection_id: int, kind: str
) -> SecretStr | None:
    """The secret of `kind` for a connection, or None if none is stored."""
    sealed = (
        await db.execute(
            sa.select(credentials.c.ciphertext).where(
                credentials.c.connection_id == connection_id, credentials.c.kind == kind
            )
        )
    ).scalar_one_or_none()
    if sealed is None:
        return None
    return SecretStr(
        cipher.decrypt(sealed, subject=_subject(connection_id, kind), purpose=_PURPOSE)
    )


async def kinds(db: AsyncConnection, *, connection_id: int) -> list[str]:
    """Which secrets a connection has (for status pages; never the values)."""
    result = await db.execute(
        sa.select(credentials.c.kind)
        .where(credentials.c.connection_id == connection_id)
        .order_by(credentials.c.kind)
    )
    return list(result.scalars())


async def delete(db: AsyncConnection, *, connection_id: int, kind: str) -> bool:
    result = await db.execute(
        credentials.delete().where(
            credentials.c.connection_id == connection_id, credentials.c.kind == kind
        )
    )
    return bool(result.rowcount)


__all__ = ["delete", "get", "kinds", "put"]
