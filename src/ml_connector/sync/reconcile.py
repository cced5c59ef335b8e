"""The reconciliation report's I/O: read both systems for a period, compare, store, heal.

Read-only by default. Every read goes through the connection's clients, so the shared
FreshBooks and Ramp rate budgets apply exactly as they do to the sync jobs. The comparison
itself is `core.reconcile`; this module gathers its inputs:

- the period's FreshBooks bills (all bills are listed once: a bill's payment terms are
  inferred from its vendor's other bills, as the planner does in a sync);
- for each, the planner's verdict under the mapping version recorded on its link (a
  mapping change is not drift; the mapping-impact preview reports those);
- Ramp's bills issued in the period (active and archived) plus the ones links point at.

Heal re-enqueues FreshBooks-side differences as ordinary object syncs (source MANUAL), after
re-checking each one against both systems at that moment: a bill edited in Ramp by hand
since the report was drawn is flagged, never overwritten.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

from ml_connector.clients.ramp import RampClient
from ml_connector.clients.ramp import models as ramp_wire
from ml_connector.core.actions import Action, Review, Subject
from ml_connector.core.errors import NeedsAttentionError, NotFoundError
from ml_connector.core.model import Bill, Category, FreshBooksKind, Link, RampKind, VisState
from ml_connector.core.money import Money, from_minor_units
from ml_connector.core.plan import PlanContext, plan_bill
from ml_connector.core.plan_context import freshbooks_ref
from ml_connector.core.reconcile import (
    FreshBooksSide,
    Period,
    RampSide,
    Report,
    expected_bill_content,
    reconcile,
    report_document,
)
from ml_connector.queue import Enqueued, Job, Registry, enqueue
from ml_connector.store import links as links_store
from ml_connector.store import read, sync_state
from ml_connector.sync import convert
from ml_connector.sync.kinds import Kind, Source, enqueue_object_sync
from ml_connector.sync.planning import Caches, Session, open_session, plan_object
from ml_connector.sync.ramp_state import Reference
from ml_connector.sync.runtime import Runtime

__all__ = [
    "LAST_KEY",
    "HealOutcome",
    "HealPreview",
    "default_period",
    "enqueue_reconcile",
    "heal",
    "period_key",
    "preview_heal",
    "register_reconcile_handlers",
    "run_report",
    "store_report",
    "stored_report",
]

LAST_KEY = "reconcile:last"
"""`store.sync_state` key of the last report drawn for a connection (the dashboard's)."""


def period_key(period: Period) -> str:
    """`store.sync_state` key of the last report drawn for one period."""
    return f"reconcile:{period.start.isoformat()}..{period.end.isoformat()}"


def default_period(today: date) -> Period:
    """The month being closed: the previous calendar month."""
    first = today.replace(day=1)
    last_month_end = first - timedelta(days=1)
    return Period(last_month_end.replace(day=1), last_month_end)


# --- Ramp's side, rebuilt in the planner's shape -------------------------------------


def ramp_content(bill: ramp_wire.Bill) -> dict[str, Any]:
    """A Ramp bill as the content the planner hashes (see `core.plan.plan_bill`).

    Unchanged since our write, this hashes to the link's hash; any field edited in Ramp
    (an amount, a line's coding, the vendor, a date) changes it.
    """
    currency = bill.amount.currency_code
    lines = []
    for line in bill.line_items:
        money = from_minor_units(line.amount.amount, line.amount.currency_code or currency)
        # An amount Ramp reports in a unit we cannot read stays visibly different.
        amount = format(money.amount, "f") if isinstance(money, Money) else repr(money)
        lines.append(
            {
                "amount": amount,
                "memo": line.memo,
                "accounting_field_selections": [
                    {
                        "field_external_id": (
                            s.category_info.external_id if s.category_info else None
                        ),
                        "field_option_external_id": s.external_id,
                    }
                    for s in line.accounting_field_selections
                ],
            }
        )
    return {
        "vendor_id": bill.vendor.id if bill.vendor is not None else None,
        "vendor_contact_id": bill.vendor_contact_id,
        "entity_id": bill.entity_id,
        "invoice_number": bill.invoice_number,
        "invoice_currency": currency,
        "issued_at": bill.issued_at.date().isoformat() if bill.issued_at else None,
        "due_at": bill.due_at.date().isoformat() if bill.due_at else None,
        "memo": bill.memo,
        "remote_id": bill.remote_id,
        "line_items": lines,
    }


def ramp_side(bill: ramp_wire.Bill) -> RampSide:
    return RampSide(
        id=bill.id,
        remote_id=bill.remote_id,
        content=ramp_content(bill),
        currency=bill.amount.currency_code,
        archived=bill.is_archived,
        paid=bill.is_paid,
    )


async def _ramp_bills(ramp: RampClient, period: Period) -> dict[str, ramp_wire.Bill]:
    out: dict[str, ramp_wire.Bill] = {}
    for archived in (False, True):
        async for bill in ramp.bills.list(
            is_archived=archived, from_issued_date=period.start, to_issued_date=period.end
        ):
            out[bill.id] = bill
    return out


# --- FreshBooks' side ----------------------------------------------------------------


@dataclass
class _Books:
    bills: dict[str, Any]
    vendors: dict[str, Any]

    def offsets(self, vendor_id: str, bill_id: str) -> list[int]:
        """The vendor's other bills' terms, most recent first (as `plan_bill_object`)."""
        others = [
            b
            for b in self.bills.values()
            if str(b.vendor_id) == vendor_id and str(b.id) != bill_id
            and b.vis_state != VisState.DELETED
        ]  # fmt: skip
        others.sort(key=lambda b: (b.issue_date, b.id), reverse=True)
        return [b.due_offset_days for b in others]


async def _books(session: Session) -> _Books:
    account = session.account_id
    bills = {str(b.id): b async for b in session.fb.bills(account).list()}
    vendors = {str(v.vendorid): v async for v in session.fb.bill_vendors(account).list()}
    return _Books(bills, vendors)


@dataclass(frozen=True)
class _Stored:
    link: Link
    mapping_version: int | None


async def _links(
    runtime: Runtime, connection_id: int, objects: Iterable[tuple[FreshBooksKind, str]]
) -> dict[tuple[FreshBooksKind, str], _Stored]:
    out: dict[tuple[FreshBooksKind, str], _Stored] = {}
    async with read(runtime.engine) as db:
        for kind, fb_id in objects:
            rows = await links_store.for_fb_object(
                db, connection_id=connection_id, fb_type=kind.value, fb_id=fb_id
            )
            rows = [r for r in rows if r.ramp_id]
            if not rows:
                continue
            row = max(rows, key=lambda r: r.updated_at)
            link = Link(
                fb_kind=kind, fb_id=fb_id, ramp_kind=RampKind(row.ramp_type),
                ramp_id=row.ramp_id or "", content_hash="sha256:" + (row.content_hash or ""),
                version=row.version,
            )  # fmt: skip
            out[(kind, fb_id)] = _Stored(link, row.mapping_version)
    return out


@dataclass
class _Inputs:
    """Everything read for one report, shared by the per-version planning passes."""

    books: _Books
    in_period: dict[str, Any]
    links: dict[tuple[FreshBooksKind, str], _Stored]
    remote: dict[str, ramp_wire.Bill]
    categories: tuple[Category, ...] = ()

    def own(self, fb_id: str) -> _Stored | None:
        return self.links.get((FreshBooksKind.BILL, fb_id))

    def all_links(self) -> list[Link]:
        return [s.link for s in self.links.values()]


def _freshbooks_side(
    wire: Any, inputs: _Inputs, session: Session, reference: Reference
) -> FreshBooksSide:
    fb_id = str(wire.id)
    subject = Subject(FreshBooksKind.BILL, fb_id)
    try:
        bill = convert.bill(wire)
    except NeedsAttentionError as exc:
        bill = Bill(
            id=fb_id, vendor_id=None, issue_date=wire.issue_date, due_offset_days=0,
            currency=wire.currency_code, lines=(),
        )  # fmt: skip
        review = Review(subject=subject, reason=exc.reason, code=exc.code or "bill.unreadable")
        return FreshBooksSide(bill=bill, vendor_name=None, actions=(review,), expected=None,
                              link=None)  # fmt: skip
    vendor_wire = inputs.books.vendors.get(bill.vendor_id or "") or getattr(wire, "vendor", None)
    vendor = None if vendor_wire is None else convert.vendor(vendor_wire)
    own = inputs.own(fb_id)
    vendor_link = inputs.links.get((FreshBooksKind.VENDOR, bill.vendor_id or ""))
    remote = inputs.remote.get(own.link.ramp_id) if own is not None else None
    ctx = PlanContext.build(
        session.config,
        ramp=reference.state(bills=[convert.ramp_bill(remote)] if remote is not None else ()),
        links=[s.link for s in (own, vendor_link) if s is not None],
        categories=inputs.categories,
        today=session.today,
    )
    offsets = inputs.books.offsets(bill.vendor_id, fb_id) if bill.vendor_id else []
    actions: tuple[Action, ...] = plan_bill(bill, vendor, ctx, vendor_recent_offsets=offsets)
    expected = expected_bill_content(bill, vendor, ctx, vendor_recent_offsets=offsets)
    return FreshBooksSide(
        bill=bill,
        vendor_name=vendor.name if vendor is not None else None,
        actions=actions,
        expected=expected,
        link=own.link if own is not None and own.link.ramp_kind is RampKind.BILL else None,
        mapping_version=own.mapping_version if own is not None else session.mapping_version,
    )


def _names(reference: Reference) -> dict[str, str]:
    names = {v.id: v.name for v in reference.vendors}
    for account in reference.gl_accounts:
        names[account.id] = f"{account.code} {account.name}" if account.code else account.name
    for option in reference.field_options:
        names[f"{option.field}:{option.id}"] = option.name
    return names


async def run_report(
    runtime: Runtime,
    connection_id: int,
    period: Period,
    *,
    only: Iterable[str] | None = None,
    caches: Caches | None = None,
) -> Report:
    """Draw the report of `period` (read-only). `only` narrows it to some FreshBooks bills."""
    caches = caches or Caches.build(runtime.clock)
    wanted = None if only is None else {str(x) for x in only}
    async with open_session(runtime, connection_id, caches) as session:
        books = await _books(session)
        in_period = {
            fb_id: b for fb_id, b in books.bills.items()
            if b.issue_date in period and (wanted is None or fb_id in wanted)
            and b.vis_state != VisState.DELETED
        }  # fmt: skip
        objects = [(FreshBooksKind.BILL, fb_id) for fb_id in in_period]
        objects += [
            (FreshBooksKind.VENDOR, str(b.vendor_id))
            for b in in_period.values()
            if b.vendor_id is not None
        ]
        links = await _links(runtime, connection_id, dict.fromkeys(objects))
        remote = {} if wanted is not None else await _ramp_bills(session.ramp, period)
        inputs = _Inputs(books, in_period, links, remote)
        for fb_id in in_period:
            stored = inputs.own(fb_id)
            if stored is None or stored.link.ramp_kind is not RampKind.BILL:
                continue
            if stored.link.ramp_id not in remote:
                try:
                    remote[stored.link.ramp_id] = await session.ramp.bills.get(stored.link.ramp_id)
                except NotFoundError:
                    continue
        reference = await session.reference(inputs.all_links())
        inputs.categories = await session.categories()
        sides = await _sides_by_version(runtime, caches, session, inputs)
        prefix = freshbooks_ref(session.account_id, "bill", "")
        explained = await _explained(runtime, connection_id, inputs, prefix)
        return reconcile(
            period,
            sides,
            [ramp_side(b) for b in remote.values()],
            our_prefix=prefix,
            gl_field=session.config.connection.gl_field,
            names=_names(reference),
            explained_ramp_ids=explained,
        )


async def _sides_by_version(
    runtime: Runtime, caches: Caches, session: Session, inputs: _Inputs
) -> list[FreshBooksSide]:
    """Each bill planned under the mapping version it was last written with."""
    by_version: dict[int | None, list[str]] = defaultdict(list)
    for fb_id in inputs.in_period:
        stored = inputs.own(fb_id)
        version = stored.mapping_version if stored is not None else None
        by_version[None if version == session.mapping_version else version].append(fb_id)
    sides: list[FreshBooksSide] = []
    for version, ids in by_version.items():
        if version is None:
            reference = await session.reference(inputs.all_links())
            sides += [
                _freshbooks_side(inputs.in_period[i], inputs, session, reference) for i in ids
            ]
            continue
        async with open_session(
            runtime, session.connection.id, caches, mapping_version=version
        ) as old:
            reference = await old.reference(inputs.all_links())
            sides += [_freshbooks_side(inputs.in_period[i], inputs, old, reference) for i in ids]
    return sides


async def _explained(
    runtime: Runtime, connection_id: int, inputs: _Inputs, prefix: str
) -> set[str]:
    """Ramp bills of the period made for a live FreshBooks bill of another period."""
    out: set[str] = set()
    async with read(runtime.engine) as db:
        for bill in inputs.remote.values():
            if not (bill.remote_id or "").startswith(prefix):
                continue
            link = await links_store.find_by_ramp_id(
                db, connection_id=connection_id, ramp_type=RampKind.BILL.value, ramp_id=bill.id
            )
            if link is None or link.fb_id in inputs.in_period:
                continue
            live = inputs.books.bills.get(link.fb_id)
            if link.fb_type != FreshBooksKind.BILL.value or (
                live is not None and live.vis_state != VisState.DELETED
            ):
                out.add(bill.id)
    return out


# --- storing, scheduling -------------------------------------------------------------


async def store_report(
    runtime: Runtime, connection_id: int, report: Report, *, source: str
) -> dict[str, Any]:
    now = runtime.clock()
    document = {**report_document(report), "drawn_at": now.isoformat(), "source": source}
    async with runtime.engine.begin() as db:
        await sync_state.put(db, connection_id, period_key(report.period), document, now=now)
        await sync_state.put(db, connection_id, LAST_KEY, document, now=now)
    return document


async def stored_report(
    runtime: Runtime, connection_id: int, period: Period | None = None
) -> dict[str, Any] | None:
    """The last report drawn (for `period`, or of any period)."""
    async with read(runtime.engine) as db:
        key = LAST_KEY if period is None else period_key(period)
        return await sync_state.get(db, connection_id, key)


async def enqueue_reconcile(
    db: Any, *, connection_id: int, now: datetime, period: Period | None = None
) -> Enqueued:
    """Schedule a report (read-only); a waiting one for the same period absorbs this one."""
    period = period or default_period(now.date())
    return await enqueue(
        db,
        kind=Kind.RECONCILE.value,
        args={
            "connection_id": connection_id,
            "start": period.start.isoformat(),
            "end": period.end.isoformat(),
        },
        now=now,
        connection_id=connection_id,
        unique_key=f"{Kind.RECONCILE.value}:{connection_id}:{period_key(period)}",
    )


async def _handle(runtime: Runtime, caches: Caches, job: Job) -> None:
    connection_id = int(job.args["connection_id"])
    start, end = job.args.get("start"), job.args.get("end")
    period = (
        Period(date.fromisoformat(start), date.fromisoformat(end))
        if isinstance(start, str) and isinstance(end, str)
        else default_period(runtime.clock().date())
    )
    report = await run_report(runtime, connection_id, period, caches=caches)
    await store_report(runtime, connection_id, report, source=f"job:{job.id}")


def register_reconcile_handlers(registry: Registry, runtime: Runtime) -> None:
    """Register `Kind.RECONCILE` (draws a period's report and stores it for the dashboard)."""
    registry.register(Kind.RECONCILE.value, partial(_handle, runtime, Caches.build(runtime.clock)))


# --- heal ----------------------------------------------------------------------------


@dataclass(frozen=True)
class HealPreview:
    """What heal would re-push: per FreshBooks bill, the dry-run actions of its sync."""

    fb_id: str
    reason: str
    actions: tuple[Action, ...]


async def preview_heal(runtime: Runtime, connection_id: int, report: Report) -> list[HealPreview]:
    """The dry-run diff of every healable difference (no writes anywhere)."""
    out = []
    caches = Caches.build(runtime.clock)
    for entry in report.healable:
        assert entry.fb_id is not None
        actions = await plan_object(runtime, connection_id, "bill", entry.fb_id, caches=caches)
        out.append(HealPreview(entry.fb_id, entry.reason, actions))
    return out


@dataclass(frozen=True)
class HealOutcome:
    enqueued: tuple[tuple[str, int], ...]
    """(FreshBooks bill id, job id) re-pushed."""
    refused: tuple[tuple[str, str], ...]
    """(FreshBooks bill id, why not): no longer a FreshBooks-side difference."""


async def heal(
    runtime: Runtime,
    connection_id: int,
    period: Period,
    fb_ids: Iterable[str],
    *,
    requested_by: str,
) -> HealOutcome:
    """Re-push these bills if they still differ on the FreshBooks side only.

    Each is re-checked against both systems now, so a Ramp hand edit made since the report
    was drawn is never overwritten; the syncs are ordinary MANUAL jobs (audit trail and
    retries as for any sync).
    """
    wanted = sorted({str(x) for x in fb_ids})
    fresh = await run_report(runtime, connection_id, period, only=wanted)
    healable = {e.fb_id for e in fresh.healable}
    status = {e.fb_id: e for e in fresh.entries}
    refused = tuple(
        (fb_id, status[fb_id].reason if fb_id in status else "not a bill of the period")
        for fb_id in wanted
        if fb_id not in healable
    )
    enqueued = []
    now = runtime.clock()
    async with runtime.engine.begin() as db:
        for fb_id in wanted:
            if fb_id not in healable:
                continue
            queued = await enqueue_object_sync(
                db, kind=Kind.SYNC_BILL, connection_id=connection_id, fb_id=fb_id,
                source=Source.MANUAL, now=now,
                extra={"requested_by": requested_by, "reconcile": period_key(period)},
            )  # fmt: skip
            enqueued.append((fb_id, queued.job_id))
    return HealOutcome(tuple(enqueued), refused)
