"""Plans without writes: load what a plan needs, and ask the mapping core for the actions.

The job handlers plan through the same functions before executing, so a dry run
(`plan_object`, `plan_connection`, used by the CLI `plan` command and the UI) shows
exactly the Ramp writes a sync would make, and why. Nothing here writes to Ramp, to
FreshBooks or to the database.

A `Session` holds one connection's clients, its flow configuration (the current version,
or a given one for a replay with the original mapping) and the per-connection caches.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import anyio
from pydantic import BaseModel

from ml_connector.clients.freshbooks import FreshBooksClient, Search
from ml_connector.clients.freshbooks import models as fbwire
from ml_connector.clients.ramp import RampClient
from ml_connector.core.actions import Action, CodeTransaction, Subject
from ml_connector.core.clock import Clock
from ml_connector.core.errors import ConfigurationError, NeedsAttentionError, NotFoundError
from ml_connector.core.flow_config import FlowConfig, load_flow_config_or_raise
from ml_connector.core.model import (
    Category,
    FreshBooksKind,
    Link,
    RampKind,
    VisState,
)
from ml_connector.core.plan import PlanContext, plan_bill, plan_expense, plan_vendor
from ml_connector.store import links as links_store
from ml_connector.store import mappings as mappings_store
from ml_connector.store import read
from ml_connector.store.connections import Connection
from ml_connector.sync import convert
from ml_connector.sync.intent_signals import IntentSignals
from ml_connector.sync.ramp_state import (
    DEFAULT_TTL,
    RampStateCache,
    Reference,
    card_candidates,
    linked_bills,
)
from ml_connector.sync.runtime import Runtime
from ml_connector.sync.vendor_turns import VendorTurns

__all__ = [
    "Caches",
    "CategoryCache",
    "Planned",
    "Session",
    "load_links",
    "open_session",
    "plan_bill_object",
    "plan_connection",
    "plan_expense_object",
    "plan_object",
    "plan_vendor_object",
]

_HASH_PREFIX = "sha256:"


class CategoryCache:
    """FreshBooks expense categories per connection, for `ttl` on the injected clock."""

    def __init__(self, clock: Clock, ttl: timedelta = DEFAULT_TTL) -> None:
        self._clock = clock
        self._ttl = ttl
        self._entries: dict[int, tuple[datetime, tuple[Category, ...]]] = {}
        self._locks: dict[int, anyio.Lock] = {}

    async def get(
        self, connection_id: int, fb: FreshBooksClient, account_id: str
    ) -> tuple[Category, ...]:
        async with self._locks.setdefault(connection_id, anyio.Lock()):  # one reader
            now = self._clock()
            cached = self._entries.get(connection_id)
            if cached is not None and now - cached[0] < self._ttl:
                return cached[1]
            loaded = tuple([convert.category(c) async for c in fb.categories(account_id).list()])
            self._entries[connection_id] = (now, loaded)
            return loaded

    def invalidate(self, connection_id: int) -> None:
        self._entries.pop(connection_id, None)


REVIEW_MAX_AGE = timedelta(seconds=5)
"""The oldest reference data a review may be decided on (see `Session.strict`)."""

TERMS_TTL = timedelta(minutes=5)
"""How long a vendor's listed bills stand for its usual terms. Terms inference is a vote
over the vendor's last few bills; a view a few minutes old changes its outcome only if the
vendor's habit changed within those minutes, and re-listing per bill would cost a backfill
one FreshBooks call per bill."""


@dataclass(frozen=True, slots=True)
class _VendorBill:
    bill_id: str
    issue_date: date
    due_offset_days: int


class VendorTermsCache:
    """Each bill vendor's listed bills, per connection, for `ttl` on the injected clock.

    Concurrent jobs of one vendor wait for a single listing instead of each making one.
    """

    def __init__(self, clock: Clock, ttl: timedelta = TERMS_TTL) -> None:
        self._clock = clock
        self._ttl = ttl
        self._entries: dict[tuple[int, str], tuple[datetime, tuple[_VendorBill, ...]]] = {}
        self._locks: dict[tuple[int, str], anyio.Lock] = {}

    async def recent_offsets(
        self, connection_id: int, fb: FreshBooksClient, account_id: str, vendor_id: str,
        *, excluding: str,
    ) -> list[int]:  # fmt: skip
        """`due_offset_days` of the vendor's other bills, most recent first."""
        key = (connection_id, vendor_id)
        lock = self._locks.setdefault(key, anyio.Lock())
        async with lock:
            cached = self._entries.get(key)
            if cached is None or self._clock() - cached[0] >= self._ttl:
                cached = (self._clock(), await self._list(fb, account_id, vendor_id))
                self._entries[key] = cached
        return [b.due_offset_days for b in cached[1] if b.bill_id != excluding]

    @staticmethod
    async def _list(
        fb: FreshBooksClient, account_id: str, vendor_id: str
    ) -> tuple[_VendorBill, ...]:
        bills = [
            _VendorBill(str(b.id), b.issue_date, b.due_offset_days)
            async for b in fb.bills(account_id).list(Search().equals("vendorid", vendor_id))
            if b.vis_state != VisState.DELETED
        ]
        bills.sort(key=lambda b: (b.issue_date, int(b.bill_id) if b.bill_id.isdigit() else 0),
                   reverse=True)  # fmt: skip
        return tuple(bills)


