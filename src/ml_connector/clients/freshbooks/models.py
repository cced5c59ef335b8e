"""Pydantic wire models of the FreshBooks objects the connector reads.

They mirror FreshBooks' JSON, quirks included, and keep unknown fields (`extra="allow"`)
so a field FreshBooks adds is carried into the audit trail rather than dropped. Money is
`Decimal` parsed from FreshBooks' decimal strings — a float is refused. Ids arrive as
ints or strings and are read as ints. Naive accounting timestamps are made aware with
the zone FreshBooks writes them in: UTC for bills and bill vendors, US/Eastern for the
legacy objects (expenses, categories, taxes).
"""

from __future__ import annotations

import datetime as dt
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field, field_validator

_EASTERN = ZoneInfo("America/New_York")
_NAIVE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f")


def _in_zone(value: object, zone: ZoneInfo | None) -> object:
    if not isinstance(value, str) or not value:
        return None if value == "" else value
    # `fromisoformat` reads FreshBooks' "YYYY-MM-DD HH:MM:SS[.ffffff]" too, at a tenth of
    # `strptime`'s cost (a backfill parses every listed timestamp); the formats remain
    # the contract, and the fallback for whatever `fromisoformat` refuses.
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        parsed = _naive(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone or UTC).astimezone(UTC)


def _naive(value: str) -> datetime:
    for fmt in _NAIVE_FORMATS[:-1]:
        try:
            return datetime.strptime(value, fmt)  # noqa: DTZ007 - the caller applies the zone
        except ValueError:
            continue
    return datetime.strptime(value, _NAIVE_FORMATS[-1])  # noqa: DTZ007 - raises the error


def _utc(value: object) -> object:
    return _in_zone(value, None)


def _eastern(value: object) -> object:
    return _in_zone(value, _EASTERN)


def _no_float(value: object) -> object:
    if isinstance(value, float):
        raise ValueError("money must not be a float; FreshBooks sends decimal strings")
    return value


UtcDateTime = Annotated[datetime, BeforeValidator(_utc)]
"""Bill / bill vendor timestamps and ISO-8601 ones: written in UTC."""

EasternDateTime = Annotated[datetime, BeforeValidator(_eastern)]
"""Legacy accounting timestamps (expenses, categories, taxes): written in US/Eastern."""

ExactDecimal = Annotated[Decimal, BeforeValidator(_no_float)]


class WireModel(BaseModel):
    """Base of every FreshBooks wire model: unknown fields kept, models immutable."""

    model_config = ConfigDict(
        extra="allow", frozen=True, validate_by_name=True, validate_by_alias=True
    )


class Money(WireModel):
    amount: ExactDecimal
    code: str


class Category(WireModel):
    """An expense category (also nested in bill lines)."""

    categoryid: int = Field(validation_alias=AliasChoices("categoryid", "id"))
    category: str
    parentid: int | None = None
    is_cogs: bool | None = None
    is_editable: bool | None = None
    created_at: EasternDateTime | None = None
    updated_at: EasternDateTime | None = None
    vis_state: int = 0


class TaxDefault(WireModel):
    taxid: int | None = None
    name: str | None = None
    amount: ExactDecimal | None = None
    enabled: bool | None = None


class BalanceEntry(WireModel):
    amount: Money


class BillVendor(WireModel):
    vendorid: int = Field(validation_alias=AliasChoices("vendorid", "id"))
    vendor_name: str
    account_number: str | None = None
    primary_contact_email: str | None = None
    primary_contact_first_name: str | None = None
    primary_contact_last_name: str | None = None
    phone: str | None = None
    website: str | None = None
    street: str | None = None
    street2: str | None = None
    city: str | None = None
    province: str | None = None
    postal_code: str | None = None
    country: str | None = None
    currency_code: str | None = None
    language: str | None = None
    is_1099: bool | None = None
    note: str | None = None
    tax_defaults: list[TaxDefault] = Field(default_factory=list)
    outstanding_balance: list[BalanceEntry] = Field(default_factory=list)
    overdue_balance: list[BalanceEntry] = Field(default_factory=list)
    created_at: UtcDateTime | None = None
    updated_at: UtcDateTime | None = None
    vis_state: int = 0

    @field_validator("outstanding_balance", "overdue_balance", mode="before")
    @classmethod
    def _balances_as_list(cls, value: Any) -> Any:
        # Documented as an object, captured as an array per currency; accept both.
        if value is None:
            return []
        return [value] if isinstance(value, dict) else value


