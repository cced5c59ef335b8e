"""The accounting objects an emulated FreshBooks account holds (internal, not wire shapes).

Amounts are `Decimal`; ids are ints; every object keeps its own `created`/`updated`
instants as aware UTC datetimes and is rendered per resource (zone quirks included) by
`render.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

ACTIVE, DELETED, ARCHIVED = 0, 1, 2


@dataclass
class Category:
    id: int
    name: str
    parentid: int | None
    is_cogs: bool
    is_editable: bool
    created: datetime
    updated: datetime
    vis_state: int = ACTIVE


@dataclass
class Tax:
    id: int
    name: str
    amount: Decimal  # percent
    number: str | None
    compound: bool
    updated: datetime


@dataclass
class Staff:
    id: int
    first_name: str
    last_name: str
    email: str
    created: datetime
    updated: datetime
    vis_state: int = ACTIVE


@dataclass
class VendorTaxDefault:
    taxid: int
    system_taxid: int
    name: str
    amount: Decimal
    enabled: bool
    created: datetime
    updated: datetime


@dataclass
class Vendor:
    id: int
    vendor_name: str
    created: datetime
    updated: datetime
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
    currency_code: str = "USD"
    language: str = "en"
    is_1099: bool = False
    note: str | None = None
    tax_defaults: list[VendorTaxDefault] = field(default_factory=list)
    vis_state: int = ACTIVE


@dataclass
class BillLine:
    id: int
    categoryid: int
    description: str | None
    quantity: Decimal
    unit_cost: Decimal
    tax_name1: str | None = None
    tax_percent1: Decimal | None = None
    tax_authorityid1: str | None = None
    tax_name2: str | None = None
    tax_percent2: Decimal | None = None
    tax_authorityid2: str | None = None
    compounded_tax: bool = False


@dataclass
class Bill:
    id: int
    vendorid: int
    issue_date: date
    due_offset_days: int
    currency_code: str
    created: datetime
    updated: datetime
    lines: list[BillLine]
    bill_number: str | None = None
    language: str = "en"
    vis_state: int = ACTIVE


@dataclass
class BillPayment:
    id: int
    billid: int
    amount: Decimal
    code: str
    paid_date: date
    payment_type: str
    note: str
    created: datetime
    updated: datetime
    vis_state: int = ACTIVE


@dataclass
class Expense:
    id: int
    categoryid: int
    amount: Decimal
    code: str
    date: date
    staffid: int
    updated: datetime
    vendor: str | None = None
    notes: str | None = None
    clientid: int = 0
    projectid: int = 0
    markup_percent: Decimal = Decimal(0)
    tax_name1: str | None = None
    tax_percent1: Decimal | None = None
    tax_amount1: Decimal | None = None
    tax_name2: str | None = None
    tax_percent2: Decimal | None = None
    tax_amount2: Decimal | None = None
    compounded_tax: bool = False
    has_receipt: bool = False
    include_receipt: bool = False
    is_cogs: bool = False
    billable: bool = False
    account_name: str = ""
    bank_name: str = ""
    transactionid: int | None = None
    vis_state: int = ACTIVE


__all__ = [
    "ACTIVE",
    "ARCHIVED",
    "DELETED",
    "Bill",
    "BillLine",
    "BillPayment",
    "Category",
    "Expense",
    "Staff",
    "Tax",
    "Vendor",
    "VendorTaxDefault",
]
