"""Key rotation: re-encrypt every stored secret under the key ring's primary key.

Run after putting a new key first in `MLC_ENCRYPTION_KEYS` (keeping the old ones after
it); once it reports nothing left to rotate, the old keys can be removed.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ml_connector.store.crypto import Cipher
from ml_connector.store.schema import credentials, oauth_tokens


@dataclass(frozen=True, kw_only=True)
class RotationReport:
    credentials: int
    tokens: int


async def rotate_keys(
    engine: AsyncEngine, cipher: Cipher, *, batch_size: int = 100
) -> RotationReport:
    """Re-encrypt credentials and token sets not yet under the primary key, in batches.

    Each batch is its own short transaction; a token row is only rewritten if its
    version did not move meanwhile (a concurrent refresh already wrote it anew).
    """
    rotated_credentials = 0
    done = False
    while not done:
        async with engine.begin() as db:
            rows = (
                await db.execute(
                    sa.select(
                        credentials.c.connection_id, credentials.c.kind, credentials.c.ciphertext
                    ).order_by(credentials.c.connection_id, credentials.c.kind)
                )
            ).all()
            stale = [r for r in rows if not cipher.is_current(r.ciphertext)][:batch_size]
            for row in stale:
                await db.execute(
                    credentials.update()
                    .where(
                        credentials.c.connection_id == row.connection_id,
                        credentials.c.kind == row.kind,
                        credentials.c.ciphertext == row.ciphertext,
                    )
                    .values(ciphertext=cipher.rotate(row.ciphertext))
                )
            rotated_credentials += len(stale)
            done = len(stale) < batch_size
    rotated_tokens = 0
    done = False
    while not done:
        async with engine.begin() as db:
            rows = (
                await db.execute(
                    sa.select(oauth_tokens.c.key, oauth_tokens.c.ciphertext, oauth_tokens.c.version)
                    .where(oauth_tokens.c.ciphertext.is_not(None))
                    .order_by(oauth_tokens.c.key)
                )
            ).all()
            stale = [r for r in rows if not cipher.is_current(r.ciphertext)][:batch_size]
            for row in stale:
                await db.execute(
                    oauth_tokens.update()
                    .where(oauth_tokens.c.key == row.key, oauth_tokens.c.version == row.version)
                    .values(ciphertext=cipher.rotate(row.ciphertext))
                )
            rotated_tokens += len(stale)
            done = len(stale) < batch_size
    return RotationReport(credentials=rotated_credentials, tokens=rotated_tokens)


__all__ = ["RotationReport", "rotate_keys"]
