"""Accounting setup of a connection: Ramp accounting connection, GL chart, a Department
field, the entity and vendor owner, and a suggested flow configuration.

Reference: DESIGN §2 (accounting setup row), ramp-api §6. Ramp only codes bills to GL
accounts uploaded under an API/UCSV accounting connection, so setup ensures one exists
(adopting the incumbent: Ramp allows one), then either

- uploads a chart derived from the FreshBooks categories when Ramp holds no accounts of
  anyone else's (one account per top-level category, children code to their parent by
  fallback, plus a tax-payable account) with stable remote ids `fb-cat-<category id>`, or
- adopts the accounts another system put there and, when asked, maps categories to the
  accounts whose names clearly match (`core.gl.suggest_gl_accounts`, high scores only).

The result is saved as the connection's current mapping version (author "setup") unless
a person has saved one since: setup never overwrites someone's edits. Every step reads
before it writes, so a second run changes nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TypeVar

import structlog

from ml_connector.clients.freshbooks import FreshBooksClient, Search
from ml_connector.clients.ramp import RampClient
from ml_connector.clients.ramp.models import (
    AccountingFieldCreate,
    Department,
    Entity,
    FieldOptionUpload,
    GLAccountUpload,
    User,
)
from ml_connector.core.errors import NeedsAttentionError
from ml_connector.core.flow_config import (
    FORMAT_VERSION,
    BillsSection,
    ConnectionSection,
    FlowConfig,
    GLMappingEntry,
    GLSection,
    VendorsSection,
    dump_flow_config,
)
from ml_connector.core.gl import (
    CoverageReport,
    build_gl_map,
    coverage_report,
    render_coverage_report,
    suggest_gl_accounts,
)
from ml_connector.core.model import Category, GLAccount
from ml_connector.store import connections as connections_store
from ml_connector.store import mappings as mappings_store
from ml_connector.store.connections import Connection
from ml_connector.sync import convert
from ml_connector.sync.runtime import Runtime

log = structlog.get_logger(__name__)

SETUP_AUTHOR = "setup"
CHART_PREFIX = "fb-cat-"
TAX_PAYABLE_ID = "fb-tax-payable"
TAX_PAYABLE_CODE = "2200"
CHART_FIRST_CODE = 6010
CHART_CODE_STEP = 10
DEPARTMENT_FIELD_ID = "Department"
ACCEPT_SCORE = 85.0
"""Suggestions below this are shown in the coverage report but never written."""
VENDOR_OWNER_ROLES = ("BUSINESS_OWNER", "BUSINESS_ADMIN", "ADMIN", "IT_ADMIN")
"""Ramp roles allowed to own vendors the connector creates, most preferred first."""
USAGE_WINDOW = timedelta(days=90)
_T = TypeVar("_T")
USAGE_SAMPLE = 2000
"""At most this many bills, and as many expenses, of the window are read to rank
categories: enough to tell which are used, and setup of a firm with 100,000 bills in the
window does not read them all at FreshBooks' 5 requests per second (200 s)."""


@dataclass(frozen=True)
class SetupReport:
    """What setup found, created or adopted, and how well the mapping covers real usage."""

    connection_id: int
    accounting_connection_id: str
    accounting_connection_created: bool
    chart: str
    """"uploaded" (our chart from FreshBooks categories) or "adopted" (someone else's)."""
    gl_accounts_uploaded: tuple[str, ...]
    gl_accounts_total: int
    department_field_created: bool
    department_options_uploaded: tuple[str, ...]
    entity_id: str
    vendor_owner_id: str | None
    mapping_version: int | None
    mapping_saved: bool
    mapping_kept_reason: str | None
    coverage: CoverageReport = field(repr=False)

    @property
    def changed(self) -> bool:
        return bool(
            self.accounting_connection_created
            or self.gl_accounts_uploaded
            or self.department_field_created
            or self.department_options_uploaded
            or self.mapping_saved
        )

    def render(self) -> str:
        lines = [
            f"Accounting connection {self.accounting_connection_id}"
            + (" (created)" if self.accounting_connection_created else " (existing)"),
            f"GL chart {self.chart}: {self.gl_accounts_total} accounts, "
            f"{len(self.gl_accounts_uploaded)} uploaded now",
            "Department field: "
            + ("created" if self.department_field_created else "unchanged")
            + f", {len(self.department_options_uploaded)} options uploaded",
            f"Entity: {self.entity_id}",
            f"Vendor owner: {self.vendor_owner_id or 'none found (vendor creation will wait)'}",
            (
                f"Mapping version {self.mapping_version} saved"
                if self.mapping_saved
                else f"Mapping version {self.mapping_version} kept"
                + (f" ({self.mapping_kept_reason})" if self.mapping_kept_reason else "")
            ),
            "",
            render_coverage_report(self.coverage),
        ]
        return "\n".join(lines)


