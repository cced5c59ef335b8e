"""The queue's operations, each one named statement group on the caller's connection.

Every function takes an `AsyncConnection` with a transaction open and never commits:
`enqueue` rides the caller's transaction (inbox row and job commit together or not at
all); the worker wraps `claim`, `complete` and `fail` in short transactions of its own
and never keeps one open while a handler runs.

Invariants are the database's: a partial unique index allows one *waiting* job per
`unique_key` (bursts coalesce) and one *running* job per `lock_key` (an object is never
processed by two workers at once). Adding jobs lives in `queue.enqueueing`, claiming
them in `queue.claims`; both are re-exported here with the rest of a job's life
(heartbeat, complete, fail, rescue, replay, cancel, stats).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from ml_connector.core.retry import DeadLetter, NeedsAttention, Retry, RetryDecision
from ml_connector.queue.claims import claim
from ml_connector.queue.enqueueing import (
    DEFAULT_MAX_ATTEMPTS,
    Enqueued,
    enqueue,
)
from ml_connector.queue.jobs import Job, JobState
from ml_connector.queue.waiting import WAITING
from ml_connector.store.schema import jobs

REPLAY_ARG = "_replay"
"""Key in a replayed job's args: ``{"mapping": "current"|"original", "by": …, "at": …}``."""


async def heartbeat(
    db: AsyncConnection, job_id: int, *, owner: str, now: datetime, lease: timedelta
) -> bool:
    """Extend a running job's lease; False means the lease was lost (stop working on it)."""
    result = await db.execute(
        jobs.update()
        .where(
            jobs.c.id == job_id, jobs.c.state == JobState.RUNNING.value, jobs.c.lease_owner == owner
        )
        .values(lease_until=now + lease)
    )
    return bool(result.rowcount)


async def complete(db: AsyncConnection, job_id: int, *, owner: str, now: datetime) -> bool:
    """Mark a job done; False if `owner` no longer holds it (it was rescued meanwhile)."""
    result = await db.execute(
        jobs.update()
        .where(
            jobs.c.id == job_id, jobs.c.state == JobState.RUNNING.value, jobs.c.lease_owner == owner
        )
        .values(
            state=JobState.COMPLETED.value,
            lease_owner=None,
            lease_until=None,
            finalized_at=now,
        )
    )
    return bool(result.rowcount)


async def fail(
    db: AsyncConnection,
    job_id: int,
    *,
    owner: str,
    decision: RetryDecision,
    error: str,
    now: datetime,
) -> JobState | None:
    """Persist a failed attempt and the policy's decision; None if `owner` lost the job."""
    row = (
        await db.execute(
            sa.select(jobs.c.attempts, jobs.c.errors)
            .where(
                jobs.c.id == job_id,
                jobs.c.state == JobState.RUNNING.value,
                jobs.c.lease_owner == owner,
            )
            .with_for_update()
        )
    ).one_or_none()
    if row is None:
        return None
    entry: dict[str, Any] = {"attempt": row.attempts, "at": now.isoformat(), "error": error}
    changes: dict[str, Any] = {"lease_owner": None, "lease_until": None, "last_error": error}
    if isinstance(decision, Retry):
        state = JobState.RETRYABLE
        entry["outcome"] = "retry"
        entry["retry_at"] = decision.at.isoformat()
        changes["scheduled_at"] = decision.at
    elif isinstance(decision, DeadLetter):
        state = JobState.DEAD
        entry["outcome"] = "dead"
        changes["last_error"] = decision.reason
        changes["finalized_at"] = now
    elif isinstance(decision, NeedsAttention):
        state = JobState.ATTENTION
        entry["outcome"] = "attention"
        entry["code"] = decision.code
        changes["last_error"] = decision.reason
        changes["finalized_at"] = now
    else:  # pragma: no cover - the union is closed
        raise TypeError(f"unknown decision {decision!r}")
    changes["state"] = state.value
    changes["errors"] = [*list(row.errors or []), entry]
    try:
        async with db.begin_nested():
            await db.execute(jobs.update().where(jobs.c.id == job_id).values(**changes))
    except IntegrityError:
        # A job for the same unique key was enqueued while this one ran and is waiting:
        # it will fetch the object afresh, so this retry would only duplicate it.
        entry["outcome"] = "superseded"
        changes.update(
            state=JobState.CANCELLED.value,
            finalized_at=now,
            errors=[*list(row.errors or []), entry],
        )
        changes.pop("scheduled_at", None)
        await db.execute(jobs.update().where(jobs.c.id == job_id).values(**changes))
        return JobState.CANCELLED
    return state


