"""The initial backfill: list every FreshBooks object once and enqueue its sync, resumably.

A backfill is a chain of `Kind.BACKFILL` jobs, one per page: each fetches one page of
one collection (categories, bill vendors, bills, expenses — dependency order), then in a
single transaction enqueues an object sync per listed object (backfill lane), marks the
objects for the sweep, advances the run's progress and enqueues the job for the next
page. That transaction is the checkpoint: a worker killed before it commits leaves the
job to be retried on the same page with nothing of it enqueued; killed after, the next
page's job is already waiting. Either way the run finishes with every object enqueued
once — a page's retry is recognized by its checkpoint and does nothing twice, and an
object re-listed because FreshBooks' pages shifted is not enqueued again.

Page-number pagination can also shift the other way (a deletion during the run moves an
object onto a page already read), so the run ends by requesting a full sweep, which
enqueues anything the listing skipped.

Each object's sync job carries the object as listed (`sync.snapshots`), so its first
attempt plans without fetching it again: a backfill costs FreshBooks about one call per
hundred objects instead of one per object.

The page jobs run in the reconcile lane, ahead of the object syncs they enqueue, so the
totals are known early; the object syncs run in the backfill lane, behind live webhooks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from ml_connector.core.errors import FatalError, NeedsAttentionError
from ml_connector.queue import (
    WAITING,
    Enqueued,
    Job,
    JobState,
    Lane,
    Registry,
    cancel,
    enqueue,
    enqueue_many,
)
from ml_connector.queue import list_jobs as list_queue_jobs
from ml_connector.store import audit, read, sync_state
from ml_connector.store import object_marks as marks_store
from ml_connector.store.connections import ConnectionStatus
from ml_connector.store.job_tally import count_jobs
from ml_connector.store.object_marks import Mark, NewMark
from ml_connector.sync import snapshots
from ml_connector.sync.enumeration import (
    BACKFILL_KEY,
    BY_NAME,
    CATEGORIES,
    COLLECTIONS,
    Collection,
    Observation,
)
from ml_connector.sync.kinds import Kind, Source, object_sync_job
from ml_connector.sync.runtime import Runtime
from ml_connector.sync.sweep import Sweeper, SweepSettings, request_full_sweep

log = structlog.get_logger(__name__)

AUDIT_STEP = "queued_by_backfill"
ACTOR = "backfill"

RUNNING = "running"
ENUMERATED = "enumerated"
"""Run states stored in sync_state: pages still to list / every page listed."""


# --- starting -----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class BackfillStart:
    run: int
    started: bool
    """False when a run was already in progress and `restart` was not asked for."""
    job_id: int | None


def _fresh_state(run: int, now: datetime, order: Sequence[Collection]) -> dict[str, Any]:
    return {
        "run": run,
        "status": RUNNING,
        "started_at": now.isoformat(),
        "enumerated_at": None,
        "order": [c.name for c in order],
        "collections": {
            c.name: {"total": None, "pages": None, "enumerated": 0, "next_page": 1, "done": False}
            for c in order
        },
    }


async def _enqueue_page(
    db: AsyncConnection, *, connection_id: int, run: int, resource: str, page: int, now: datetime
) -> Enqueued:
    return await enqueue(
        db,
        kind=Kind.BACKFILL.value,
        args={"connection_id": connection_id, "run": run, "resource": resource, "checkpoint": page},
        now=now,
        connection_id=connection_id,
        priority=Lane.RECONCILE,
        lock_key=f"{connection_id}:backfill",
        # One key per step, not per connection: a step whose worker died after its
        # checkpoint committed must not be taken for (and cancel) the step it enqueued.
        unique_key=f"{Kind.BACKFILL.value}:{connection_id}:{run}:{resource}:{page}",
    )


async def start_backfill(
    db: AsyncConnection, connection_id: int, now: datetime, *, restart: bool = False
) -> BackfillStart:
    """Start a backfill run in the caller's transaction.

    A run in progress is left alone (and reported) unless `restart`: then its waiting
    page job is cancelled, and a page job of the old run that is running right now
    finds the run superseded when it commits and does nothing.
    """
    state = await sync_state.lock(db, connection_id, BACKFILL_KEY, now=now)
    if state.get("status") == RUNNING and not restart:
        return BackfillStart(run=int(state["run"]), started=False, job_id=None)
    if restart:
        for job in await list_queue_jobs(
            db, states=WAITING, kind=Kind.BACKFILL.value, connection_id=connection_id
        ):
            await cancel(db, job.id, now=now)
    run = int(state.get("run", 0)) + 1
    fresh = _fresh_state(run, now, COLLECTIONS)
    enqueued = await _enqueue_page(
        db, connection_id=connection_id, run=run, resource=COLLECTIONS[0].name, page=1, now=now
    )
    await sync_state.put(db, connection_id, BACKFILL_KEY, fresh, now=now)
    log.info("backfill.started", connection_id=connection_id, run=run)
    return BackfillStart(run=run, started=True, job_id=enqueued.job_id)


# --- the page job -------------------------------------------------------------------


def _is_current(state: Mapping[str, Any] | None, run: int, resource: str, page: int) -> bool:
    """True while this page is the run's next step (not superseded, not done already)."""
    if state is None or state.get("run") != run or state.get("status") != RUNNING:
        return False
    entry = state.get("collections", {}).get(resource)
    return entry is not None and not entry["done"] and entry["next_page"] == page