# --- pure decisions -------------------------------------------------------------------


def _id_order(category: Category) -> tuple[int, str]:
    return (int(category.id), "") if category.id.isdigit() else (1 << 62, category.id)


def is_our_account(remote_id: str | None) -> bool:
    return remote_id is not None and (
        remote_id.startswith(CHART_PREFIX) or remote_id == TAX_PAYABLE_ID
    )


def chart_from_categories(categories: Iterable[Category]) -> list[GLAccountUpload]:
    """One expense account per top-level category (in id order, inactive ones too so codes
    never shift), then the tax-payable account."""
    tops = sorted((c for c in categories if c.parent_id is None), key=_id_order)
    chart = [
        GLAccountUpload(
            id=f"{CHART_PREFIX}{c.id}",
            name=c.name,
            classification="EXPENSE",
            code=str(CHART_FIRST_CODE + CHART_CODE_STEP * index),
        )
        for index, c in enumerate(tops)
    ]
    chart.append(
        GLAccountUpload(
            id=TAX_PAYABLE_ID,
            name="Sales Tax Payable",
            classification="LIABILITY",
            code=TAX_PAYABLE_CODE,
        )
    )
    return chart


def chart_mappings(categories: Iterable[Category]) -> tuple[GLMappingEntry, ...]:
    """Our own chart's mappings: each top-level category to its account (children fall back)."""
    tops = sorted((c for c in categories if c.parent_id is None), key=_id_order)
    return tuple(GLMappingEntry(category_id=c.id, gl_account=f"{CHART_PREFIX}{c.id}") for c in tops)


def suggested_mappings(
    categories: Sequence[Category], accounts: Sequence[GLAccount]
) -> tuple[GLMappingEntry, ...]:
    """Confident suggestions only; a child whose best match is its parent's is left to fallback."""
    by_id = {c.id: c for c in categories}
    chosen: dict[str, str] = {}
    for category in sorted(categories, key=_id_order):
        if not category.active:
            continue
        parent = by_id.get(category.parent_id) if category.parent_id else None
        suggestions = suggest_gl_accounts(category, accounts, parent=parent, limit=1)
        if suggestions and suggestions[0].score >= ACCEPT_SCORE:
            chosen[category.id] = suggestions[0].account.id
    entries = []
    for category_id, account_id in chosen.items():
        parent_id = by_id[category_id].parent_id
        if parent_id is not None and chosen.get(parent_id) == account_id:
            continue
        entries.append(GLMappingEntry(category_id=category_id, gl_account=account_id))
    return tuple(entries)


def tax_account(accounts: Iterable[GLAccount]) -> str | None:
    """Our tax-payable account, else an active liability account named like a tax account."""
    pool = [a for a in accounts if a.active]
    ours = next((a for a in pool if a.id == TAX_PAYABLE_ID), None)
    if ours is not None:
        return ours.id
    taxes = sorted(
        (a for a in pool if a.classification == "LIABILITY" and "tax" in a.name.casefold()),
        key=lambda a: (a.code or "", a.id),
    )
    return taxes[0].id if taxes else None


def choose_entity(entities: Sequence[Entity]) -> Entity | None:
    primary = [e for e in entities if e.is_primary]
    pool = primary or list(entities)
    return sorted(pool, key=lambda e: e.id)[0] if pool else None


