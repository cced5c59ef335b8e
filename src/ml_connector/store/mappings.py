"""Versioned mapping documents: a connection's flow configuration, kept forever.

The document's format belongs to the mapping core; the store keeps the text as the user
wrote it and its parsed JSON, opaquely. Versions only grow, so a job can be replayed
with the mapping it originally used.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ml_connector.store import connections as connections_store
from ml_connector.store.schema import mapping_versions


@dataclass(frozen=True, kw_only=True)
class MappingVersion:
    id: int
    connection_id: int
    version: int
    text: str
    document: Any
    author: str
    comment: str | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> MappingVersion:
        return cls(**dict(row._mapping))


async def save(
    db: AsyncConnection,
    *,
    connection_id: int,
    text: str,
    document: Any,
    author: str,
    now: datetime,
    comment: str | None = None,
) -> MappingVersion:
    """Store a new version (previous + 1) and return it."""
    # Locking the connection row serializes concurrent saves on PostgreSQL, so two
    # editors get versions n+1 and n+2 rather than a unique-key error.
    await connections_store.lock(db, connection_id)
    latest = (
        await db.execute(
            sa.select(sa.func.max(mapping_versions.c.version)).where(
                mapping_versions.c.connection_id == connection_id
            )
        )
    ).scalar_one()
    row = (
        await db.execute(
            mapping_versions.insert()
            .values(
                connection_id=connection_id,
                version=(latest or 0) + 1,
                text=text,
                document=document,
                author=author,
                comment=comment,
                created_at=now,
            )
            .returning(*mapping_versions.c)
        )
    ).one()
    return MappingVersion.from_row(row)


async def current(db: AsyncConnection, connection_id: int) -> MappingVersion | None:
    """The newest version, or None when the connection has no mapping yet."""
    row = (
        await db.execute(
            sa.select(mapping_versions)
            .where(mapping_versions.c.connection_id == connection_id)
            .order_by(mapping_versions.c.version.desc())
            .limit(1)
        )
    ).one_or_none()
    return None if row is None else MappingVersion.from_row(row)


async def get(db: AsyncConnection, connection_id: int, version: int) -> MappingVersion | None:
    row = (
        await db.execute(
            sa.select(mapping_versions).where(
                mapping_versions.c.connection_id == connection_id,
                mapping_versions.c.version == version,
            )
        )
    ).one_or_none()
    return None if row is None else MappingVersion.from_row(row)


async def history(db: AsyncConnection, connection_id: int) -> list[MappingVersion]:
    """Every version, newest first."""
    rows = await db.execute(
        sa.select(mapping_versions)
        .where(mapping_versions.c.connection_id == connection_id)
        .order_by(mapping_versions.c.version.desc())
    )
    return [MappingVersion.from_row(r) for r in rows]


__all__ = ["MappingVersion", "current", "get", "history", "save"]
