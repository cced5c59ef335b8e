"""The domain: FreshBooks objects we read and the Ramp objects a plan targets.

Pure, frozen values; no I/O and no validation on construction. The client layer builds
them from wire JSON (ids become strings, money becomes `Money`), and the mapping
functions validate what they use and return `Problem` values for bad data, so a model
object can faithfully carry whatever the source sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import IntEnum, StrEnum
from types import MappingProxyType

from ml_connector.core.money import Money

__all__ = [
    "Bill",
    "BillLine",
    "BillPayment",
    "BillStatus",
    "CardTransaction",
    "Category",
    "Expense",
    "FieldOption",
    "FreshBooksKind",
    "GLAccount",
    "LineTax",
    "Link",
    "LinkIndex",
    "PaidWith",
    "RampBill",
    "RampBillStatus",
    "RampKind",
    "RampState",
    "RampVendorRef",
    "Vendor",
    "VisState",
]


# --- FreshBooks side -----------------------------------------------------------------


class VisState(IntEnum):
    """FreshBooks soft-delete state: lists hide DELETED; ARCHIVED is only hidden in the UI."""

    ACTIVE = 0
    DELETED = 1
    ARCHIVED = 2


@dataclass(frozen=True, slots=True, kw_only=True)
class Category:
    """A FreshBooks expense category; top-level categories have no parent."""

    id: str
    name: str
    parent_id: str | None = None
    active: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class Vendor:
    """A FreshBooks bill vendor (``bill_vendor``). `name` is the display name as entered."""

    id: str
    name: str
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    street: str | None = None
    street2: str | None = None
    city: str | None = None
    province: str | None = None
    postal_code: str | None = None
    country: str | None = None
    currency: str | None = None
    vis_state: VisState = VisState.ACTIVE


@dataclass(frozen=True, slots=True, kw_only=True)
class LineTax:
    """One of a line's two FreshBooks taxes (``tax_name1/tax_percent1/tax_amount1``)."""

    name: str | None
    percent: Decimal | None = None
    amount: Money | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BillLine:
    """A bill line. `amount` is FreshBooks' computed quantity × unit cost, before tax."""

    index: int
    category_id: str | None
    description: str = ""
    quantity: Decimal = Decimal(1)
    unit_cost: Money | None = None
    amount: Money | None = None
    taxes: tuple[LineTax, ...] = ()
    compounded_tax: bool = False
    id: str | None = None


class BillStatus(StrEnum):
    """FreshBooks' computed bill status."""

    UNPAID = "unpaid"
    OVERDUE = "overdue"
    PARTIAL = "partial"
    PAID = "paid"


@dataclass(frozen=True, slots=True, kw_only=True)
class BillPayment:
    """A FreshBooks bill payment (`payment_type` as FreshBooks spells it: "Check", "ACH"…)."""

    id: str
    amount: Money
    paid_date: date
    payment_type: str | None = None
    active: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class Bill:
    """A FreshBooks bill. `total_amount` (lines + taxes) is what its Ramp lines must sum to."""

    id: str
    vendor_id: str | None
    issue_date: date
    due_offset_days: int
    currency: str
    lines: tuple[BillLine, ...]
    bill_number: str | None = None
    status: BillStatus = BillStatus.UNPAID
    payments: tuple[BillPayment, ...] = ()
    total_amount: Money | None = None
    description: str | None = None
    vis_state: VisState = VisState.ACTIVE


class PaidWith(StrEnum):
    """How an expense was paid, as far as FreshBooks tells us."""

    COMPANY_CARD = "company_card"
    PERSONAL_CARD = "personal_card"
    CASH = "cash"
    BANK = "bank"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True, kw_only=True)
class Expense:
    """A FreshBooks expense. `amount` includes its taxes.

    (FreshBooks' own capture: amount 79.73 with 13 % tax 9.17 = 79.73 × 13/113.)
    `vendor_name` is free text, not a bill-vendor id; staff/client/project ids are None
    when FreshBooks sends 0.
    """

    id: str
    amount: Money
    date: date
    category_id: str | None
    vendor_name: str | None = None
    notes: str = ""
    staff_id: str | None = None
    client_id: str | None = None
    project_id: str | None = None
    taxes: tuple[LineTax, ...] = ()
    paid_with: PaidWith = PaidWith.UNKNOWN
    vis_state: VisState = VisState.ACTIVE


