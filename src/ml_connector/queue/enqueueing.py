"""Adding jobs, one or many, in the caller's transaction.

A partial unique index allows one *waiting* job per `unique_key`: a second request while
one waits is absorbed by it (bursts coalesce); a running job never absorbs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from ml_connector.queue.jobs import JobState, Lane
from ml_connector.queue.waiting import WAITING, WAITING_TEXT
from ml_connector.store.schema import jobs

DEFAULT_MAX_ATTEMPTS = 10

# Built once, values bound per call: every webhook enqueues, and building the construct
# (and its cache key) anew cost more than executing it on a warm statement cache.
_INSERT = jobs.insert().returning(jobs.c.id)
_INSERT_KEYED_POSTGRESQL = (
    postgresql.insert(jobs)
    .on_conflict_do_nothing(index_elements=["unique_key"], index_where=WAITING_TEXT)
    .returning(jobs.c.id)
)
_INSERT_KEYED_SQLITE = (
    sqlite.insert(jobs)
    .on_conflict_do_nothing(index_elements=["unique_key"], index_where=WAITING_TEXT)
    .returning(jobs.c.id)
)
_INSERT_MANY_POSTGRESQL = _INSERT_KEYED_POSTGRESQL.returning(jobs.c.unique_key)
_INSERT_MANY_SQLITE = _INSERT_KEYED_SQLITE.returning(jobs.c.unique_key)


@dataclass(frozen=True, kw_only=True)
class Enqueued:
    job_id: int
    #: True when a waiting job with the same unique key absorbed this request.
    coalesced: bool


@dataclass(frozen=True, kw_only=True)
class NewJob:
    """One job to add: what `enqueue` takes, as a value (for `enqueue_many`)."""

    kind: str
    args: Mapping[str, Any]
    connection_id: int | None = None
    queue: str = "default"
    priority: int = Lane.LIVE
    scheduled_at: datetime | None = None
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    lock_key: str | None = None
    unique_key: str | None = None

    def row(self, now: datetime) -> dict[str, Any]:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        return {
            "kind": self.kind,
            "queue": self.queue,
            "connection_id": self.connection_id,
            "args": dict(self.args),
            "state": JobState.AVAILABLE.value,
            "priority": int(self.priority),
            "attempts": 0,
            "max_attempts": self.max_attempts,
            "scheduled_at": self.scheduled_at or now,
            "lock_key": self.lock_key,
            "unique_key": self.unique_key,
            "coalesced": 0,
            "errors": [],
            "replays": 0,
            "created_at": now,
        }


async def enqueue(
    db: AsyncConnection,
    *,
    kind: str,
    args: Mapping[str, Any],
    now: datetime,
    connection_id: int | None = None,
    queue: str = "default",
    priority: int = Lane.LIVE,
    scheduled_at: datetime | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    lock_key: str | None = None,
    unique_key: str | None = None,
) -> Enqueued:
    """Add a job in the caller's transaction; visible to workers only once it commits.

    With a `unique_key`, a job already waiting under that key absorbs this one: it keeps
    its args (handlers re-fetch the object, so the newest state is read anyway), takes
    the more urgent priority, and if it was merely available, the earlier start. A job
    that is *running* does not absorb: the change may have come after its fetch, so a
    new job waits behind it (serialized by `lock_key`).
    """
    job = NewJob(
        kind=kind,
        args=args,
        connection_id=connection_id,
        queue=queue,
        priority=priority,
        scheduled_at=scheduled_at,
        max_attempts=max_attempts,
        lock_key=lock_key,
        unique_key=unique_key,
    )
    return await enqueue_job(db, job, now=now)


async def enqueue_job(db: AsyncConnection, job: NewJob, *, now: datetime) -> Enqueued:
    """`enqueue`, for a job already described as a `NewJob`."""
    return await _enqueue_one(db, job, job.row(now))


async def _enqueue_one(db: AsyncConnection, job: NewJob, values: dict[str, Any]) -> Enqueued:
    if job.unique_key is None:
        job_id = (await db.execute(_INSERT, values)).scalar_one()
        return Enqueued(job_id=job_id, coalesced=False)
    keyed = _INSERT_KEYED_POSTGRESQL if db.dialect.name == "postgresql" else _INSERT_KEYED_SQLITE
    for _ in range(5):
        job_id = (await db.execute(keyed, values)).scalar_one_or_none()
        if job_id is not None:
            return Enqueued(job_id=job_id, coalesced=False)
        existing = (
            await db.execute(
                sa.select(jobs.c.id, jobs.c.state, jobs.c.priority, jobs.c.scheduled_at)
                .where(jobs.c.unique_key == job.unique_key, WAITING)
                .with_for_update()
            )
        ).one_or_none()
        if existing is None:
            # Claimed between our insert and this read: try the insert again.
            continue
        return await _coalesce(db, existing, values)
    raise RuntimeError(f"could not enqueue {job.kind} under a contended unique key")


async def enqueue_many(
    db: AsyncConnection, new_jobs: Sequence[NewJob], *, now: datetime
) -> list[Enqueued]:
    """`enqueue` for each job, in order, with a few statements instead of two per job.

    One read finds the waiting jobs that will absorb some of them (locked, as `enqueue`
    locks them), one multi-row insert adds the rest. A job whose insert a concurrent
    enqueue beat to its unique key goes through `enqueue`'s own path. A backfill page
    enqueues a hundred object syncs this way.
    """
    rows = [job.row(now) for job in new_jobs]
    keys = [job.unique_key for job in new_jobs if job.unique_key is not None]
    if len(set(keys)) != len(keys):
        # A key repeated within the batch coalesces into its own first job: keep that
        # ordering exact by taking the one-at-a-time path.
        return [await _enqueue_one(db, job, row) for job, row in zip(new_jobs, rows, strict=True)]
    existing: dict[str, Any] = {}
    for start in range(0, len(keys), _KEY_BATCH):
        for found in await db.execute(
            sa.select(
                jobs.c.id, jobs.c.unique_key, jobs.c.state, jobs.c.priority, jobs.c.scheduled_at
            )
            .where(jobs.c.unique_key.in_(keys[start : start + _KEY_BATCH]), WAITING)
            .with_for_update()
        ):
            existing[found.unique_key] = found
    inserted: dict[str, int] = {}
    absent = [
        row for row in rows if row["unique_key"] is not None and row["unique_key"] not in existing
    ]
    if absent:
        # executemany: SQLAlchemy batches the rows into multi-row inserts itself, and the
        # statement stays in its compiled cache (a fresh VALUES list compiles every time).
        keyed = _INSERT_MANY_POSTGRESQL if db.dialect.name == "postgresql" else _INSERT_MANY_SQLITE
        inserted = {new.unique_key: new.id for new in await db.execute(keyed, absent)}
    results = []
    for job, row in zip(new_jobs, rows, strict=True):
        key = job.unique_key
        if key is not None and key in existing:
            results.append(await _coalesce(db, existing[key], row))
        elif key is not None and key in inserted:
            results.append(Enqueued(job_id=inserted[key], coalesced=False))
        else:
            # No unique key, or a concurrent enqueue took the key after our read.
            results.append(await _enqueue_one(db, job, row))
    return results


_KEY_BATCH = 500


async def _coalesce(db: AsyncConnection, existing: Any, values: Mapping[str, Any]) -> Enqueued:
    """Fold a request into the waiting job that shares its unique key."""
    changes: dict[str, Any] = {
        "coalesced": jobs.c.coalesced + 1,
        "priority": min(existing.priority, values["priority"]),
    }
    if existing.state == JobState.AVAILABLE and values["scheduled_at"] < existing.scheduled_at:
        changes["scheduled_at"] = values["scheduled_at"]
    await db.execute(jobs.update().where(jobs.c.id == existing.id).values(**changes))
    return Enqueued(job_id=existing.id, coalesced=True)


__all__ = ["DEFAULT_MAX_ATTEMPTS", "Enqueued", "NewJob", "enqueue", "enqueue_job", "enqueue_many"]
