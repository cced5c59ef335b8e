"""Read freshness samples and first-seen counts out of the audit trail.

A sync job writes, in its object's chain, ``received`` (its `source`), ``fetched`` (the
FreshBooks `updated` stamp) and one ``ramp.response`` per write. The first response of a
job in a chain is when that change reached Ramp. Reads are incremental by audit row id,
so a process can fold new rows into its metrics on every scrape.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ml_connector.core.freshness import LIVE_SOURCES, FreshnessSample
from ml_connector.store.schema import audit_log

_CHUNK = 500


@dataclass(kw_only=True)
class FreshnessRead:
    samples: list[FreshnessSample] = field(default_factory=list)
    first_seen: dict[tuple[int, str], int] = field(default_factory=dict)
    """(connection id, "webhook" | "sweep") → object syncs enqueued by that source."""
    through_id: int = 0
    """The highest audit row id looked at: the next incremental read starts after it."""


def _parse(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _chunks(values: Sequence[Any]) -> list[Sequence[Any]]:
    return [values[i : i + _CHUNK] for i in range(0, len(values), _CHUNK)]


async def _first_seen(
    db: AsyncConnection, filters: list[Any], out: dict[tuple[int, str], int]
) -> None:
    rows = await db.execute(
        sa.select(audit_log.c.connection_id, audit_log.c.detail).where(
            *filters, audit_log.c.step == "received"
        )
    )
    for got in rows:
        source = got.detail.get("source") if isinstance(got.detail, dict) else None
        if source in LIVE_SOURCES and got.connection_id is not None:
            key = (int(got.connection_id), str(source))
            out[key] = out.get(key, 0) + 1


async def _job_steps(
    db: AsyncConnection, jobs: Sequence[int], after_id: int
) -> tuple[set[tuple[int, str]], dict[tuple[int, str], dict[str, Any]]]:
    """(job, chain) pairs already answered before `after_id`, and each pair's steps."""
    seen_before: set[tuple[int, str]] = set()
    context: dict[tuple[int, str], dict[str, Any]] = {}
    for chunk in _chunks(jobs):
        if after_id:
            earlier = await db.execute(
                sa.select(audit_log.c.job_id, audit_log.c.chain).where(
                    audit_log.c.job_id.in_(chunk),
                    audit_log.c.step == "ramp.response",
                    audit_log.c.id <= after_id,
                )
            )
            seen_before.update((int(r.job_id), r.chain) for r in earlier)
        steps = await db.execute(
            sa.select(
                audit_log.c.job_id, audit_log.c.chain, audit_log.c.step,
                audit_log.c.connection_id, audit_log.c.object_type, audit_log.c.detail,
            ).where(audit_log.c.job_id.in_(chunk), audit_log.c.step.in_(("received", "fetched")))
        )  # fmt: skip
        for step in steps:
            context.setdefault((int(step.job_id), step.chain), {})[step.step] = step
    return seen_before, context


def _sample(steps: dict[str, Any], written_at: datetime) -> FreshnessSample | None:
    got, fetched = steps.get("received"), steps.get("fetched")
    if got is None or fetched is None or got.connection_id is None:
        return None
    source = got.detail.get("source") if isinstance(got.detail, dict) else None
    changed = _parse(fetched.detail.get("updated") if isinstance(fetched.detail, dict) else None)
    if source not in LIVE_SOURCES or changed is None:
        return None
    return FreshnessSample(
        connection_id=int(got.connection_id), object_type=got.object_type,
        source=str(source), changed_at=changed, written_at=written_at,
    )  # fmt: skip


async def read_freshness(
    db: AsyncConnection,
    *,
    after_id: int = 0,
    since: datetime | None = None,
    connection_id: int | None = None,
) -> FreshnessRead:
    """Samples and first-seen counts from rows with `id > after_id` (and `at >= since`)."""
    out = FreshnessRead(through_id=after_id)
    newest = (await db.execute(sa.select(sa.func.max(audit_log.c.id)))).scalar_one()
    if newest is None or int(newest) <= after_id:
        return out
    # Rows committed after this point are left for the next read, whatever their id.
    filters: list[Any] = [
        audit_log.c.id > after_id,
        audit_log.c.id <= newest,
        audit_log.c.job_id.is_not(None),
    ]
    if since is not None:
        filters.append(audit_log.c.at >= since)
    if connection_id is not None:
        filters.append(audit_log.c.connection_id == connection_id)
    out.through_id = int(newest)
    await _first_seen(db, filters, out.first_seen)
    responses = await db.execute(
        sa.select(audit_log.c.job_id, audit_log.c.chain, audit_log.c.at)
        .where(*filters, audit_log.c.step == "ramp.response")
        .order_by(audit_log.c.id)
    )
    first: dict[tuple[int, str], datetime] = {}
    for response in responses:
        first.setdefault((int(response.job_id), response.chain), response.at)
    if not first:
        return out
    seen_before, context = await _job_steps(db, sorted({job for job, _ in first}), after_id)
    for key, written_at in first.items():
        sample = None if key in seen_before else _sample(context.get(key, {}), written_at)
        if sample is not None:
            out.samples.append(sample)
    return out


__all__ = ["FreshnessRead", "read_freshness"]
