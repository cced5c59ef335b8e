"""The queue's operations, each one named statement group on the caller's connection.

Every function takes an `AsyncConnection` with a transaction open and never commits:
`enqueue` rides the caller's transaction (inbox row and job commit together or not at
all); the worker wraps `claim`, `complete` and `fail` in short transactions of its own
and never keeps one open while a handler runs.

Invariants are the database's: a partial unique index allows one *waiting* job per
`unique_key` (bursts coalesce) and one *running* job per `lock_key` (an object is never
processed by two workers at once). Claims lock rows with `FOR UPDATE SKIP LOCKED` on
PostgreSQL; on SQLite the `BEGIN IMMEDIATE` write lock gives the same exclusivity.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from ml_connector.core.retry import DeadLetter, NeedsAttention, Retry, RetryDecision
from ml_connector.queue.jobs import Job, JobState, Lane
from ml_connector.store.schema import WAITING_STATES, jobs

DEFAULT_MAX_ATTEMPTS = 10
REPLAY_ARG = "_replay"
"""Key in a replayed job's args: ``{"mapping": "current"|"original", "by": …, "at": …}``."""

# The states are inlined, not bound: a planner can only use a partial index (waiting
# jobs by unique key, by connection) when it can prove from the query's own text that it
# wants only rows the index holds. With bound states SQLite scanned every waiting job to
# find one unique key. ON CONFLICT must name the index's predicate as literal SQL too:
# with bound parameters, PostgreSQL cannot infer the index once psycopg prepares the
# statement (after a few executions on one connection) and the insert fails.
_waiting = jobs.c.state.in_([sa.literal_column(f"'{state}'") for state in WAITING_STATES])
_WAITING_SQL = "state IN (" + ", ".join(f"'{state}'" for state in WAITING_STATES) + ")"
_waiting_literal = sa.text(_WAITING_SQL)


