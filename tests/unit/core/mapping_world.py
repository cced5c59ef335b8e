"""Sample data for the mapping-core tests: a small services firm on both sides.

Also `apply`, a toy sync engine that carries out a plan against an in-memory Ramp state
the way the real engine will (resolve pending vendor ids, record links with the action's
content hash), so tests can check that re-planning yields only Skip.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from decimal import Decimal

from ml_connector.core.actions import (
    Action,
    ArchiveBill,
    CodeTransaction,
    CreateBill,
    CreateVendor,
    LinkVendor,
    PendingRef,
    SetMemo,
    UpdateBill,
    resolve_pending,
)
from ml_connector.core.flow_config import FlowConfig, load_flow_config
from ml_connector.core.model import (
    Bill,
    BillLine,
    CardTransaction,
    Category,
    FieldOption,
    FreshBooksKind,
    GLAccount,
    LineTax,
    Link,
    RampBill,
    RampBillStatus,
    RampKind,
    RampState,
    RampVendorRef,
    Vendor,
)
from ml_connector.core.money import Money

CONFIG_TOML = """\
version = 1

[connection]
name = "Northwind Studio"
freshbooks_account_id = "ABC123"
ramp_entity_id = "ent-1"
ramp_vendor_owner_id = "user-owner"

[bills]
tax_policy = "separate_line"
default_tax_gl_account = "2200"
terms_policy = "flag"

[vendors]
default_country = "US"
fallback_contact_email = "ap@northwind.example"

[[vendors.terms]]
vendor = "Acme, Inc."
terms = "Net 30"

[gl]

[[gl.mappings]]
category = "Office Supplies"
gl_account = "6300"

[[gl.mappings]]
category = "Car & Truck Expenses"
gl_account = "6200"

[[gl.mappings]]
category = "Software"
gl_account = "6600"

[[gl.mappings]]
category = "Meals and Entertainment"
gl_account = "6230"

[[gl.mappings]]
category = "Hosting"
gl_account = "6610"

[[cost_centers.rules]]
description = "Design team"
field = "Department"
option = "DEP-DESIGN"
when = { staff = ["4", "5", "6"] }

[[cost_centers.rules]]
description = "Everything else is Operations"
field = "Department"
option = "DEP-OPS"

