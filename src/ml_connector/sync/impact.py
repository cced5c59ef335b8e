"""Mapping-change impact: preview which synced objects a new mapping changes, then apply it.

`preview_impact` reads FreshBooks and Ramp (lists, within the shared budgets; nothing is
written anywhere) and plans every synced object three times — full-write plans under the
current and the proposed mapping, and the proposed mapping's real plan — for
`core.impact` to compare. `apply_mapping_change` saves the new version and, in the same
transaction, enqueues exactly the affected objects' syncs (manual lane) and writes a
``mapping_changed`` step into each one's audit chain, naming both versions and the
field-by-field diff. The jobs then run with the new version, which their ``mapped``
step records as usual. Objects the change does not touch get no job and no Ramp call.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ml_connector.core.actions import Action, Subject
from ml_connector.core.errors import ConfigurationError, NotFoundError
from ml_connector.core.flow_config import FlowConfig, load_flow_config_or_raise
from ml_connector.core.impact import ImpactReport, ObjectImpact, object_impact
from ml_connector.core.model import (
    Bill,
    CardTransaction,
    Category,
    FreshBooksKind,
    Link,
    RampBill,
    RampKind,
    VisState,
)
from ml_connector.core.plan import PlanContext, plan_bill, plan_expense, plan_vendor
from ml_connector.store import audit, read
from ml_connector.store import mappings as mappings_store
from ml_connector.store.links import Link as StoredLink
from ml_connector.store.mappings import MappingVersion
from ml_connector.store.synced_objects import synced_links
from ml_connector.sync import convert
from ml_connector.sync.kinds import Kind, Source, enqueue_object_sync
from ml_connector.sync.planning import Caches, Session, open_session
from ml_connector.sync.ramp_state import Reference
from ml_connector.sync.runtime import Runtime

__all__ = [
    "AUDIT_STEP",
    "AppliedChange",
    "StaleMappingError",
    "apply_mapping_change",
    "preview_impact",
]

AUDIT_STEP = "mapping_changed"
_FULL_WRITE = "sha256:full-write"
"""A link hash no plan produces: makes a planner spell out the whole payload."""
_HASH_PREFIX = "sha256:"
_KINDS = {
    FreshBooksKind.VENDOR: Kind.SYNC_VENDOR,
    FreshBooksKind.BILL: Kind.SYNC_BILL,
    FreshBooksKind.EXPENSE: Kind.SYNC_EXPENSE,
}


class StaleMappingError(ConfigurationError):
    """The mapping changed since the preview; the preview no longer describes the save."""


@dataclass(frozen=True, kw_only=True)
class AppliedChange:
    version: MappingVersion
    report: ImpactReport
    jobs: dict[str, int]
    """`kind:fb_id` → the sync job enqueued for it."""


def _core_links(rows: Iterable[StoredLink]) -> dict[tuple[FreshBooksKind, str], Link]:
    """One link per FreshBooks object: its most recently written one (as planning does)."""
    out: dict[tuple[FreshBooksKind, str], tuple[Any, Link]] = {}
    for row in rows:
        try:
            kind = FreshBooksKind(row.fb_type)
        except ValueError:
            continue
        link = Link(
            fb_kind=kind,
            fb_id=row.fb_id,
            ramp_kind=RampKind(row.ramp_type),
            ramp_id=row.ramp_id or "",
            content_hash=_HASH_PREFIX + (row.content_hash or ""),
            version=row.version,
        )
        key = (kind, row.fb_id)
        if key not in out or row.updated_at >= out[key][0]:
            out[key] = (row.updated_at, link)
    return {key: link for key, (_, link) in out.items()}


@dataclass
class _World:
    """Everything the plans read, loaded once for the whole preview."""

    reference: Reference
    categories: tuple[Category, ...]
    bills: dict[str, Any]
    vendors: dict[str, Any]
    expenses: dict[str, Any]
    ramp_bills: dict[str, RampBill]
    offsets: dict[str, list[tuple[Any, str, int]]]


async def _load(session: Session, links: dict[tuple[FreshBooksKind, str], Link]) -> _World:
    kinds = {kind for kind, _ in links}
    fb, account = session.fb, session.account_id
    bills: dict[str, Any] = {}
    vendors: dict[str, Any] = {}
    expenses: dict[str, Any] = {}
    if FreshBooksKind.BILL in kinds:
        bills = {str(b.id): b async for b in fb.bills(account).list()}
    if kinds & {FreshBooksKind.BILL, FreshBooksKind.VENDOR}:
        vendors = {str(v.vendorid): v async for v in fb.bill_vendors(account).list()}
    if FreshBooksKind.EXPENSE in kinds:
        expenses = {str(e.expenseid): e async for e in fb.expenses(account).list()}
    ramp_bill_ids = {lk.ramp_id for lk in links.values() if lk.ramp_kind is RampKind.BILL}
    ramp_bills: dict[str, RampBill] = {}
    if ramp_bill_ids:
        async for wire in session.ramp.bills.list():
            if wire.id in ramp_bill_ids:
                ramp_bills[wire.id] = convert.ramp_bill(wire)
    offsets: dict[str, list[tuple[Any, str, int]]] = {}
    for wire in bills.values():
        bill = convert.bill(wire)
        if bill.vendor_id is not None and bill.vis_state is not VisState.DELETED:
            offsets.setdefault(bill.vendor_id, []).append(
                (bill.issue_date, bill.id, bill.due_offset_days)
            )
    return _World(
        reference=await session.reference(links.values()),
        categories=await session.categories(),
        bills=bills,
        vendors=vendors,
        expenses=expenses,
        ramp_bills=ramp_bills,
        offsets=offsets,
    )


def _recent_offsets(world: _World, vendor_id: str, bill_id: str) -> list[int]:
    """The vendor's other bills' offsets, newest first (as `planning` computes them)."""
    others = [o for o in world.offsets.get(vendor_id, []) if o[1] != bill_id]
    others.sort(key=lambda o: (o[0], int(o[1]) if o[1].isdigit() else o[1]), reverse=True)
    return [o[2] for o in others]


class _Planner:
    def __init__(
        self,
        session: Session,
        world: _World,
        links: dict[tuple[FreshBooksKind, str], Link],
    ) -> None:
        self._session = session
        self._world = world
        self._links = links

    def _ctx(
        self,
        config: FlowConfig,
        links: Sequence[Link],
        *,
        bills: Sequence[RampBill] = (),
        transactions: Sequence[CardTransaction] = (),
    ) -> PlanContext:
        return PlanContext.build(
            config,
            ramp=self._world.reference.state(bills=bills, transactions=transactions),
            links=links,
            categories=self._world.categories,
            today=self._session.today,
        )

    def _links_for(self, own: Link, vendor_id: str | None, *, full_write: bool) -> list[Link]:
        out = [dataclasses.replace(own, content_hash=_FULL_WRITE) if full_write else own]
        vendor = self._links.get((FreshBooksKind.VENDOR, vendor_id)) if vendor_id else None
        if vendor is not None and own.fb_kind is not FreshBooksKind.VENDOR:
            out.append(vendor)
        return out

    def plans(
        self, own: Link, old: FlowConfig, new: FlowConfig
    ) -> tuple[Sequence[Action], Sequence[Action], Sequence[Action]] | str:
        """(before, after, real) plans of one synced object, or why it cannot be compared."""
        world = self._world
        if own.fb_kind is FreshBooksKind.VENDOR:
            wire = world.vendors.get(own.fb_id)
            if wire is None:
                return "not listed by FreshBooks (deleted)"
            vendor = convert.vendor(wire)
            links = self._links_for(own, None, full_write=False)
            return (
                plan_vendor(vendor, self._ctx(old, links)),
                plan_vendor(vendor, self._ctx(new, links)),
                plan_vendor(vendor, self._ctx(new, links)),
            )
        if own.fb_kind is FreshBooksKind.BILL:
            return self._bill_plans(own, old, new)
        wire = world.expenses.get(own.fb_id)
        if wire is None:
            return "not listed by FreshBooks (deleted)"
        expense = convert.expense(wire)
        full = self._links_for(own, None, full_write=True)
        real_links = self._links_for(own, None, full_write=False)
        remote = [world.ramp_bills[own.ramp_id]] if own.ramp_id in world.ramp_bills else []
        return (
            plan_expense(expense, self._ctx(old, full)),
            plan_expense(expense, self._ctx(new, full)),
            plan_expense(expense, self._ctx(new, real_links, bills=remote)),
        )

    def _bill_plans(
        self, own: Link, old: FlowConfig, new: FlowConfig
    ) -> tuple[Sequence[Action], Sequence[Action], Sequence[Action]] | str:
        world = self._world
        wire = world.bills.get(own.fb_id)
        if wire is None:
            return "not listed by FreshBooks (deleted)"
        bill: Bill = convert.bill(wire)
        vendor_wire = world.vendors.get(bill.vendor_id or "")
        vendor = None if vendor_wire is None else convert.vendor(vendor_wire)
        offsets = _recent_offsets(world, bill.vendor_id, bill.id) if bill.vendor_id else []
        full = self._links_for(own, bill.vendor_id, full_write=True)
        real_links = self._links_for(own, bill.vendor_id, full_write=False)
        remote = [world.ramp_bills[own.ramp_id]] if own.ramp_id in world.ramp_bills else []
        return (
            plan_bill(bill, vendor, self._ctx(old, full), vendor_recent_offsets=offsets),
            plan_bill(bill, vendor, self._ctx(new, full), vendor_recent_offsets=offsets),
            plan_bill(
                bill, vendor, self._ctx(new, real_links, bills=remote),
                vendor_recent_offsets=offsets,
            ),
        )  # fmt: skip

    async def with_transaction(
        self, own: Link, new: FlowConfig, real: Sequence[Action], expense_wire: Any
    ) -> Sequence[Action]:
        """The expense's real plan again, now that its coded transaction is read."""
        try:
            tx = convert.card_transaction(await self._session.ramp.transactions.get(own.ramp_id))
        except NotFoundError:
            return real
        if tx is None:
            return real
        ctx = self._ctx(new, self._links_for(own, None, full_write=False), transactions=[tx])
        return plan_expense(convert.expense(expense_wire), ctx)