# Built once, values bound per call: every webhook enqueues, and building the construct
# (and its cache key) anew cost more than executing it on a warm statement cache.
_INSERT = jobs.insert().returning(jobs.c.id)
_INSERT_KEYED_POSTGRESQL = (
    postgresql.insert(jobs)
    .on_conflict_do_nothing(index_elements=["unique_key"], index_where=_waiting_literal)
    .returning(jobs.c.id)
)
_INSERT_KEYED_SQLITE = (
    sqlite.insert(jobs)
    .on_conflict_do_nothing(index_elements=["unique_key"], index_where=_waiting_literal)
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
                .where(jobs.c.unique_key == job.unique_key, _waiting)
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
            .where(jobs.c.unique_key.in_(keys[start : start + _KEY_BATCH]), _waiting)
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


async def claim(
    db: AsyncConnection,
    *,
    owner: str,
    now: datetime,
    lease: timedelta,
    limit: int = 1,
    queues: Sequence[str] | None = None,
    kinds: Sequence[str] | None = None,
) -> list[Job]:
    """Lease up to `limit` due jobs to `owner`, fairly across connections.

    Order: lane (priority) first, so live work always precedes backfill; within a lane,
    round-robin across connections (each connection's 1st due job, then each one's 2nd,
    …), so one firm's ten thousand jobs cannot starve another firm's one. Jobs whose
    `lock_key` is running elsewhere are skipped, as is a second job for one lock key in
    the same batch.
    """
    if limit < 1:
        return []
    running = jobs.alias("running")
    due = sa.and_(_waiting, jobs.c.scheduled_at <= now)
    filters: list[sa.ColumnElement[bool]] = [
        _waiting,
        jobs.c.scheduled_at <= now,
        ~sa.exists().where(
            running.c.lock_key == jobs.c.lock_key,
            running.c.state == JobState.RUNNING.value,
        ),
    ]
    if queues is not None:
        filters.append(jobs.c.queue.in_(list(queues)))
    if kinds is not None:
        filters.append(jobs.c.kind.in_(list(kinds)))
    # Over-fetch: some candidates will be locked by other claimers or share a lock key.
    candidates = await _candidates(db, filters, limit * 4 + 8)
    if not candidates:
        return []
    locked = set(
        (
            await db.execute(
                sa.select(jobs.c.id)
                .where(jobs.c.id.in_([c.id for c in candidates]), due)
                .with_for_update(skip_locked=True)
            )
        ).scalars()
    )
    claimed: list[Job] = []
    seen_locks: set[str] = set()
    for candidate in candidates:
        if len(claimed) >= limit:
            break
        if candidate.id not in locked:
            continue
        if candidate.lock_key is not None and candidate.lock_key in seen_locks:
            continue
        if candidate.lock_key is not None and not await _try_lock_key(db, candidate.lock_key):
            continue
        row = await _start(db, candidate.id, owner=owner, now=now, lease=lease)
        if row is None:
            continue
        if candidate.lock_key is not None:
            seen_locks.add(candidate.lock_key)
        claimed.append(Job.from_row(row))
    return claimed


async def _start(
    db: AsyncConnection, job_id: int, *, owner: str, now: datetime, lease: timedelta
) -> Any:
    """Lease one waiting job to `owner`; None if it is gone or its lock key is taken."""
    start = (
        jobs.update()
        .where(jobs.c.id == job_id, _waiting)
        .values(
            state=JobState.RUNNING.value,
            attempts=jobs.c.attempts + 1,
            lease_owner=owner,
            lease_until=now + lease,
            attempted_at=now,
        )
        .returning(*jobs.c)
    )
    if db.dialect.name != "postgresql":
        # SQLite's write lock makes this claim the only one: the candidates' lock keys
        # were checked against running jobs in this very transaction.
        return (await db.execute(start)).one_or_none()
    try:
        async with db.begin_nested():
            return (await db.execute(start)).one_or_none()
    except IntegrityError:
        # Another claimer started a job with this lock key after we ranked the
        # candidates: the partial unique index said no.
        return None


async def _try_lock_key(db: AsyncConnection, lock_key: str) -> bool:
    """Whether no other claim is starting a job with this lock key right now (PostgreSQL).

    Without it two claimers can deadlock: each starts a job, then each tries a job whose
    lock key the other just took, and each waits on the other's uncommitted entry in the
    one-running-job-per-lock-key index. Whoever finds the key taken skips it instead;
    the lock ends with the claim's transaction, when the index takes over.
    """
    if db.dialect.name != "postgresql":
        return True  # SQLite's write lock already makes claims one at a time.
    key = sa.func.hashtextextended("jobs.lock_key:" + lock_key, 0)
    return bool((await db.execute(sa.select(sa.func.pg_try_advisory_xact_lock(key)))).scalar())


_CONNECTIONS_PER_STATEMENT = 50


async def _candidates(
    db: AsyncConnection, filters: Sequence[sa.ColumnElement[bool]], count: int
) -> list[Any]:
    """The first `count` due jobs in claim order: lane, then each connection's turn.

    Each connection's own first `count` jobs are read through the waiting-jobs index
    (one short range scan per connection, several connections per statement) and merged
    here; ranking every waiting job in SQL instead cost a sort of the whole queue per
    claim (~200 ms at 55,000 jobs waiting in a backfill). Taking `count` per connection
    is exact: no connection can place more than `count` jobs in the result.
    """
    ranked = []
    groups: list[int | None] = [None, *await _connections_waiting(db)]
    for start in range(0, len(groups), _CONNECTIONS_PER_STATEMENT):
        arms = [
            sa.select(jobs.c.id, jobs.c.lock_key, jobs.c.connection_id, jobs.c.priority,
                      jobs.c.scheduled_at)
            .where(
                jobs.c.connection_id.is_(None) if group is None
                else jobs.c.connection_id == group,
                *filters,
            )
            .order_by(jobs.c.priority, jobs.c.scheduled_at, jobs.c.id)
            .limit(count)
            .subquery()
            for group in groups[start : start + _CONNECTIONS_PER_STATEMENT]
        ]  # fmt: skip
        statement = sa.union_all(*(sa.select(arm) for arm in arms))
        rows = (await db.execute(statement)).all()
        turns: dict[int | None, int] = {}
        for row in sorted(rows, key=lambda r: (r.priority, r.scheduled_at, r.id)):
            turn = turns[row.connection_id] = turns.get(row.connection_id, 0) + 1
            ranked.append((row.priority, turn, row.scheduled_at, row.id, row))
    ranked.sort(key=lambda entry: entry[:4])
    return [entry[4] for entry in ranked[:count]]


def _walk(hint: str) -> sa.TextClause:
    # Only constants are interpolated: the index hint and the waiting states.
    nearest = f"SELECT min(connection_id) FROM jobs{hint} WHERE {_WAITING_SQL}"  # noqa: S608
    walk = (
        "WITH RECURSIVE walk(cid) AS ("  # noqa: S608
        f" SELECT ({nearest})"
        f" UNION ALL SELECT ({nearest} AND connection_id > walk.cid)"
        " FROM walk WHERE walk.cid IS NOT NULL"
        ") SELECT cid FROM walk WHERE cid IS NOT NULL"
    )
    return sa.text(walk)


_WALK_SQLITE = _walk(" INDEXED BY ix_jobs_waiting_by_connection")
_WALK_POSTGRESQL = _walk("")


async def _connections_waiting(db: AsyncConnection) -> list[int]:
    """Connections with a waiting job, by seeks in the waiting-jobs index (not a scan).

    A recursive walk from one connection id to the next. SQLite is told the index:
    without statistics (no ANALYZE) its planner prefers scanning every waiting job
    through the `state` index, which is what this walk exists to avoid.
    """
    walk = _WALK_SQLITE if db.dialect.name == "sqlite" else _WALK_POSTGRESQL
    found = await db.execute(walk)
    return [int(cid) for cid in found.scalars()]


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
                    sa.select(jobs.c.id).where(jobs.c.unique_key == unique_key, _waiting)
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
        .where(jobs.c.id == job_id, _waiting)
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
    due = sa.and_(_waiting, jobs.c.scheduled_at <= now)
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