[expenses]
no_match = "wait"
wait_days = 5
after_wait = "review"
"""


def config(**overrides: object) -> FlowConfig:
    loaded = load_flow_config(CONFIG_TOML)
    assert isinstance(loaded, FlowConfig), str(loaded)
    if not overrides:
        return loaded
    data = loaded.model_dump()
    for dotted, value in overrides.items():
        section, key = dotted.split("__")
        data[section][key] = value
    return FlowConfig.model_validate(data)


CATEGORIES = (
    Category(id="2002", name="Car & Truck Expenses"),
    Category(id="2003", name="Gas", parent_id="2002"),
    Category(id="2005", name="Office Expenses & Postage"),
    Category(id="2006", name="Office Supplies", parent_id="2005"),
    Category(id="2007", name="Shipping", parent_id="2005"),
    Category(id="2011", name="Meals and Entertainment"),
    Category(id="2016", name="Software"),
    Category(id="2017", name="Hosting"),
    Category(id="2018", name="Professional Services"),
)

GL_ACCOUNTS = (
    GLAccount(id="6200", code="6200", name="Auto & Vehicle"),
    GLAccount(id="6230", code="6230", name="Meals & Entertainment"),
    GLAccount(id="6300", code="6300", name="Office Supplies"),
    GLAccount(id="6600", code="6600", name="Software Subscriptions"),
    GLAccount(id="6610", code="6610", name="Cloud Hosting", active=False),
    GLAccount(id="6700", code="6700", name="Professional Fees"),
    GLAccount(id="2200", code="2200", name="Sales Tax Payable"),
)

OPTIONS = (
    FieldOption(field="Department", id="DEP-DESIGN", name="Design"),
    FieldOption(field="Department", id="DEP-OPS", name="Operations"),
    FieldOption(field="Department", id="DEP-CONSULT", name="Consulting"),
)

RAMP_VENDORS = (
    RampVendorRef(id="rv-acme", name="ACME Inc", contact_ids=("rc-acme",)),
    RampVendorRef(id="rv-staples", name="Staples", contact_ids=("rc-staples",)),
    RampVendorRef(id="rv-cafe", name="Cafe Ole", contact_ids=("rc-cafe",)),
)


def ramp_state(**changes: object) -> RampState:
    base = RampState(
        vendors=RAMP_VENDORS, gl_accounts=GL_ACCOUNTS, field_options=OPTIONS, transactions=()
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def usd(amount: str) -> Money:
    return Money(Decimal(amount), "USD")


ACME = Vendor(
    id="5", name="Acme, Inc.", email="billing@acme.example", first_name="Ada", last_name="Ng",
    country="United States", province="New York", street="1 Main St", city="New York",
    postal_code="10001",
)  # fmt: skip

NEW_VENDOR = Vendor(
    id="9", name="Blue Bottle Coffee", email="ar@bluebottle.example", country="US",
    province="CA",
)  # fmt: skip


def bill(**changes: object) -> Bill:
    base = Bill(
        id="432",
        vendor_id="5",
        bill_number="INV-1001",
        issue_date=date(2026, 9, 1),
        due_offset_days=30,
        currency="USD",
        total_amount=usd("141.25"),
        lines=(
            BillLine(
                index=1,
                category_id="2006",
                description="Printer paper",
                quantity=Decimal(5),
                unit_cost=usd("25.00"),
                amount=usd("125.00"),
                taxes=(LineTax(name="GST", percent=Decimal(13), amount=usd("16.25")),),
            ),
        ),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def apply(
    actions: Sequence[Action], state: RampState, links: Sequence[Link]
) -> tuple[RampState, tuple[Link, ...]]:
    """Carry out a plan like the sync engine: writes change `state`, links record hashes."""
    by_key = {(lk.fb_kind, lk.fb_id): lk for lk in links}
    pending: dict[PendingRef, str] = {}
    vendors = list(state.vendors)
    bills = list(state.bills)

    def put(
        kind: FreshBooksKind, fb_id: str, ramp_kind: RampKind, ramp_id: str, digest: str
    ) -> None:
        old = by_key.get((kind, fb_id))
        by_key[(kind, fb_id)] = Link(
            fb_kind=kind, fb_id=fb_id, ramp_kind=ramp_kind, ramp_id=ramp_id,
            content_hash=digest, version=(old.version + 1) if old else 1,
        )  # fmt: skip

    for action in actions:
        subject = action.subject
        if isinstance(action, CreateVendor):
            new = RampVendorRef(
                id=f"rv-new-{subject.id}", name=action.payload["name"],
                contact_ids=(f"rc-new-{subject.id}",),
            )  # fmt: skip
            vendors.append(new)
            pending[PendingRef("vendor", subject.id)] = new.id
            pending[PendingRef("vendor_contact", subject.id)] = new.contact_ids[0]
            put(subject.kind, subject.id, RampKind.VENDOR, new.id, action.content_hash)
        elif isinstance(action, LinkVendor):
            put(
                subject.kind,
                subject.id,
                RampKind.VENDOR,
                action.ramp_vendor_id,
                action.content_hash,
            )
        elif isinstance(action, CreateBill):  # includes CreateManualPaidBill
            done = resolve_pending(action, pending)
            assert done.content_hash is not None
            paid = done.payload["payment_method"] == "PAID_MANUALLY"
            ramp_id = f"rb-{subject.kind.value}-{subject.id}"
            bills.append(
                RampBill(
                    id=ramp_id,
                    status=RampBillStatus.PAID if paid else RampBillStatus.OPEN,
                    currency=done.payload["invoice_currency"],
                )
            )
            put(subject.kind, subject.id, RampKind.BILL, ramp_id, done.content_hash)
        elif isinstance(action, UpdateBill):
            done = resolve_pending(action, pending)
            assert done.content_hash is not None
            put(subject.kind, subject.id, RampKind.BILL, action.ramp_bill_id, done.content_hash)
        elif isinstance(action, ArchiveBill):
            bills = [replace(b, archived=True) if b.id == action.ramp_bill_id else b for b in bills]
            put(subject.kind, subject.id, RampKind.BILL, action.ramp_bill_id, action.content_hash)
        elif isinstance(action, CodeTransaction | SetMemo):
            put(
                subject.kind,
                subject.id,
                RampKind.TRANSACTION,
                action.ramp_transaction_id,
                action.content_hash,
            )
    return replace(state, vendors=tuple(vendors), bills=tuple(bills)), tuple(by_key.values())


def card(tx_id: str, amount_minor: int, day: date, merchant: str, **kw: object) -> CardTransaction:
    return CardTransaction(
        id=tx_id, amount_minor=amount_minor, currency="USD", transacted_on=day,
        merchant_name=merchant, **kw,  # type: ignore[arg-type]
    )  # fmt: skip
