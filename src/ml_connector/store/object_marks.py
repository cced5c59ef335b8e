"""What the connector last knew of each FreshBooks object: the reconciliation baseline.

A mark records the version of a FreshBooks object (its `updated_at` and `vis_state`)
when it was last handed to the sync pipeline — enqueued by the backfill or the sweep, or
seen as already notified by a webhook. The sweep compares each listed object with its
mark: equal means nothing to do, which keeps a sweep over an unchanged firm free of
writes. Links (what was written to Ramp, and when) are the fallback baseline for objects
that were synced before they were ever marked.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from ml_connector.store.schema import UtcDateTime, links, object_marks


@dataclass(frozen=True, kw_only=True)
class Mark:
    fb_id: str
    version: str
    remote_updated_at: datetime | None
    seen_at: datetime


@dataclass(frozen=True, kw_only=True)
class NewMark:
    fb_id: str
    version: str
    remote_updated_at: datetime | None


async def marks_for(
    db: AsyncConnection, *, connection_id: int, fb_type: str, fb_ids: Collection[str]
) -> dict[str, Mark]:
    """The marks of these objects (absent ids were never marked)."""
    if not fb_ids:
        return {}
    rows = await db.execute(
        sa.select(
            object_marks.c.fb_id,
            object_marks.c.version,
            object_marks.c.remote_updated_at,
            object_marks.c.seen_at,
        ).where(
            object_marks.c.connection_id == connection_id,
            object_marks.c.fb_type == fb_type,
            object_marks.c.fb_id.in_(list(fb_ids)),
        )
    )
    return {
        row.fb_id: Mark(
            fb_id=row.fb_id,
            version=row.version,
            remote_updated_at=row.remote_updated_at,
            seen_at=row.seen_at,
        )
        for row in rows
    }


async def save_marks(
    db: AsyncConnection,
    *,
    connection_id: int,
    fb_type: str,
    marks: Iterable[NewMark],
    now: datetime,
) -> int:
    """Insert or replace marks in one statement; returns how many were written."""
    values: list[dict[str, Any]] = [
        {
            "connection_id": connection_id,
            "fb_type": fb_type,
            "fb_id": mark.fb_id,
            "version": mark.version,
            "remote_updated_at": mark.remote_updated_at,
            "seen_at": now,
        }
        for mark in marks
    ]
    if not values:
        return 0
    insert = postgresql.insert if db.dialect.name == "postgresql" else sqlite.insert
    statement = insert(object_marks).values(values)
    await db.execute(
        statement.on_conflict_do_update(
            index_elements=["connection_id", "fb_type", "fb_id"],
            set_={
                "version": statement.excluded.version,
                "remote_updated_at": statement.excluded.remote_updated_at,
                "seen_at": statement.excluded.seen_at,
            },
        )
    )
    return len(values)


async def last_written(
    db: AsyncConnection, *, connection_id: int, fb_type: str, fb_ids: Collection[str]
) -> dict[str, datetime]:
    """When each object's Ramp side was last written (newest over its links)."""
    if not fb_ids:
        return {}
    rows = await db.execute(
        sa.select(
            links.c.fb_id,
            sa.func.max(links.c.updated_at, type_=UtcDateTime()).label("written"),
        )
        .where(
            links.c.connection_id == connection_id,
            links.c.fb_type == fb_type,
            links.c.fb_id.in_(list(fb_ids)),
        )
        .group_by(links.c.fb_id)
    )
    return {row.fb_id: row.written for row in rows}


__all__ = ["Mark", "NewMark", "last_written", "marks_for", "save_marks"]