# --- Ramp side -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class RampVendorRef:
    """A Ramp bill-pay vendor as far as matching and bill creation need it."""

    id: str
    name: str
    external_vendor_id: str | None = None
    contact_ids: tuple[str, ...] = ()
    is_active: bool = True

    @property
    def default_contact_id(self) -> str | None:
        """The contact a bill is addressed to: the vendor's first (default) contact."""
        return self.contact_ids[0] if self.contact_ids else None


@dataclass(frozen=True, slots=True, kw_only=True)
class GLAccount:
    """A GL account uploaded to Ramp. `id` is our remote id (the coding option id)."""

    id: str
    name: str
    code: str | None = None
    active: bool = True
    ramp_id: str | None = None
    classification: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldOption:
    """An option of a Ramp accounting field (a department, cost center, project…).

    Ramp departments reach bills and transactions only as accounting-field selections,
    so a department is a `FieldOption` of the field that carries departments.
    """

    field: str
    id: str
    name: str
    code: str | None = None
    active: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class CardTransaction:
    """A Ramp card transaction. `amount_minor` is in minor units of `currency`.

    (Ramp's legacy `amount` is a float; the client converts it through
    `original_transaction_amount` / `entity_amount`, never through float arithmetic here.)
    """

    id: str
    amount_minor: int
    currency: str
    transacted_on: date
    merchant_name: str
    card_holder_user_id: str | None = None
    card_holder_name: str | None = None
    state: str = "CLEARED"
    sync_status: str | None = None
    memo: str | None = None


class RampBillStatus(StrEnum):
    OPEN = "OPEN"
    PAID = "PAID"


@dataclass(frozen=True, slots=True, kw_only=True)
class RampBill:
    """What the plan needs to know about an existing Ramp bill."""

    id: str
    status: RampBillStatus = RampBillStatus.OPEN
    archived: bool = False
    currency: str | None = None


class FreshBooksKind(StrEnum):
    VENDOR = "vendor"
    BILL = "bill"
    EXPENSE = "expense"


class RampKind(StrEnum):
    VENDOR = "vendor"
    BILL = "bill"
    TRANSACTION = "transaction"


@dataclass(frozen=True, slots=True, kw_only=True)
class Link:
    """A FreshBooks object linked to the Ramp object a plan wrote for it.

    `content_hash` is `hashing.content_hash` of the payload last written (what the Ramp
    object should look like); re-planning an unchanged object yields that same hash and
    therefore nothing to do. `version` counts writes through this link.
    """

    fb_kind: FreshBooksKind
    fb_id: str
    ramp_kind: RampKind
    ramp_id: str
    content_hash: str
    version: int = 1


@dataclass(frozen=True, slots=True)
class LinkIndex:
    """Links looked up by FreshBooks object; build with `LinkIndex.of(links)`."""

    by_fb: Mapping[tuple[FreshBooksKind, str], Link]

    @classmethod
    def of(cls, links: Iterable[Link]) -> LinkIndex:
        return cls(MappingProxyType({(link.fb_kind, link.fb_id): link for link in links}))

    def get(self, kind: FreshBooksKind, fb_id: str) -> Link | None:
        return self.by_fb.get((kind, fb_id))

    def ramp_ids(self, ramp_kind: RampKind) -> frozenset[str]:
        """Ramp ids of `ramp_kind` already claimed by some FreshBooks object."""
        return frozenset(
            link.ramp_id for link in self.by_fb.values() if link.ramp_kind == ramp_kind
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class RampState:
    """The Ramp side a plan is computed against (read by the sync engine beforehand).

    `vendors` must include every vendor a link points at; `bills` needs only the bills
    that links point at.
    """

    vendors: tuple[RampVendorRef, ...] = ()
    gl_accounts: tuple[GLAccount, ...] = ()
    field_options: tuple[FieldOption, ...] = ()
    transactions: tuple[CardTransaction, ...] = ()
    bills: tuple[RampBill, ...] = field(default=())

    def vendor(self, vendor_id: str) -> RampVendorRef | None:
        return next((v for v in self.vendors if v.id == vendor_id), None)

    def bill(self, bill_id: str) -> RampBill | None:
        return next((b for b in self.bills if b.id == bill_id), None)
