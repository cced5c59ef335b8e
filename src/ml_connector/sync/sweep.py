"""The reconciliation sweep: find what FreshBooks changed that the webhooks never told us.

Webhooks are hints: FreshBooks may deliver late, twice or never. The sweep lists the
synced collections, compares every object's version with its mark (what the connector
last handed to the sync pipeline) and, for each change, asks the inbox whether a
delivery for it arrived after the change. If one did, the webhook already enqueued the
sync. If none did, the change was *missed by webhook*: the sweep enqueues the object's
sync (reconcile lane), writes a ``missed_by_webhook`` step to its audit trail and counts
it in ``mlc_sweep_missed_by_webhook``.

Windows, from what FreshBooks documents (reference §4.3, §5):

- bills have no documented `updated` filter, only `issue_date`: every sweep checks the
  bills issued in the last `bill_window`; a full pass (every `full_every`, and right
  after a backfill) checks all of them, so a late change to an old bill is caught too;
- expenses are windowed by `updated_min`, reaching `overlap` behind the previous sweep
  (day granularity, so one extra day covers the US/Eastern offset); FreshBooks is only
  believed to support it, and an ignored filter merely makes the pass complete;
- vendors and categories are few and have no documented filters: always listed whole;
- deleted objects are hidden from listings unless `search[vis_state]=1` asks, so each
  collection is listed a second time for its deleted objects.

Filters only make the sweep cheaper, never more correct: the marks decide. A sweep over
a firm where nothing changed makes list calls and no writes but its watermark.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import structlog
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncConnection

from ml_connector.clients.freshbooks import Search
from ml_connector.core.errors import NeedsAttentionError
from ml_connector.core.signatures import freshbooks as fb_signatures
from ml_connector.queue import Enqueued, Job, Lane, enqueue
from ml_connector.store import audit, read, sync_state
from ml_connector.store import object_marks as marks_store
from ml_connector.store.connections import ConnectionStatus
from ml_connector.store.object_marks import Mark, NewMark
from ml_connector.store.webhook_activity import deliveries_since
from ml_connector.sync.enumeration import (
    BACKFILL_KEY,
    BILL_VENDORS,
    BILLS,
    CATEGORIES,
    EXPENSES,
    SWEEP_KEY,
    Collection,
    Observation,
)
from ml_connector.sync.kinds import Kind, Source, enqueue_object_sync
from ml_connector.sync.runtime import Runtime

log = structlog.get_logger(__name__)

MISSED_BY_WEBHOOK = Counter(
    "mlc_sweep_missed_by_webhook",
    "FreshBooks changes the reconciliation sweep found with no webhook delivery, by kind.",
    ["kind"],
)

VIS_DELETED = 1
AUDIT_STEP = "missed_by_webhook"
ACTOR = "sweep"
FRESHBOOKS_SOURCE = "freshbooks"
"""The inbox `source` of FreshBooks deliveries (as the webhook endpoint records them)."""


@dataclass(frozen=True, kw_only=True)
class SweepSettings:
    grace: timedelta = timedelta(minutes=2)
    """A change younger than this may still have its webhook in flight: look next time."""
    clock_skew: timedelta = timedelta(seconds=60)
    """Deliveries are read from this far before the earliest change (theirs are our
    timestamps, the change's are FreshBooks'); only one received after the change vouches."""
    overlap: timedelta = timedelta(hours=1)
    """Each incremental window reaches this far behind the previous sweep's start."""
    bill_window: timedelta = timedelta(days=120)
    """Bills issued this recently are checked on every sweep."""
    full_every: timedelta = timedelta(hours=24)
    """How often every object of every collection is checked."""


class Verdict(StrEnum):
    UNCHANGED = "unchanged"
    """Same version as marked: nothing to do."""
    NOTIFIED = "notified"
    """Changed, and a webhook delivery for it arrived after the change."""
    KNOWN = "known"
    """Changed, but its Ramp side was written after the change (a replay, a manual sync)."""
    NEVER_SYNCED = "never_synced"
    """Deleted in FreshBooks before the connector ever saw or wrote it: nothing to undo."""
    DEFERRED = "deferred"
    """Changed moments ago; its webhook may still come. Judged by the next sweep."""
    MISSED = "missed"
    """Changed, and nothing told us: missed by webhook."""