class BillLine(WireModel):
    id: int | None = None
    list_index: int | None = None
    description: str | None = None
    quantity: ExactDecimal
    unit_cost: Money
    amount: Money | None = None
    total_amount: Money | None = None
    categoryid: int | None = None
    category: Category | None = None
    tax_name1: str | None = None
    tax_percent1: ExactDecimal | None = None
    tax_amount1: Money | None = None
    tax_name2: str | None = None
    tax_percent2: ExactDecimal | None = None
    tax_amount2: Money | None = None

    @property
    def category_id(self) -> int | None:
        """Captured lines nest the category; older examples give a flat `categoryid`."""
        return self.category.categoryid if self.category is not None else self.categoryid


class BillPayment(WireModel):
    id: int
    billid: int
    amount: Money
    paid_date: date
    payment_type: str | None = None
    note: str | None = None
    matched_with_expense: bool | None = None
    vis_state: int = 0


class Bill(WireModel):
    id: int
    vendorid: int | None = None
    bill_number: str | None = None
    issue_date: date
    due_offset_days: int = 0
    due_date: date | None = None
    currency_code: str
    language: str | None = None
    status: str | None = None
    amount: Money | None = None
    tax_amount: Money | None = None
    total_amount: Money | None = None
    outstanding: Money | None = None
    paid: Money | None = None
    overall_category: str | None = None
    overall_description: str | None = None
    lines: list[BillLine] = Field(default_factory=list)
    bill_payments: list[BillPayment] = Field(default_factory=list)
    vendor: BillVendor | None = None
    created_at: UtcDateTime | None = None
    updated_at: UtcDateTime | None = None
    vis_state: int = 0

    @property
    def vendor_id(self) -> int | None:
        """`vendorid`, absent from some captures; then the included vendor's id."""
        if self.vendorid is not None:
            return self.vendorid
        return self.vendor.vendorid if self.vendor is not None else None


class Expense(WireModel):
    expenseid: int = Field(validation_alias=AliasChoices("expenseid", "id"))
    categoryid: int | None = None
    category: Category | None = None
    vendor: str | None = None
    """Free text: an expense's vendor is not a bill vendor."""
    amount: Money
    date: dt.date
    notes: str | None = None
    staffid: int | None = None
    clientid: int | None = None
    projectid: int | None = None
    status: int | None = None
    tax_name1: str | None = Field(default=None, validation_alias="taxName1")
    tax_percent1: ExactDecimal | None = Field(default=None, validation_alias="taxPercent1")
    tax_amount1: Money | None = Field(default=None, validation_alias="taxAmount1")
    tax_name2: str | None = Field(default=None, validation_alias="taxName2")
    tax_percent2: ExactDecimal | None = Field(default=None, validation_alias="taxPercent2")
    tax_amount2: Money | None = Field(default=None, validation_alias="taxAmount2")
    has_receipt: bool | None = None
    transactionid: int | None = None
    accounting_systemid: str | None = None
    updated: EasternDateTime | None = None
    vis_state: int = 0


class Tax(WireModel):
    taxid: int = Field(validation_alias=AliasChoices("taxid", "id"))
    name: str
    amount: ExactDecimal | None = None
    """A percentage, as a decimal string."""
    number: str | None = None
    compound: bool | None = None
    updated: EasternDateTime | None = None


class LedgerAccount(WireModel):
    uuid: str
    name: str
    number: str | None = None
    description: str | None = None
    type: str | None = None
    sub_type: str | None = None
    system_account_name: str | None = None
    parent_account: Any = None
    sub_accounts: list[Any] = Field(default_factory=list)
    auto_created: bool | None = None
    state: str | None = None
    updated_at: UtcDateTime | None = None


class Callback(WireModel):
    callbackid: int = Field(validation_alias=AliasChoices("callbackid", "id"))
    event: str
    uri: str
    verified: bool = False
    updated_at: UtcDateTime | None = None


class Business(WireModel):
    id: int
    business_uuid: str | None = None
    name: str | None = None
    account_id: str | None = None
    active: bool | None = None


class BusinessMembership(WireModel):
    id: int | None = None
    role: str | None = None
    business: Business


class Role(WireModel):
    """A deprecated identity role; its `accountid` is the fallback for a null account id."""

    id: int | None = None
    role: str | None = None
    accountid: str | None = None


class Identity(WireModel):
    identity_id: int | None = Field(
        default=None, validation_alias=AliasChoices("identity_id", "id")
    )
    identity_uuid: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    business_memberships: list[BusinessMembership] = Field(default_factory=list)
    roles: list[Role] = Field(default_factory=list)


__all__ = [
    "BalanceEntry",
    "Bill",
    "BillLine",
    "BillPayment",
    "BillVendor",
    "Business",
    "BusinessMembership",
    "Callback",
    "Category",
    "EasternDateTime",
    "Expense",
    "Identity",
    "LedgerAccount",
    "Money",
    "Role",
    "Tax",
    "TaxDefault",
    "UtcDateTime",
    "WireModel",
]
