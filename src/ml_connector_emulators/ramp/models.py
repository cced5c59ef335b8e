"""The emulator's in-memory state: one `Business` per Ramp business, holding its objects.

Plain mutable dataclasses: the emulator runs on one event loop and every route mutates
state without awaiting in between, so no locks are needed. Dicts keep insertion order,
which is the order lists are paged in. Money is stored exactly (integer minor units, or
`Decimal` where Ramp's wire format is major units).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from ml_connector_emulators.ramp.bill_index import BillsByRemoteId


@dataclass
class ApiClient:
    client_id: str
    client_secret: str
    name: str
    allowed_scopes: frozenset[str]
    grant_types: frozenset[str]


@dataclass
class AccessToken:
    token: str
    client_id: str
    business_id: str
    scopes: frozenset[str]
    expires_at: datetime
    refresh_token: str | None = None
    revoked: bool = False


@dataclass
class RefreshGrant:
    token: str
    client_id: str
    business_id: str
    scopes: frozenset[str]
    revoked: bool = False


@dataclass
class AuthorizationCode:
    code: str
    client_id: str
    business_id: str
    scopes: frozenset[str]
    redirect_uri: str
    expires_at: datetime
    used: bool = False


@dataclass
class User:
    id: str
    first_name: str
    last_name: str
    email: str
    role: str
    entity_id: str
    department_id: str | None = None
    location_id: str | None = None
    employee_id: str | None = None
    card_id: str | None = None
    is_manager: bool = False
    status: str = "USER_ACTIVE"


@dataclass
class Department:
    id: str
    name: str


@dataclass
class Location:
    id: str
    name: str
    entity_id: str | None


@dataclass
class BankAccount:
    id: str
    name: str
    usage_type: str
    classification: str
    external_id: str | None = None


@dataclass
class Entity:
    id: str
    entity_name: str
    currency: str
    is_primary: bool
    accounts: list[BankAccount] = field(default_factory=list)
    location_ids: list[str] = field(default_factory=list)


@dataclass
class VendorContact:
    id: str
    email: str
    first_name: str | None
    last_name: str | None
    phone: str | None
    is_default: bool


@dataclass
class Vendor:
    id: str
    name: str
    country: str
    state: str | None
    vendor_owner_id: str | None
    created_at: datetime
    updated_at: datetime
    contacts: list[VendorContact] = field(default_factory=list)
    address: dict[str, Any] | None = None
    accounting_vendor_remote_id: str | None = None
    vendor_tracking_category_option_id: str | None = None
    external_vendor_id: str | None = None
    description: str | None = None
    is_active: bool = True
    request_payment_details: bool = False
    request_tax_details: bool = False


@dataclass
class Selection:
    """A resolved accounting coding: the option as Ramp echoes it back on bills and lines."""

    option_ramp_id: str
    option_external_id: str
    option_code: str | None
    option_name: str
    field_ramp_id: str
    field_external_id: str
    field_name: str
    field_type: str


@dataclass
class BillLine:
    amount_minor: int
    memo: str | None
    selections: list[Selection]


@dataclass
class InventoryLine:
    unit_price: Decimal
    unit_quantity: int
    amount_minor: int
    memo: str | None
    selections: list[Selection]


@dataclass
class Bill:
    id: str
    vendor_id: str
    vendor_contact_id: str
    entity_id: str
    invoice_number: str
    currency: str
    issued_at: date
    due_at: date
    payment_method: str
    owner_id: str | None
    created_at: datetime
    updated_at: datetime
    line_items: list[BillLine] = field(default_factory=list)
    inventory_line_items: list[InventoryLine] = field(default_factory=list)
    selections: list[Selection] = field(default_factory=list)
    posting_date: date | None = None
    memo: str | None = None
    remote_id: str | None = None
    payment_details: dict[str, Any] | None = None
    status: str = "OPEN"
    sync_status: str = "NOT_SYNCED"
    paid_at: date | None = None
    archived_at: datetime | None = None

    @property
    def amount_minor(self) -> int:
        return sum(line.amount_minor for line in self.line_items) + sum(
            line.amount_minor for line in self.inventory_line_items
        )


@dataclass
class GLAccount:
    ramp_id: str
    remote_id: str
    name: str
    classification: str
    code: str | None
    created_at: datetime
    updated_at: datetime
    is_active: bool = True


@dataclass
class CustomField:
    ramp_id: str
    remote_id: str
    name: str
    display_name: str | None
    input_type: str
    is_splittable: bool
    is_required_for: list[str]
    created_at: datetime
    updated_at: datetime
    is_active: bool = True


@dataclass
class FieldOption:
    ramp_id: str
    remote_id: str
    field_ramp_id: str
    value: str
    code: str | None
    created_at: datetime
    updated_at: datetime
    display_name: str | None = None
    visibility: str = "VISIBLE"
    is_active: bool = True


@dataclass
class AccountingVendor:
    ramp_id: str
    remote_id: str
    name: str
    code: str | None
    created_at: datetime
    updated_at: datetime
    is_active: bool = True
    is_synced: bool = False


@dataclass
class AccountingConnection:
    """One accounting connection and the chart it owns (lost when it is unlinked)."""

    id: str
    remote_provider_name: str
    created_at: datetime
    last_linked_at: datetime
    gl_field_ramp_id: str
    vendor_field_ramp_id: str
    is_active: bool = True
    status: str = "linked"
    gl_accounts: dict[str, GLAccount] = field(default_factory=dict)
    fields: dict[str, CustomField] = field(default_factory=dict)
    options: dict[str, FieldOption] = field(default_factory=dict)
    vendors: dict[str, AccountingVendor] = field(default_factory=dict)
    syncs: dict[str, str] = field(default_factory=dict)


@dataclass
class TransactionLine:
    amount: Decimal
    memo: str | None
    selections: list[Selection]


@dataclass
class Transaction:
    id: str
    amount: Decimal
    currency: str
    user_transaction_time: datetime
    merchant_id: str
    merchant_name: str
    user_id: str
    card_id: str | None
    entity_id: str
    department_id: str | None
    location_id: str | None
    state: str = "CLEARED"
    sync_status: str = "NOT_SYNC_READY"
    synced_at: datetime | None = None
    memo: str | None = None
    memo_id: str | None = None
    line_items: list[TransactionLine] = field(default_factory=list)
    selections: list[Selection] = field(default_factory=list)
    updated_at: datetime | None = None


@dataclass
class Business:
    id: str
    name: str
    clients: dict[str, ApiClient] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    departments: dict[str, Department] = field(default_factory=dict)
    locations: dict[str, Location] = field(default_factory=dict)
    entities: dict[str, Entity] = field(default_factory=dict)
    vendors: dict[str, Vendor] = field(default_factory=dict)
    bills: dict[str, Bill] = field(default_factory=dict)
    connections: dict[str, AccountingConnection] = field(default_factory=dict)
    transactions: dict[str, Transaction] = field(default_factory=dict)
    bills_by_remote_id: BillsByRemoteId = field(
        default_factory=BillsByRemoteId, repr=False, compare=False
    )

    def active_connection(self) -> AccountingConnection | None:
        return next((c for c in self.connections.values() if c.is_active), None)