@dataclass
class Caches:
    """The per-process caches shared by every job of every connection."""

    ramp: RampStateCache
    categories: CategoryCache
    vendor_terms: VendorTermsCache
    intents: IntentSignals = field(default_factory=IntentSignals)
    vendor_turns: VendorTurns = field(default_factory=VendorTurns)

    @classmethod
    def build(cls, clock: Clock, ttl: timedelta = DEFAULT_TTL) -> Caches:
        return cls(RampStateCache(clock, ttl), CategoryCache(clock, ttl), VendorTermsCache(clock))


@dataclass
class Session:
    runtime: Runtime
    connection: Connection
    account_id: str
    fb: FreshBooksClient
    ramp: RampClient
    mapping_version: int
    config: FlowConfig
    caches: Caches
    strict: bool = False
    """Plan on reference data at most `REVIEW_MAX_AGE` old: set before a plan that would
    send the object to review is confirmed, so that no review rests on a stale cache
    (a vendor or GL account another process added moments ago)."""

    @property
    def today(self) -> date:
        return self.runtime.clock().date()

    async def reference(self, links: Iterable[Link] = ()) -> Reference:
        """Cached reference data, re-read when a link names a vendor the cache lacks.

        Another worker process may have created (and linked) that vendor after this
        process cached Ramp's vendors; planning against the stale list would wrongly
        report the linked vendor as gone.
        """
        cached = await self.caches.ramp.reference(
            self.connection.id, self.ramp, max_age=REVIEW_MAX_AGE if self.strict else None
        )
        known = {v.id for v in cached.vendors}
        if any(lk.ramp_kind is RampKind.VENDOR and lk.ramp_id not in known for lk in links):
            self.caches.ramp.invalidate_vendors(self.connection.id)
            return await self.caches.ramp.reference(self.connection.id, self.ramp)
        return cached

    async def categories(self) -> tuple[Category, ...]:
        return await self.caches.categories.get(self.connection.id, self.fb, self.account_id)


@dataclass
class Planned:
    """One object's plan and what it was computed from."""

    subject: Subject
    wire: BaseModel | None
    actions: tuple[Action, ...]
    notes: dict[str, Any] = field(default_factory=dict)