def _next_collection(state: Mapping[str, Any], resource: str) -> str | None:
    order: list[str] = list(state["order"])
    position = order.index(resource)
    return order[position + 1] if position + 1 < len(order) else None


class Backfiller:
    """The `Kind.BACKFILL` handler: one page per job, checkpointed in its transaction."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    async def __call__(self, job: Job) -> None:
        args = job.args
        connection_id = int(args["connection_id"])
        run = int(args["run"])
        resource = str(args["resource"])
        page_number = int(args["checkpoint"])
        collection = BY_NAME.get(resource)
        if collection is None:
            raise FatalError(f"backfill job names an unknown collection {resource!r}")
        runtime = self._runtime
        async with read(runtime.engine) as db:
            state = await sync_state.get(db, connection_id, BACKFILL_KEY)
        if not _is_current(state, run, resource, page_number):
            log.info("backfill.stale_step", connection_id=connection_id, run=run, job_id=job.id)
            return
        connection = await runtime.connection(connection_id)
        if connection.status is not ConnectionStatus.ACTIVE:
            raise NeedsAttentionError(
                f"connection {connection.name!r} is {connection.status.value}; replay this job "
                f"to resume the backfill at page {page_number} of {resource}",
                code="connection_not_active",
            )
        account_id = connection.freshbooks_account_id
        if not account_id:
            raise NeedsAttentionError(
                f"connection {connection.name!r} has no FreshBooks business selected",
                code="freshbooks_account_missing",
            )
        fb = runtime.freshbooks_client(connection, background=True)
        try:
            page = await collection.list_page(fb, account_id, page_number, None)
        finally:
            await fb.aclose()
        now = runtime.clock()
        async with runtime.engine.begin() as db:
            state = await sync_state.lock(db, connection_id, BACKFILL_KEY, now=now)
            if not _is_current(state, run, resource, page_number):
                log.info("backfill.stale_step", connection_id=connection_id, run=run)
                return
            enqueued = await self._enqueue_objects(
                db,
                connection_id=connection_id,
                collection=collection,
                items=page.items,
                state=state,
                page_number=page_number,
                job_id=job.id,
                now=now,
            )
            entry = state["collections"][resource]
            entry["total"] = page.total
            entry["pages"] = page.pages
            entry["enumerated"] += enqueued
            if not page.is_last:
                entry["next_page"] = page_number + 1
                await _enqueue_page(
                    db,
                    connection_id=connection_id,
                    run=run,
                    resource=resource,
                    page=page_number + 1,
                    now=now,
                )
            else:
                entry["next_page"] = None
                entry["done"] = True
                following = _next_collection(state, resource)
                if following is not None:
                    await _enqueue_page(
                        db,
                        connection_id=connection_id,
                        run=run,
                        resource=following,
                        page=1,
                        now=now,
                    )
                else:
                    state["status"] = ENUMERATED
                    state["enumerated_at"] = now.isoformat()
                    await request_full_sweep(db, connection_id=connection_id, now=now)
            await sync_state.put(db, connection_id, BACKFILL_KEY, state, now=now)
        log.info(
            "backfill.page",
            connection_id=connection_id,
            run=run,
            resource=resource,
            page=page_number,
            pages=page.pages,
            enqueued=enqueued,
        )

    async def _enqueue_objects(
        self,
        db: AsyncConnection,
        *,
        connection_id: int,
        collection: Collection,
        items: Sequence[Any],
        state: Mapping[str, Any],
        page_number: int,
        job_id: int,
        now: datetime,
    ) -> int:
        fb_type = collection.fb_type
        run_started = datetime.fromisoformat(state["started_at"])
        marks = await marks_store.marks_for(
            db, connection_id=connection_id, fb_type=fb_type, fb_ids=[o.fb_id for o in items]
        )
        fresh = [
            observation
            for observation in items
            if not _already_enqueued(marks.get(observation.fb_id), observation, run_started)
        ]
        # Categories are listed only as the sweep's baseline: a category has nothing of
        # its own in Ramp, and this run syncs every bill and expense anyway, so
        # re-evaluating their users now would only repeat that work.
        syncs = [] if collection is CATEGORIES else fresh
        results = await enqueue_many(
            db,
            [
                object_sync_job(
                    kind=collection.kind,
                    connection_id=connection_id,
                    fb_id=observation.fb_id,
                    source=Source.BACKFILL,
                    # The job plans from what this page listed (first attempt only).
                    extra=None
                    if observation.wire is None
                    else {snapshots.SNAPSHOT_ARG: snapshots.to_arg(observation.wire)},
                )
                for observation in syncs
            ],
            now=now,
        )
        await audit.append_many(
            db,
            [
                audit.NewEntry(
                    object_type=fb_type,
                    step=AUDIT_STEP,
                    at=now,
                    actor=ACTOR,
                    connection_id=connection_id,
                    fb_id=observation.fb_id,
                    job_id=job_id,
                    detail={
                        "run": state["run"],
                        "collection": collection.name,
                        "page": page_number,
                        "freshbooks_updated_at": (
                            None
                            if observation.updated_at is None
                            else observation.updated_at.isoformat()
                        ),
                        "vis_state": observation.vis_state,
                        "sync_job_id": result.job_id,
                        "coalesced": result.coalesced,
                    },
                )
                for observation, result in zip(syncs, results, strict=True)
            ],
        )
        await marks_store.save_marks(
            db,
            connection_id=connection_id,
            fb_type=fb_type,
            marks=[
                NewMark(fb_id=o.fb_id, version=o.version, remote_updated_at=o.updated_at)
                for o in fresh
            ],
            now=now,
        )
        return len(fresh)


def _already_enqueued(mark: Mark | None, observation: Observation, run_started: datetime) -> bool:
    """Listed again by this run: the page boundaries moved under us."""
    return mark is not None and mark.seen_at >= run_started and mark.version == observation.version


# --- progress -----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class CollectionProgress:
    collection: str
    total: int | None
    """What FreshBooks reported on the first page (None until it is listed)."""
    enumerated: int
    """Objects whose sync this run enqueued."""
    synced: int
    failed: int
    """Dead or waiting for attention: see the queue for reasons; replayable."""
    pending: int
    superseded: int
    """Cancelled because a newer job for the same object took over."""
    listed: bool

    @property
    def done(self) -> int:
        return self.synced + self.failed + self.superseded


@dataclass(frozen=True, kw_only=True)
class BackfillProgress:
    run: int
    status: str
    """``enumerating``, ``syncing``, ``completed`` or ``stalled`` (the page job gave up)."""
    started_at: datetime
    enumerated_at: datetime | None
    collections: tuple[CollectionProgress, ...]
    error: str | None
    """Why the page job stopped, when `status` is ``stalled``."""

    @property
    def total(self) -> int:
        return sum((c.total or 0) for c in self.collections)

    @property
    def done(self) -> int:
        return sum(c.done for c in self.collections)

    @property
    def finished(self) -> bool:
        return self.status == "completed"


_SYNCED = {JobState.COMPLETED.value}
_FAILED = {JobState.DEAD.value, JobState.ATTENTION.value}
_SUPERSEDED = {JobState.CANCELLED.value}


async def backfill_progress(runtime: Runtime, connection_id: int) -> BackfillProgress | None:
    """The latest run's progress per collection (None if no backfill ever started)."""
    async with read(runtime.engine) as db:
        state = await sync_state.get(db, connection_id, BACKFILL_KEY)
        if state is None:
            return None
        started_at = datetime.fromisoformat(state["started_at"])
        counts = await count_jobs(
            db,
            connection_id=connection_id,
            kinds=[c.kind.value for c in COLLECTIONS],
            since=started_at,
            args_equal={"source": Source.BACKFILL.value},
        )
        latest = await list_queue_jobs(
            db, kind=Kind.BACKFILL.value, connection_id=connection_id, limit=1
        )
    collections = []
    for name in state["order"]:
        entry = state["collections"][name]
        by_state = counts.get(BY_NAME[name].kind.value, {})
        synced = sum(n for s, n in by_state.items() if s in _SYNCED)
        failed = sum(n for s, n in by_state.items() if s in _FAILED)
        superseded = sum(n for s, n in by_state.items() if s in _SUPERSEDED)
        collections.append(
            CollectionProgress(
                collection=name,
                total=entry["total"],
                enumerated=entry["enumerated"],
                synced=synced,
                failed=failed,
                pending=sum(by_state.values()) - synced - failed - superseded,
                superseded=superseded,
                listed=entry["done"],
            )
        )
    error = None
    if state["status"] == RUNNING:
        page_job = latest[0] if latest else None
        if page_job is not None and page_job.state in (JobState.DEAD, JobState.ATTENTION):
            status, error = "stalled", page_job.last_error
        else:
            status = "enumerating"
    else:
        status = "syncing" if any(c.pending for c in collections) else "completed"
    enumerated_at = state.get("enumerated_at")
    return BackfillProgress(
        run=int(state["run"]),
        status=status,
        started_at=started_at,
        enumerated_at=datetime.fromisoformat(enumerated_at) if enumerated_at else None,
        collections=tuple(collections),
        error=error,
    )


# --- registration -------------------------------------------------------------------


def register_backfill_handlers(
    registry: Registry, runtime: Runtime, *, sweep_settings: SweepSettings | None = None
) -> None:
    """Register `Kind.BACKFILL` and `Kind.SWEEP` (the worker composes this with the rest)."""
    registry.register(Kind.BACKFILL.value, Backfiller(runtime))
    registry.register(Kind.SWEEP.value, Sweeper(runtime, sweep_settings))


__all__ = [
    "ACTOR",
    "AUDIT_STEP",
    "BackfillProgress",
    "BackfillStart",
    "Backfiller",
    "CollectionProgress",
    "backfill_progress",
    "register_backfill_handlers",
    "start_backfill",
]