async def rescue_expired(db: AsyncConnection, *, now: datetime, limit: int = 100) -> list[int]:
    """Return jobs whose worker vanished (lease expired) to the queue, or dead-letter them.

    The lost attempt counts: a job that keeps killing its worker ends in the dead-letter
    list with its history instead of looping forever.
    """
    rows = (
        await db.execute(
            sa.select(
                jobs.c.id, jobs.c.attempts, jobs.c.max_attempts, jobs.c.errors, jobs.c.lease_owner
            )
            .where(jobs.c.state == JobState.RUNNING.value, jobs.c.lease_until < now)
            .order_by(jobs.c.lease_until)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    rescued: list[int] = []
    for row in rows:
        message = f"lease of worker {row.lease_owner} expired; the attempt was lost"
        entry: dict[str, Any] = {"attempt": row.attempts, "at": now.isoformat(), "error": message}
        changes: dict[str, Any] = {
            "lease_owner": None,
            "lease_until": None,
            "last_error": message,
        }
        if row.attempts >= row.max_attempts:
            entry["outcome"] = "dead"
            changes.update(state=JobState.DEAD.value, finalized_at=now)
        else:
            entry["outcome"] = "retry"
            entry["retry_at"] = now.isoformat()
            changes.update(state=JobState.RETRYABLE.value, scheduled_at=now)
        changes["errors"] = [*list(row.errors or []), entry]
        try:
            async with db.begin_nested():
                await db.execute(jobs.update().where(jobs.c.id == row.id).values(**changes))
        except IntegrityError:
            # A newer job for the same unique key is already waiting; this attempt's
            # work is covered by it, so the orphan is cancelled rather than duplicated.
            await db.execute(
                jobs.update()
                .where(jobs.c.id == row.id)
                .values(
                    state=JobState.CANCELLED.value,
                    lease_owner=None,
                    lease_until=None,
                    finalized_at=now,
                    last_error=message + "; superseded by a waiting job",
                    errors=changes["errors"],
                )
            )
        rescued.append(row.id)
    return rescued


async def replay(
    db: AsyncConnection,
    *,
    now: datetime,
    actor: str,
    job_ids: Iterable[int] | None = None,
    kind: str | None = None,
    states: Iterable[JobState] = (JobState.DEAD, JobState.ATTENTION),
    mapping: Literal["current", "original"] = "current",
    extra_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> list[int]:
    """Put finished jobs back in the queue: given ids, or all of a kind (or both filters).

    The job gets `extra_attempts` more attempts and records who replayed it, and with
    which mapping: ``"original"`` tells the handler to use the mapping version it used
    before (kept in the job's args by the handler), ``"current"`` the newest one.
    """
    if job_ids is None and kind is None:
        raise ValueError("replay needs job ids or a kind")
    wanted_states = [JobState(s).value for s in states]
    query = (
        sa.select(jobs).where(jobs.c.state.in_(wanted_states)).order_by(jobs.c.id).with_for_update()
    )
    if job_ids is not None:
        ids = list(job_ids)
        if not ids:
            return []
        query = query.where(jobs.c.id.in_(ids))
    if kind is not None:
        query = query.where(jobs.c.kind == kind)
    replayed: list[int] = []
    for row in (await db.execute(query)).all():
        job = Job.from_row(row)
        args = dict(job.args)
        args[REPLAY_ARG] = {"mapping": mapping, "by": actor, "at": now.isoformat()}
        unique_key = job.unique_key
        if unique_key is not None:
            taken = (
                await db.execute(
                    sa.select(jobs.c.id).where(jobs.c.unique_key == unique_key, WAITING)
                )
            ).first()
            if taken is not None:
                # A fresh job for the object is already waiting; run this one too (its
                # args may differ, e.g. the original mapping) without the dedupe key.
                unique_key = None
        await db.execute(
            jobs.update()
            .where(jobs.c.id == job.id)
            .values(
                state=JobState.AVAILABLE.value,
                scheduled_at=now,
                max_attempts=job.attempts + extra_attempts,
                unique_key=unique_key,
                args=args,
                replays=jobs.c.replays + 1,
                replayed_by=actor,
                finalized_at=None,
            )
        )
        replayed.append(job.id)
    return replayed


async def cancel(db: AsyncConnection, job_id: int, *, now: datetime) -> bool:
    """Cancel a job that has not started (or is waiting for a retry)."""
    result = await db.execute(
        jobs.update()
        .where(jobs.c.id == job_id, WAITING)
        .values(state=JobState.CANCELLED.value, finalized_at=now)
    )
    return bool(result.rowcount)


async def get(db: AsyncConnection, job_id: int) -> Job | None:
    row = (await db.execute(sa.select(jobs).where(jobs.c.id == job_id))).one_or_none()
    return None if row is None else Job.from_row(row)


async def list_jobs(
    db: AsyncConnection,
    *,
    states: Iterable[JobState] | None = None,
    kind: str | None = None,
    connection_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Job]:
    """Jobs newest first, filtered (admin UI and CLI)."""
    query = sa.select(jobs).order_by(jobs.c.id.desc()).limit(limit).offset(offset)
    if states is not None:
        query = query.where(jobs.c.state.in_([JobState(s).value for s in states]))
    if kind is not None:
        query = query.where(jobs.c.kind == kind)
    if connection_id is not None:
        query = query.where(jobs.c.connection_id == connection_id)
    return [Job.from_row(r) for r in await db.execute(query)]


@dataclass(frozen=True, kw_only=True)
class QueueStats:
    by_state: dict[str, int] = field(default_factory=dict)
    by_kind: dict[str, dict[str, int]] = field(default_factory=dict)
    #: Due jobs per connection (None: system jobs).
    due_by_connection: dict[int | None, int] = field(default_factory=dict)
    #: Seconds the longest-due waiting job has been waiting (0 when none).
    oldest_due_seconds: float = 0.0


async def stats(db: AsyncConnection, *, now: datetime) -> QueueStats:
    """Counts for status pages and metrics."""
    by_state: dict[str, int] = {}
    by_kind: dict[str, dict[str, int]] = {}
    for kind, state, count in await db.execute(
        sa.select(jobs.c.kind, jobs.c.state, sa.func.count()).group_by(jobs.c.kind, jobs.c.state)
    ):
        by_state[state] = by_state.get(state, 0) + count
        by_kind.setdefault(kind, {})[state] = count
    due = sa.and_(WAITING, jobs.c.scheduled_at <= now)
    due_by_connection: dict[int | None, int] = {}
    for connection_id, count in await db.execute(
        sa.select(jobs.c.connection_id, sa.func.count()).where(due).group_by(jobs.c.connection_id)
    ):
        due_by_connection[connection_id] = count
    oldest = (await db.execute(sa.select(sa.func.min(jobs.c.scheduled_at)).where(due))).scalar_one()
    oldest_seconds = 0.0 if oldest is None else max((now - oldest).total_seconds(), 0.0)
    return QueueStats(
        by_state=by_state,
        by_kind=by_kind,
        due_by_connection=due_by_connection,
        oldest_due_seconds=oldest_seconds,
    )


async def purge_finished(db: AsyncConnection, *, before: datetime) -> int:
    """Delete completed and cancelled jobs finalized before `before` (retention)."""
    result = await db.execute(
        jobs.delete().where(
            jobs.c.state.in_([JobState.COMPLETED.value, JobState.CANCELLED.value]),
            jobs.c.finalized_at < before,
        )
    )
    return int(result.rowcount)


__all__ = [
    "DEFAULT_MAX_ATTEMPTS",
    "REPLAY_ARG",
    "Enqueued",
    "QueueStats",
    "cancel",
    "claim",
    "complete",
    "enqueue",
    "fail",
    "get",
    "heartbeat",
    "list_jobs",
    "purge_finished",
    "replay",
    "rescue_expired",
    "stats",
]
