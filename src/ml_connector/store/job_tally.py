"""Counts of jobs by kind and state for one connection: progress bars and status pages.

`queue.stats` answers for the whole queue; a backfill's progress needs the jobs one
producer enqueued for one connection since it started, told apart by an argument the
producer set (for example `source = "backfill"`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ml_connector.store.schema import jobs


async def count_jobs(
    db: AsyncConnection,
    *,
    connection_id: int,
    kinds: Collection[str],
    since: datetime,
    args_equal: Mapping[str, str] | None = None,
) -> dict[str, dict[str, int]]:
    """`{kind: {state: count}}` of the connection's jobs created at or after `since`."""
    if not kinds:
        return {}
    query = (
        sa.select(jobs.c.kind, jobs.c.state, sa.func.count())
        .where(
            jobs.c.connection_id == connection_id,
            jobs.c.kind.in_(list(kinds)),
            jobs.c.created_at >= since,
        )
        .group_by(jobs.c.kind, jobs.c.state)
    )
    for name, value in (args_equal or {}).items():
        query = query.where(jobs.c.args[name].as_string() == value)
    counts: dict[str, dict[str, int]] = {}
    for kind, state, count in await db.execute(query):
        counts.setdefault(kind, {})[state] = count
    return counts


__all__ = ["count_jobs"]