async def _mapping(
    runtime: Runtime, connection_id: int, version: int | None
) -> tuple[int, FlowConfig]:
    async with read(runtime.engine) as db:
        found = (
            await mappings_store.current(db, connection_id)
            if version is None
            else await mappings_store.get(db, connection_id, version)
        )
    if found is None:
        which = "a flow configuration" if version is None else f"mapping version {version}"
        raise NeedsAttentionError(
            f"the connection has no {which}: run setup or import a mapping "
            "(`ml-connector mappings import`)",
            code="mapping.missing",
        )
    try:
        return found.version, load_flow_config_or_raise(found.text)
    except (ConfigurationError, ValueError) as exc:
        raise NeedsAttentionError(
            f"mapping version {found.version} does not load: {exc}", code="mapping.invalid"
        ) from exc


@asynccontextmanager
async def open_session(
    runtime: Runtime,
    connection: int | Connection,
    caches: Caches | None = None,
    *,
    mapping_version: int | None = None,
) -> AsyncIterator[Session]:
    """Clients, mapping and caches of one connection (by id, or as just read), closed on exit."""
    if isinstance(connection, int):
        connection = await runtime.connection(connection)
    connection_id = connection.id
    if not connection.freshbooks_account_id:
        raise NeedsAttentionError(
            f"connection {connection.name!r} has no FreshBooks business yet: connect FreshBooks",
            code="freshbooks_not_connected",
        )
    version, config = await _mapping(runtime, connection_id, mapping_version)
    async with runtime.clients(connection) as (fb, ramp):
        yield Session(
            runtime=runtime,
            connection=connection,
            account_id=connection.freshbooks_account_id,
            fb=fb,
            ramp=ramp,
            mapping_version=version,
            config=config,
            caches=caches or Caches.build(runtime.clock),
        )


async def load_links(
    runtime: Runtime, connection_id: int, objects: Iterable[tuple[FreshBooksKind, str]]
) -> list[Link]:
    """The stored links of these FreshBooks objects, as the core models them.

    An object linked to several Ramp kinds (an expense coded once, recorded as a manual
    bill after a policy change) is represented by its most recently written link.
    """
    out: list[Link] = []
    async with read(runtime.engine) as db:
        for kind, fb_id in objects:
            rows = await links_store.for_fb_object(
                db, connection_id=connection_id, fb_type=kind.value, fb_id=fb_id
            )
            rows = [r for r in rows if r.ramp_id]
            if not rows:
                continue
            row = max(rows, key=lambda r: r.updated_at)
            out.append(
                Link(
                    fb_kind=kind,
                    fb_id=fb_id,
                    ramp_kind=RampKind(row.ramp_type),
                    ramp_id=row.ramp_id or "",
                    content_hash=_HASH_PREFIX + (row.content_hash or ""),
                    version=row.version,
                )
            )
    return out


async def original_mapping_version(
    runtime: Runtime, connection_id: int, kind: FreshBooksKind, fb_id: str
) -> int | None:
    """The mapping version the object was last written with (replay "original")."""
    async with read(runtime.engine) as db:
        rows = await links_store.for_fb_object(
            db, connection_id=connection_id, fb_type=kind.value, fb_id=fb_id
        )
    versions = [r.mapping_version for r in rows if r.mapping_version is not None]
    return max(versions) if versions else None


def _context(
    session: Session,
    reference: Reference,
    links: Sequence[Link],
    categories: Sequence[Category],
    **state: Any,
) -> PlanContext:
    return PlanContext.build(
        session.config,
        ramp=reference.state(**state),
        links=links,
        categories=categories,
        today=session.today,
    )


async def _get(resource: Any, fb_id: str, what: str, include: tuple[str, ...] = ()) -> Any:
    try:
        return await resource.get(fb_id, include=include)
    except NotFoundError:
        return None