def choose_vendor_owner(users: Sequence[User]) -> User | None:
    ranked = [
        (VENDOR_OWNER_ROLES.index(u.role), (u.email or "").casefold(), u.id, u)
        for u in users
        if u.role in VENDOR_OWNER_ROLES and (u.status is None or u.status.upper() != "INACTIVE")
    ]
    return min(ranked, key=lambda r: r[:3])[3] if ranked else None


def build_flow_config(
    *,
    name: str,
    freshbooks_account_id: str,
    entity: Entity,
    vendor_owner: User | None,
    mappings: tuple[GLMappingEntry, ...],
    tax_gl_account: str | None,
) -> FlowConfig:
    return FlowConfig(
        version=FORMAT_VERSION,
        connection=ConnectionSection(
            name=name,
            freshbooks_account_id=freshbooks_account_id,
            ramp_entity_id=entity.id,
            ramp_vendor_owner_id=vendor_owner.id if vendor_owner is not None else None,
        ),
        bills=BillsSection(default_tax_gl_account=tax_gl_account),
        vendors=VendorsSection(default_country="US" if entity.currency in (None, "USD") else None),
        gl=GLSection(mappings=mappings),
    )


# --- I/O ------------------------------------------------------------------------------


async def _department_field(
    ramp: RampClient, departments: Sequence[Department]
) -> tuple[bool, tuple[str, ...]]:
    """Ensure a `Department` accounting field whose options are Ramp's departments."""
    if not departments:
        return False, ()
    existing = [f async for f in ramp.accounting.fields.list(remote_id=DEPARTMENT_FIELD_ID)]
    target = next((f for f in existing if f.id == DEPARTMENT_FIELD_ID), None)
    created = target is None or not target.is_active
    if created:
        target = await ramp.accounting.fields.create(
            AccountingFieldCreate(
                id=DEPARTMENT_FIELD_ID, name="Department", input_type="SINGLE_CHOICE"
            )
        )
    assert target is not None
    have = {o.id async for o in ramp.accounting.fields.options(target.ramp_id)}
    missing = [
        FieldOptionUpload(id=d.id, value=d.name)
        for d in sorted(departments, key=lambda d: d.id)
        if d.id not in have
    ]
    if missing:
        await ramp.accounting.fields.upload_options(target.ramp_id, missing)
    return created, tuple(o.id for o in missing)


async def _usage(fb: FreshBooksClient, account_id: str, since: str) -> dict[str, int]:
    """How often each category coded a bill line or an expense in the usage window."""
    usage: dict[str, int] = {}
    bills = fb.bills(account_id).list(Search().between("issue_date", min=since))
    async for bill in _first(bills, USAGE_SAMPLE):
        for line in bill.lines:
            category_id = line.category_id
            if category_id is not None:
                usage[str(category_id)] = usage.get(str(category_id), 0) + 1
    expenses = fb.expenses(account_id).list(Search().between("date", min=since))
    async for expense in _first(expenses, USAGE_SAMPLE):
        if expense.categoryid is not None:
            usage[str(expense.categoryid)] = usage.get(str(expense.categoryid), 0) + 1
    return usage


async def _first(items: AsyncIterator[_T], count: int) -> AsyncIterator[_T]:
    """The first `count` items; the pages after them are never requested."""
    taken = 0
    async for item in items:
        yield item
        taken += 1
        if taken >= count:
            return


async def _save_mapping(
    runtime: Runtime, connection: Connection, entity: Entity, config: FlowConfig
) -> tuple[int | None, bool, str | None]:
    """Save `config` as the current version unless it is already current or a person
    saved one since; returns (current version, saved now, why kept)."""
    text = dump_flow_config(config)
    now = runtime.clock()
    async with runtime.engine.begin() as db:
        if connection.ramp_entity_id != entity.id:
            await connections_store.update(db, connection.id, now=now, ramp_entity_id=entity.id)
        current = await mappings_store.current(db, connection.id)
        if current is not None and current.author != SETUP_AUTHOR:
            return current.version, False, f"edited by {current.author}; setup keeps it"
        if current is not None and current.text == text:
            return current.version, False, None
        stored = await mappings_store.save(
            db,
            connection_id=connection.id,
            text=text,
            document=config.model_dump(mode="json"),
            author=SETUP_AUTHOR,
            now=now,
            comment="suggested by setup",
        )
        return stored.version, True, None