def judge(
    observation: Observation,
    mark: Mark | None,
    *,
    notified_at: datetime | None,
    written_at: datetime | None,
    now: datetime,
    settings: SweepSettings,
) -> Verdict:
    """Decide what one listed object needs. Pure: the whole rule, in order."""
    if mark is not None and mark.version == observation.version:
        return Verdict.UNCHANGED
    if observation.vis_state == VIS_DELETED and mark is None and written_at is None:
        return Verdict.NEVER_SYNCED
    changed_at = observation.updated_at
    if notified_at is not None:
        # A delivery received after the change means the job it enqueued fetched the
        # change; without a timestamp, any delivery since we last looked counts. One
        # received shortly *before* the change (within the clock skew) is ambiguous — it
        # may announce an earlier change whose own webhook was lost — so it proves
        # nothing: only a Ramp write after the change does, else the object is re-synced
        # (an extra sync of a settled object is a no-op; a lost edit is not).
        floor = changed_at if changed_at is not None else (mark.seen_at if mark else None)
        if floor is None or notified_at >= floor:
            return Verdict.NOTIFIED
    if written_at is not None and changed_at is not None and written_at >= changed_at:
        return Verdict.KNOWN
    if changed_at is not None and changed_at > now - settings.grace:
        return Verdict.DEFERRED
    return Verdict.MISSED


@dataclass(frozen=True, kw_only=True)
class Pass:
    """One listing the sweep makes."""

    collection: Collection
    search: Search | None
    deleted: bool = False

    def query(self) -> Search | None:
        if not self.deleted:
            return self.search
        return (self.search or Search()).equals("vis_state", 1)


@dataclass(frozen=True, kw_only=True)
class SweepPlan:
    full: bool
    passes: tuple[Pass, ...]


def _parse_time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def plan_sweep(now: datetime, state: dict[str, Any], settings: SweepSettings) -> SweepPlan:
    """The listings of this sweep, from the previous sweep's watermark. Pure."""
    last_started = _parse_time(state.get("last_started_at"))
    last_full = _parse_time(state.get("last_full_at"))
    requested = _parse_time(state.get("full_requested_at"))
    full = (
        last_started is None
        or last_full is None
        or now - last_full >= settings.full_every
        or requested is not None
    )
    if full or last_started is None:
        bills: Search | None = None
        expenses: Search | None = None
    else:
        bills = Search().between("issue_date", min=(now - settings.bill_window).date())
        since = last_started - settings.overlap
        expenses = Search().between("updated", min=(since - timedelta(days=1)).date())
    listings = ((CATEGORIES, None), (BILL_VENDORS, None), (BILLS, bills), (EXPENSES, expenses))
    passes = tuple(
        Pass(collection=collection, search=search, deleted=deleted)
        for collection, search in listings
        for deleted in (False, True)
    )
    return SweepPlan(full=full, passes=passes)


@dataclass(kw_only=True)
class SweepReport:
    full: bool = False
    listed: int = 0
    changed: int = 0
    verdicts: dict[str, int] = field(default_factory=dict)
    missed: list[str] = field(default_factory=list)
    """`fb_type:fb_id` of each object missed by webhook (enqueued by this sweep)."""

    def count(self, verdict: Verdict) -> None:
        self.verdicts[verdict.value] = self.verdicts.get(verdict.value, 0) + 1


async def enqueue_sweep(db: AsyncConnection, *, connection_id: int, now: datetime) -> Enqueued:
    """Enqueue a sweep of the connection (one waits at a time; one runs at a time)."""
    return await enqueue(
        db,
        kind=Kind.SWEEP.value,
        args={"connection_id": connection_id},
        now=now,
        connection_id=connection_id,
        priority=Lane.RECONCILE,
        lock_key=f"{connection_id}:sweep",
        unique_key=f"{Kind.SWEEP.value}:{connection_id}",
    )


async def request_full_sweep(db: AsyncConnection, *, connection_id: int, now: datetime) -> Enqueued:
    """Ask for a full pass (after a backfill, or by an operator) and enqueue a sweep."""
    state = await sync_state.lock(db, connection_id, SWEEP_KEY, now=now)
    state["full_requested_at"] = now.isoformat()
    await sync_state.put(db, connection_id, SWEEP_KEY, state, now=now)
    return await enqueue_sweep(db, connection_id=connection_id, now=now)