async def plan_vendor_object(
    session: Session, fb_id: str, *, wire: fbwire.BillVendor | None = None
) -> Planned:
    subject = Subject(FreshBooksKind.VENDOR, fb_id)
    if wire is None:
        wire = await _get(session.fb.bill_vendors(session.account_id), fb_id, "vendor")
    if wire is None:
        return Planned(subject, None, (), {"missing": True})
    vendor = convert.vendor(wire)
    links = await load_links(session.runtime, session.connection.id, [(subject.kind, fb_id)])
    ctx = _context(session, await session.reference(links), links, ())
    return Planned(subject, wire, plan_vendor(vendor, ctx))


async def plan_bill_object(
    session: Session, fb_id: str, *, wire: fbwire.Bill | None = None
) -> Planned:
    """`wire`: the bill as a backfill listed it (`sync.snapshots`); fetched when None."""
    subject = Subject(FreshBooksKind.BILL, fb_id)
    if wire is None:
        # The vendor rides along (`include[]=vendor`): one FreshBooks call per bill, not
        # two, under a budget of about five calls a second per account.
        wire = await _get(session.fb.bills(session.account_id), fb_id, "bill", ("vendor",))
    if wire is None:
        return Planned(subject, None, (), {"missing": True})
    bill = convert.bill(wire)
    vendor = None
    offsets: list[int] = []
    if bill.vendor_id is not None:
        vendor_wire = wire.vendor or await _get(
            session.fb.bill_vendors(session.account_id), bill.vendor_id, "vendor"
        )
        vendor = None if vendor_wire is None else convert.vendor(vendor_wire)
        if bill.vis_state is not VisState.DELETED:
            offsets = await session.caches.vendor_terms.recent_offsets(
                session.connection.id, session.fb, session.account_id, bill.vendor_id,
                excluding=bill.id,
            )  # fmt: skip
    objects = [(subject.kind, fb_id)]
    if bill.vendor_id is not None:
        objects.append((FreshBooksKind.VENDOR, bill.vendor_id))
    links = await load_links(session.runtime, session.connection.id, objects)
    own = next((lk for lk in links if lk.fb_kind is FreshBooksKind.BILL), None)
    remote = (
        await linked_bills(session.ramp, [own.ramp_id])
        if own is not None and own.ramp_kind is RampKind.BILL
        else ()
    )
    ctx = _context(
        session, await session.reference(links), links, await session.categories(), bills=remote
    )
    actions = plan_bill(bill, vendor, ctx, vendor_recent_offsets=offsets)
    return Planned(subject, wire, actions, {"vendor_id": bill.vendor_id})


async def _claimed_elsewhere(
    session: Session, subject: Subject, transaction_ids: Iterable[str]
) -> frozenset[str]:
    taken = set()
    async with read(session.runtime.engine) as db:
        for tx_id in transaction_ids:
            link = await links_store.find_by_ramp_id(
                db,
                connection_id=session.connection.id,
                ramp_type=RampKind.TRANSACTION.value,
                ramp_id=tx_id,
            )
            if link is not None and (link.fb_type, link.fb_id) != (subject.kind.value, subject.id):
                taken.add(tx_id)
    return frozenset(taken)


async def plan_expense_object(
    session: Session,
    fb_id: str,
    *,
    claimed: frozenset[str] = frozenset(),
    wire: fbwire.Expense | None = None,
) -> Planned:
    subject = Subject(FreshBooksKind.EXPENSE, fb_id)
    if wire is None:
        wire = await _get(session.fb.expenses(session.account_id), fb_id, "expense")
    if wire is None:
        return Planned(subject, None, (), {"missing": True})
    expense = convert.expense(wire)
    links = await load_links(session.runtime, session.connection.id, [(subject.kind, fb_id)])
    own = links[0] if links else None
    transactions: tuple[Any, ...] = ()
    notes: dict[str, Any] = {}
    if expense.vis_state is not VisState.DELETED and (
        own is None or own.ramp_kind is RampKind.TRANSACTION
    ):
        transactions, unusable = await card_candidates(
            session.ramp, expense, window_days=session.config.expenses.match_window_days
        )
        if own is not None and own.ramp_id not in {t.id for t in transactions}:
            try:
                linked = convert.card_transaction(await session.ramp.transactions.get(own.ramp_id))
            except NotFoundError:
                linked = None
            transactions = transactions + ((linked,) if linked is not None else ())
        notes = {"candidates": [t.id for t in transactions], "unusable_transactions": unusable}
    own_bills = (
        await linked_bills(session.ramp, [own.ramp_id])
        if own is not None and own.ramp_kind is RampKind.BILL
        else ()
    )
    taken = await _claimed_elsewhere(session, subject, (t.id for t in transactions))
    ctx = _context(
        session,
        await session.reference(links),
        links,
        await session.categories(),
        transactions=transactions,
        bills=own_bills,
    )
    actions = plan_expense(expense, ctx, claimed=taken | claimed)
    return Planned(subject, wire, actions, notes)