async def preview_impact(
    runtime: Runtime,
    connection_id: int,
    new_config_text: str,
    *,
    caches: Caches | None = None,
) -> ImpactReport:
    """Which synced objects `new_config_text` would change, and how (no writes anywhere).

    Raises:
        ConfigurationError: the text is not a valid flow configuration.
        NeedsAttentionError: the connection cannot be planned (no mapping yet, FreshBooks
            not connected).
    """
    new = load_flow_config_or_raise(new_config_text, source="proposed mapping")
    async with read(runtime.engine) as db:
        rows = await synced_links(db, connection_id)
    links = _core_links(rows)
    if not links:
        async with read(runtime.engine) as db:
            current = await mappings_store.current(db, connection_id)
        return ImpactReport(
            connection_id=connection_id,
            from_version=None if current is None else current.version,
            examined=0,
        )
    async with open_session(runtime, connection_id, caches) as session:
        world = await _load(session, links)
        planner = _Planner(session, world, links)
        impacts: list[ObjectImpact] = []
        skipped: list[tuple[Subject, str]] = []
        for (kind, fb_id), own in sorted(links.items(), key=lambda item: _order(item[0])):
            subject = Subject(kind, fb_id)
            plans = planner.plans(own, session.config, new)
            if isinstance(plans, str):
                skipped.append((subject, plans))
                continue
            before, after, real = plans
            impact = object_impact(
                subject, ramp_kind=own.ramp_kind.value, ramp_id=own.ramp_id,
                before=before, after=after, real=real,
            )  # fmt: skip
            if impact is not None and own.ramp_kind is RampKind.TRANSACTION:
                # Locked or re-priced transactions only show once the live row is read;
                # reading it for the affected few keeps the preview's cost in lists.
                real = await planner.with_transaction(own, new, real, world.expenses[fb_id])
                impact = object_impact(
                    subject, ramp_kind=own.ramp_kind.value, ramp_id=own.ramp_id,
                    before=before, after=after, real=real,
                )  # fmt: skip
            if impact is not None:
                impacts.append(impact)
        return ImpactReport(
            connection_id=connection_id,
            from_version=session.mapping_version,
            examined=len(links),
            objects=tuple(impacts),
            skipped=tuple(skipped),
        )