async def setup_connection(
    runtime: Runtime, connection_id: int, *, accept_suggestions: bool = True
) -> SetupReport:
    """Prepare Ramp for the connection's data and save a suggested flow configuration.

    Args:
        accept_suggestions: map categories to adopted GL accounts whose names match
            confidently; off, only our own chart's mappings (exact by construction) are
            written and everything else is left to the mapping screen.

    Raises:
        NeedsAttentionError: FreshBooks is not connected, or Ramp has no entity.
    """
    connection = await runtime.connection(connection_id)
    account_id = connection.freshbooks_account_id
    if account_id is None:
        raise NeedsAttentionError(
            f"connection {connection.name!r} has no FreshBooks business: connect FreshBooks first",
            code="freshbooks_not_connected",
        )
    since = (runtime.clock() - USAGE_WINDOW).date().isoformat()
    async with runtime.clients(connection) as (fb, ramp):
        categories = [convert.category(c) async for c in fb.categories(account_id).list()]
        usage = await _usage(fb, account_id, since)

        before = await ramp.accounting.connections()
        accounting = await ramp.accounting.ensure_connection()
        created_connection = not any(c.id == accounting.id for c in before)

        existing = [a async for a in ramp.accounting.gl_accounts.list()]
        foreign = [a for a in existing if not is_our_account(a.id)]
        uploaded: tuple[str, ...] = ()
        if not foreign:
            have = {a.id for a in existing}
            missing = [a for a in chart_from_categories(categories) if a.id not in have]
            if missing:
                await ramp.accounting.gl_accounts.upload(missing)
                uploaded = tuple(a.id for a in missing)
            existing = [a async for a in ramp.accounting.gl_accounts.list()]
        accounts = [a for a in (convert.gl_account(w) for w in existing) if a is not None]

        departments = [d async for d in ramp.departments.list()]
        field_created, options_uploaded = await _department_field(ramp, departments)

        entity = choose_entity([e async for e in ramp.entities.list()])
        if entity is None:
            raise NeedsAttentionError(
                "Ramp has no entity to own the bills: set one up in Ramp", code="ramp_no_entity"
            )
        owner = choose_vendor_owner([u async for u in ramp.users.list()])

    if foreign:
        mappings = suggested_mappings(categories, accounts) if accept_suggestions else ()
    else:
        mappings = chart_mappings(categories)
    config = build_flow_config(
        name=connection.name,
        freshbooks_account_id=account_id,
        entity=entity,
        vendor_owner=owner,
        mappings=mappings,
        tax_gl_account=tax_account(accounts),
    )
    version, saved, kept_reason = await _save_mapping(runtime, connection, entity, config)

    gl_map = build_gl_map(
        [entry.rule() for entry in config.gl.mappings],
        categories,
        accounts,
        config.gl.suspense_account,
    )
    report = SetupReport(
        connection_id=connection_id,
        accounting_connection_id=accounting.id,
        accounting_connection_created=created_connection,
        chart="adopted" if foreign else "uploaded",
        gl_accounts_uploaded=uploaded,
        gl_accounts_total=len(accounts),
        department_field_created=field_created,
        department_options_uploaded=options_uploaded,
        entity_id=entity.id,
        vendor_owner_id=owner.id if owner is not None else None,
        mapping_version=version,
        mapping_saved=saved,
        mapping_kept_reason=kept_reason,
        coverage=coverage_report(gl_map, usage),
    )
    log.info(
        "setup.done",
        connection_id=connection_id,
        changed=report.changed,
        chart=report.chart,
        uploaded=len(uploaded),
        mapping_version=version,
        mapping_saved=saved,
    )
    return report


__all__ = [
    "CHART_PREFIX",
    "SETUP_AUTHOR",
    "TAX_PAYABLE_ID",
    "SetupReport",
    "build_flow_config",
    "chart_from_categories",
    "chart_mappings",
    "choose_entity",
    "choose_vendor_owner",
    "is_our_account",
    "setup_connection",
    "suggested_mappings",
    "tax_account",
]