_PLANNERS: dict[FreshBooksKind, Callable[[Session, str], Awaitable[Planned]]] = {
    FreshBooksKind.VENDOR: plan_vendor_object,
    FreshBooksKind.BILL: plan_bill_object,
}


async def plan_object(
    runtime: Runtime,
    connection_id: int,
    fb_type: str,
    fb_id: str,
    *,
    caches: Caches | None = None,
) -> tuple[Action, ...]:
    """The actions a sync of one FreshBooks object would take now (a dry run: no writes).

    `fb_type` is a `FreshBooksKind` value ("vendor", "bill", "expense"); FreshBooks'
    own "bill_vendor" is accepted too.
    """
    kind = FreshBooksKind("vendor" if fb_type == "bill_vendor" else fb_type)
    async with open_session(runtime, connection_id, caches) as session:
        if kind is FreshBooksKind.EXPENSE:
            return (await plan_expense_object(session, str(fb_id))).actions
        return (await _PLANNERS[kind](session, str(fb_id))).actions


async def plan_connection(
    runtime: Runtime,
    connection_id: int,
    *,
    kinds: Sequence[FreshBooksKind] = (
        FreshBooksKind.VENDOR,
        FreshBooksKind.BILL,
        FreshBooksKind.EXPENSE,
    ),
    limit: int | None = None,
    caches: Caches | None = None,
) -> AsyncIterator[tuple[Subject, tuple[Action, ...]]]:
    """Dry-run plans of every active FreshBooks object of the chosen kinds, in that order.

    Card transactions that an earlier expense of the same run would claim are not
    offered to later ones, as in a real sync. `limit` caps the objects per kind.
    """
    async with open_session(runtime, connection_id, caches) as session:
        for kind in kinds:
            ids = await _ids_of(session, kind, limit)
            claimed: set[str] = set()
            for fb_id in ids:
                if kind is FreshBooksKind.EXPENSE:
                    planned = await plan_expense_object(session, fb_id, claimed=frozenset(claimed))
                    claimed.update(
                        a.ramp_transaction_id
                        for a in planned.actions
                        if isinstance(a, CodeTransaction)
                    )
                else:
                    planned = await _PLANNERS[kind](session, fb_id)
                yield planned.subject, planned.actions


async def _ids_of(session: Session, kind: FreshBooksKind, limit: int | None) -> list[str]:
    resource: Any = {
        FreshBooksKind.VENDOR: session.fb.bill_vendors(session.account_id),
        FreshBooksKind.BILL: session.fb.bills(session.account_id),
        FreshBooksKind.EXPENSE: session.fb.expenses(session.account_id),
    }[kind]
    out: list[str] = []
    async for item in resource.list():
        out.append(str(_object_id(item)))
        if limit is not None and len(out) >= limit:
            break
    return out


def _object_id(item: BaseModel) -> int:
    if isinstance(item, fbwire.BillVendor):
        return item.vendorid
    if isinstance(item, fbwire.Expense):
        return item.expenseid
    assert isinstance(item, fbwire.Bill)
    return item.id