def _order(key: tuple[FreshBooksKind, str]) -> tuple[int, int, str]:
    kind, fb_id = key
    rank = {FreshBooksKind.VENDOR: 0, FreshBooksKind.BILL: 1, FreshBooksKind.EXPENSE: 2}[kind]
    return rank, int(fb_id) if fb_id.isdigit() else 0, fb_id


def _change_detail(impact: ObjectImpact) -> dict[str, Any]:
    return {
        "outcome": impact.outcome.value,
        "reason": impact.reason,
        "request": impact.request,
        "changes": [
            {"field": c.path, "before": c.before, "after": c.after} for c in impact.changes
        ],
    }


async def apply_mapping_change(
    runtime: Runtime,
    connection_id: int,
    new_config_text: str,
    *,
    author: str,
    comment: str | None = None,
    expected_version: int | None = None,
    caches: Caches | None = None,
) -> AppliedChange:
    """Save `new_config_text` as the next version and re-push exactly what it changes.

    The impact is computed first (outside any transaction: it calls both APIs); the save,
    the jobs and the audit steps then commit together, so a crash leaves either the old
    version with nothing enqueued or the new one with every affected object queued.

    Args:
        expected_version: the version the user previewed against; if another save came
            in between, nothing is saved (`StaleMappingError`) — preview again.
    """
    new = load_flow_config_or_raise(new_config_text, source="proposed mapping")
    report = await preview_impact(runtime, connection_id, new_config_text, caches=caches)
    now = runtime.clock()
    jobs: dict[str, int] = {}
    async with runtime.engine.begin() as db:
        current = await mappings_store.current(db, connection_id)
        current_version = None if current is None else current.version
        if expected_version is not None and current_version != expected_version:
            raise StaleMappingError(
                f"the mapping is now version {current_version}, not {expected_version}: "
                "someone saved in between — preview the change again"
            )
        if current_version != report.from_version:
            raise StaleMappingError(
                f"the mapping changed to version {current_version} while its impact was "
                "computed — preview the change again"
            )
        version = await mappings_store.save(
            db, connection_id=connection_id, text=new_config_text,
            document=new.model_dump(mode="json"), author=author, now=now, comment=comment,
        )  # fmt: skip
        for impact in report.objects:
            subject = impact.subject
            queued = await enqueue_object_sync(
                db, kind=_KINDS[subject.kind], connection_id=connection_id, fb_id=subject.id,
                source=Source.MANUAL, now=now,
                extra={"mapping_change": {"from": report.from_version, "to": version.version}},
            )  # fmt: skip
            jobs[f"{subject.kind.value}:{subject.id}"] = queued.job_id
            await audit.append(
                db, object_type=subject.kind.value, step=AUDIT_STEP, at=now, actor=author,
                connection_id=connection_id, fb_id=subject.id, ramp_id=impact.ramp_id,
                detail={
                    "from_version": report.from_version, "to_version": version.version,
                    "sync_job_id": queued.job_id, **_change_detail(impact),
                },
            )  # fmt: skip
    return AppliedChange(version=version, report=report, jobs=jobs)
