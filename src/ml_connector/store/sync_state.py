"""Small per-connection state documents: backfill runs, sweep watermarks, schedules.

One JSON object per `(connection, key)`. Readers take a snapshot with `get`; writers
that read-modify-write use `lock`, which creates the row if needed and holds it for the
rest of the transaction (`FOR UPDATE` on PostgreSQL; SQLite's `BEGIN IMMEDIATE` already
serializes writers), so two workers never interleave their updates of one document.
Values must be JSON: callers store datetimes as ISO-8601 strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from ml_connector.store.schema import sync_state


def _key(connection_id: int, key: str) -> tuple[sa.ColumnElement[bool], ...]:
    return (sync_state.c.connection_id == connection_id, sync_state.c.key == key)


async def get(db: AsyncConnection, connection_id: int, key: str) -> dict[str, Any] | None:
    """The stored document, or None if nothing was stored under `key`."""
    value = (
        await db.execute(sa.select(sync_state.c.value).where(*_key(connection_id, key)))
    ).scalar_one_or_none()
    return None if value is None else dict(value)


async def get_many(db: AsyncConnection, key: str) -> dict[int, dict[str, Any]]:
    """Every connection's document under `key` (status pages, the scheduler)."""
    rows = await db.execute(
        sa.select(sync_state.c.connection_id, sync_state.c.value).where(sync_state.c.key == key)
    )
    return {row.connection_id: dict(row.value) for row in rows}


async def lock(
    db: AsyncConnection,
    connection_id: int,
    key: str,
    *,
    now: datetime,
    default: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The document, locked for this transaction; created from `default` if missing."""
    insert = postgresql.insert if db.dialect.name == "postgresql" else sqlite.insert
    await db.execute(
        insert(sync_state)
        .values(connection_id=connection_id, key=key, value=dict(default or {}), updated_at=now)
        .on_conflict_do_nothing(index_elements=["connection_id", "key"])
    )
    value = (
        await db.execute(
            sa.select(sync_state.c.value).where(*_key(connection_id, key)).with_for_update()
        )
    ).scalar_one()
    return dict(value)


async def put(
    db: AsyncConnection, connection_id: int, key: str, value: Mapping[str, Any], *, now: datetime
) -> None:
    """Store `value` under `key`, replacing what was there."""
    insert = postgresql.insert if db.dialect.name == "postgresql" else sqlite.insert
    statement = insert(sync_state).values(
        connection_id=connection_id, key=key, value=dict(value), updated_at=now
    )
    await db.execute(
        statement.on_conflict_do_update(
            index_elements=["connection_id", "key"],
            set_={"value": statement.excluded.value, "updated_at": statement.excluded.updated_at},
        )
    )


async def delete(db: AsyncConnection, connection_id: int, key: str) -> bool:
    result = await db.execute(sync_state.delete().where(*_key(connection_id, key)))
    return bool(result.rowcount)


__all__ = ["delete", "get", "get_many", "lock", "put"]