def _notifications(bodies: Sequence[tuple[bytes, datetime]]) -> dict[tuple[str, str], datetime]:
    """The newest delivery time per (event noun, object id)."""
    latest: dict[tuple[str, str], datetime] = {}
    for body, received_at in bodies:
        try:
            delivery = fb_signatures.parse_delivery(body)
        except fb_signatures.InvalidDeliveryError:
            continue
        if not isinstance(delivery, fb_signatures.FreshBooksEvent):
            continue
        key = (delivery.resource, delivery.object_id)
        if key not in latest or received_at > latest[key]:
            latest[key] = received_at
    return latest


class Sweeper:
    """The `Kind.SWEEP` handler of one process."""

    def __init__(self, runtime: Runtime, settings: SweepSettings | None = None) -> None:
        self._runtime = runtime
        self.settings = settings or SweepSettings()

    async def __call__(self, job: Job) -> None:
        await self.sweep(int(job.args["connection_id"]), job_id=job.id)

    async def sweep(self, connection_id: int, *, job_id: int | None = None) -> SweepReport | None:
        """Reconcile one connection; None when it is not ready to be swept."""
        runtime = self._runtime
        connection = await runtime.connection(connection_id)
        if connection.status is not ConnectionStatus.ACTIVE:
            log.info("sweep.skipped", connection_id=connection_id, status=connection.status.value)
            return None
        account_id = connection.freshbooks_account_id
        if not account_id:
            raise NeedsAttentionError(
                f"connection {connection.name!r} has no FreshBooks business selected",
                code="freshbooks_account_missing",
            )
        async with read(runtime.engine) as db:
            backfill = await sync_state.get(db, connection_id, BACKFILL_KEY)
            state = await sync_state.get(db, connection_id, SWEEP_KEY) or {}
        if backfill is None or backfill.get("status") != "enumerated":
            # Until the initial load has listed everything, every object would look
            # "missed"; the backfill requests a full sweep when it is done.
            log.info("sweep.waiting_for_backfill", connection_id=connection_id)
            return None
        started = runtime.clock()
        plan = plan_sweep(started, state, self.settings)
        report = SweepReport(full=plan.full)
        fb = runtime.freshbooks_client(connection, background=True)
        try:
            for listing in plan.passes:
                number = 1
                while True:
                    page = await listing.collection.list_page(
                        fb, account_id, number, listing.query()
                    )
                    await self._reconcile(
                        connection_id, listing.collection, page.items, report, job_id
                    )
                    if page.is_last:
                        break
                    number += 1
        finally:
            await fb.aclose()
        await self._save_watermark(connection_id, started, plan, report)
        log.info(
            "sweep.done",
            connection_id=connection_id,
            full=plan.full,
            listed=report.listed,
            changed=report.changed,
            missed=len(report.missed),
        )
        return report

    async def _reconcile(
        self,
        connection_id: int,
        collection: Collection,
        observations: Sequence[Observation],
        report: SweepReport,
        job_id: int | None,
    ) -> None:
        runtime = self._runtime
        report.listed += len(observations)
        ids = [o.fb_id for o in observations]
        fb_type = collection.fb_type
        async with read(runtime.engine) as db:
            marks = await marks_store.marks_for(
                db, connection_id=connection_id, fb_type=fb_type, fb_ids=ids
            )
        changed = [
            o for o in observations if (m := marks.get(o.fb_id)) is None or m.version != o.version
        ]
        report.verdicts[Verdict.UNCHANGED.value] = (
            report.verdicts.get(Verdict.UNCHANGED.value, 0) + len(observations) - len(changed)
        )
        if not changed:
            return
        report.changed += len(changed)
        since = self._deliveries_floor(changed, marks)
        changed_ids = [o.fb_id for o in changed]
        async with read(runtime.engine) as db:
            deliveries = await deliveries_since(
                db, source=FRESHBOOKS_SOURCE, connection_id=connection_id, since=since
            )
            written = await marks_store.last_written(
                db, connection_id=connection_id, fb_type=fb_type, fb_ids=changed_ids
            )
        notified = _notifications([(d.body, d.received_at) for d in deliveries])
        now = runtime.clock()
        verdicts = {
            o.fb_id: judge(
                o,
                marks.get(o.fb_id),
                notified_at=notified.get((collection.event_noun, o.fb_id)),
                written_at=written.get(o.fb_id),
                now=now,
                settings=self.settings,
            )
            for o in changed
        }
        for verdict in verdicts.values():
            report.count(verdict)
        settled = [o for o in changed if verdicts[o.fb_id] is not Verdict.DEFERRED]
        if not settled:
            return
        missed = [o for o in settled if verdicts[o.fb_id] is Verdict.MISSED]
        async with runtime.engine.begin() as db:
            for observation in missed:
                mark = marks.get(observation.fb_id)
                enqueued = await enqueue_object_sync(
                    db,
                    kind=collection.kind,
                    connection_id=connection_id,
                    fb_id=observation.fb_id,
                    source=Source.SWEEP,
                    now=now,
                )
                await audit.append(
                    db,
                    object_type=fb_type,
                    step=AUDIT_STEP,
                    at=now,
                    actor=ACTOR,
                    connection_id=connection_id,
                    fb_id=observation.fb_id,
                    job_id=job_id,
                    detail={
                        "freshbooks_updated_at": _iso(observation.updated_at),
                        "vis_state": observation.vis_state,
                        "previous_version": None if mark is None else mark.version,
                        "last_seen_at": None if mark is None else mark.seen_at.isoformat(),
                        "sync_job_id": enqueued.job_id,
                        "coalesced": enqueued.coalesced,
                    },
                )
            await marks_store.save_marks(
                db,
                connection_id=connection_id,
                fb_type=fb_type,
                marks=[
                    NewMark(fb_id=o.fb_id, version=o.version, remote_updated_at=o.updated_at)
                    for o in settled
                ],
                now=now,
            )
        for observation in missed:
            MISSED_BY_WEBHOOK.labels(kind=fb_type).inc()
            report.missed.append(f"{fb_type}:{observation.fb_id}")
            log.warning(
                "sweep.missed_by_webhook",
                connection_id=connection_id,
                fb_type=fb_type,
                fb_id=observation.fb_id,
            )

    def _deliveries_floor(
        self, changed: Sequence[Observation], marks: dict[str, Mark]
    ) -> datetime | None:
        """The earliest delivery time that can vouch for one of these changes."""
        floors: list[datetime] = []
        for observation in changed:
            if observation.updated_at is not None:
                floors.append(observation.updated_at - self.settings.clock_skew)
                continue
            mark = marks.get(observation.fb_id)
            if mark is None:
                return None
            floors.append(mark.seen_at)
        return min(floors)

    async def _save_watermark(
        self, connection_id: int, started: datetime, plan: SweepPlan, report: SweepReport
    ) -> None:
        runtime = self._runtime
        finished = runtime.clock()
        async with runtime.engine.begin() as db:
            state = await sync_state.lock(db, connection_id, SWEEP_KEY, now=finished)
            state["last_started_at"] = started.isoformat()
            state["last_finished_at"] = finished.isoformat()
            if plan.full:
                state["last_full_at"] = started.isoformat()
                requested = _parse_time(state.get("full_requested_at"))
                if requested is not None and requested <= started:
                    # Served by this pass; a request made while it ran stays for the next.
                    del state["full_requested_at"]
            state["last_report"] = {
                "full": report.full,
                "listed": report.listed,
                "changed": report.changed,
                "verdicts": dict(report.verdicts),
                "missed": len(report.missed),
            }
            state["missed_total"] = int(state.get("missed_total", 0)) + len(report.missed)
            await sync_state.put(db, connection_id, SWEEP_KEY, state, now=finished)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


__all__ = [
    "ACTOR",
    "AUDIT_STEP",
    "MISSED_BY_WEBHOOK",
    "Pass",
    "SweepPlan",
    "SweepReport",
    "SweepSettings",
    "Sweeper",
    "Verdict",
    "enqueue_sweep",
    "judge",
    "plan_sweep",
    "request_full_sweep",
]
