"""Pydantic wire models for the Ramp Developer API (v1), as the reference describes them.

Two rules shape every model here:

- Responses ignore fields they do not know (Ramp adds fields over time) and tolerate
  missing optional ones. Money arrives as `CurrencyAmount` integer minor units and stays
  an int; the legacy major-unit transaction `amount` is parsed from the JSON text into a
  `Decimal` (the client decodes with `parse_float=Decimal`), never through a float.
- Requests forbid unknown fields, because Ramp answers an unknown field with 422
  "Unknown field."; decimals are sent as JSON strings ("19.98"), which the schema allows
  and which no JSON encoder can round.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    model_validator,
)

from ml_connector.clients.ramp.money import fits_currency, from_minor_units


def _assume_utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


RampDateTime = Annotated[datetime, AfterValidator(_assume_utc)]
"""Ramp sends ISO-8601 date-times; one without an offset is UTC."""

DecimalString = Annotated[
    Decimal, PlainSerializer(lambda d: format(d, "f"), return_type=str, when_used="json")
]
"""A decimal sent as a JSON string in fixed-point notation ("19.98", never "1.998E+1")."""


class _Response(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def wire(self) -> dict[str, Any]:
        """The JSON body: unset and None fields are left out rather than sent as null."""
        return self.model_dump(mode="json", exclude_none=True)


class _Patch(_Request):
    def wire(self) -> dict[str, Any]:
        """Only the fields the caller set, so an explicit None clears a value on purpose."""
        return self.model_dump(mode="json", exclude_unset=True)


# --- shared -------------------------------------------------------------------------


class CurrencyAmount(_Response):
    """Money in integer minor units (4000 = USD 40.00)."""

    amount: int
    currency_code: str

    def to_decimal(self) -> Decimal:
        return from_minor_units(self.amount, self.currency_code)


class AccountingSelection(_Request):
    """A coding choice on a request: the remote ids of a field and one of its options."""

    field_external_id: str
    field_option_external_id: str


class CategoryInfo(_Response):
    id: str | None = None
    external_id: str | None = None
    name: str | None = None
    type: str | None = None


class AccountingFieldSelection(_Response):
    """A coding choice as Ramp returns it (the option, with the field in `category_info`)."""

    id: str | None = None
    external_id: str | None = None
    external_code: str | None = None
    name: str | None = None
    category_info: CategoryInfo | None = None


# --- auth ---------------------------------------------------------------------------


class TokenResponse(_Response):
    access_token: str = Field(repr=False)
    token_type: str = "Bearer"  # noqa: S105 - a scheme name, not a secret
    expires_in: int
    scope: str | None = None


# --- vendors ------------------------------------------------------------------------


class Address(_Response):
    address_line_1: str | None = None
    address_line_2: str | None = None
    city: str | None = None
    postal_code: str | None = None
    state: str | None = None
    country: str | None = None


class Vendor(_Response):
    id: str
    name: str
    name_legal: str | None = None
    country: str | None = None
    state: str | None = None
    address: Address | None = None
    contacts: list[str] = Field(default_factory=list)
    accounting_vendor_remote_id: str | None = None
    external_vendor_id: str | None = None
    vendor_owner_id: str | None = None
    vendor_type: str | None = None
    is_active: bool = True
    is_deletable: bool | None = None
    created_at: RampDateTime | None = None


class VendorContact(_Response):
    id: str
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    is_default: bool | None = None


class VendorContactCreate(_Request):
    email: str
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None


class AddressCreate(_Request):
    address_line_1: str
    city: str
    postal_code: str
    address_line_2: str | None = None
    state: str | None = None
    country: str | None = None


class VendorCreate(_Request):
    """`POST /vendors`. The contact is one object although its name is plural (per spec)."""

    name: str
    country: Annotated[str, Field(min_length=2, max_length=2)]
    vendor_owner_id: str
    business_vendor_contacts: VendorContactCreate
    state: str | None = None
    address: AddressCreate | None = None
    accounting_vendor_remote_id: str | None = None
    vendor_tracking_category_option_id: str | None = None
    external_vendor_id: str | None = None
    """Only in Ramp's newer API; left out of the body unless set."""
    request_payment_details: bool | None = None
    request_tax_details: bool | None = None

    @model_validator(mode="after")
    def _check(self) -> VendorCreate:
        if self.country.upper() == "US" and not self.state:
            raise ValueError("a US vendor needs a state (Ramp DEVELOPER_7080)")
        if self.accounting_vendor_remote_id and self.vendor_tracking_category_option_id:
            raise ValueError(
                "give accounting_vendor_remote_id or vendor_tracking_category_option_id, not both"
            )
        return self


class VendorUpdate(_Patch):
    accounting_vendor_remote_id: str | None = None
    address: AddressCreate | None = None
    country: str | None = None
    description: str | None = None
    is_active: bool | None = None
    state: str | None = None
    vendor_tracking_category_option_id: str | None = None


# --- bills --------------------------------------------------------------------------

PaymentMethod = Literal[
    "ACH",
    "CARD",
    "CHECK",
    "DOMESTIC_WIRE",
    "INTERNATIONAL",
    "ONE_TIME_CARD",
    "ONE_TIME_CARD_DELIVERY",
    "PAID_MANUALLY",
    "SWIFT",
    "UNSPECIFIED",
    "VENDOR_CREDIT",
]
ManualPaymentMethod = Literal[
    "CASH",
    "CHECK",
    "CROSS_BORDER_PAYMENT",
    "DIRECT_DEBIT",
    "DOMESTIC_WIRE_TRANSFER",
    "NON_RAMP_CREDIT_CARD",
    "OTHER",
    "PAID_IN_ERP",
]


class BillLineItemCreate(_Request):
    amount: Annotated[DecimalString, Field(ge=0)]
    memo: str | None = None
    accounting_field_selections: list[AccountingSelection] | None = None


class ManualPaymentDetails(_Request):
    """Passing these marks the bill as paid outside Ramp."""

    manual_payment_method: ManualPaymentMethod
    payment_date: date


class BillCreate(_Request):
    """`POST /bills`. There is no total: Ramp derives `amount` from the lines."""

    vendor_id: str
    vendor_contact_id: str
    entity_id: str
    invoice_number: Annotated[str, Field(min_length=1, max_length=20)]
    invoice_currency: Annotated[str, Field(min_length=3, max_length=3)]
    issued_at: date
    due_at: date
    payment_method: PaymentMethod
    line_items: Annotated[list[BillLineItemCreate], Field(min_length=1)]
    remote_id: str | None = None
    memo: Annotated[str, Field(max_length=1000)] | None = None
    posting_date: date | None = None
    payment_details: ManualPaymentDetails | None = None
    accounting_field_selections: list[AccountingSelection] | None = None

    @model_validator(mode="after")
    def _check(self) -> BillCreate:
        for line in self.line_items:
            if not fits_currency(line.amount, self.invoice_currency):
                raise ValueError(
                    f"line amount {line.amount} has more decimals than {self.invoice_currency} allows"
                )
        if self.payment_method == "PAID_MANUALLY" and self.payment_details is None:
            raise ValueError("PAID_MANUALLY needs payment_details (method and payment date)")
        return self


class BillUpdate(_Patch):
    """`PATCH /bills/{id}`: every field optional; line arrays replace the bill's lines."""

    accounting_field_selections: list[AccountingSelection] | None = None
    due_at: date | None = None
    entity_id: str | None = None
    invoice_number: Annotated[str, Field(min_length=1, max_length=20)] | None = None
    issued_at: date | None = None
    line_items: list[BillLineItemCreate] | None = None
    memo: Annotated[str, Field(max_length=1000)] | None = None
    payment_method: PaymentMethod | None = None
    posting_date: date | None = None
    remote_id: str | None = None
    vendor_contact_id: str | None = None
    vendor_id: str | None = None


class BillLineItem(_Response):
    amount: CurrencyAmount
    memo: str | None = None
    accounting_field_selections: list[AccountingFieldSelection] = Field(default_factory=list)


class BillVendor(_Response):
    id: str
    name: str | None = None
    remote_id: str | None = None
    type: str | None = None


class BillPayment(_Response):
    amount: CurrencyAmount | None = None
    payment_method: str | None = None
    payment_date: RampDateTime | None = None
    effective_date: RampDateTime | None = None


class Bill(_Response):
    id: str
    invoice_number: str | None = None
    remote_id: str | None = None
    amount: CurrencyAmount
    status: str
    approval_status: str | None = None
    sync_status: str | None = None
    issued_at: RampDateTime | None = None
    due_at: RampDateTime | None = None
    paid_at: RampDateTime | None = None
    created_at: RampDateTime | None = None
    archived_at: RampDateTime | None = None
    entity_id: str | None = None
    memo: str | None = None
    vendor: BillVendor | None = None
    vendor_contact_id: str | None = None
    accounting_field_selections: list[AccountingFieldSelection] = Field(default_factory=list)
    line_items: list[BillLineItem] = Field(default_factory=list)
    payment: BillPayment | None = None

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None

    @property
    def is_paid(self) -> bool:
        return self.status.upper() == "PAID"


# --- accounting ---------------------------------------------------------------------


class AccountingConnection(_Response):
    id: str
    remote_provider_name: str | None = None
    is_active: bool | None = None
    status: Annotated[str | None, BeforeValidator(_lower)] = None
    created_at: RampDateTime | None = None
    last_linked_at: RampDateTime | None = None


class AccountingConnectionCreate(_Request):
    remote_provider_name: str


GLClassification = Literal[
    "ANY", "ASSET", "CREDCARD", "EQUITY", "EXPENSE", "LIABILITY", "REVENUE", "UNKNOWN"
]


class GLAccountUpload(_Request):
    """One GL account to upload; `id` is the remote (ERP) id, not Ramp's."""

    id: Annotated[str, Field(min_length=1)]
    name: Annotated[str, Field(min_length=1)]
    classification: GLClassification
    code: str | None = None


class GLAccountUpdate(_Patch):
    name: str | None = None
    code: str | None = None
    reactivate: Literal[True] | None = None


class GLAccount(_Response):
    id: str | None = None
    """The remote id we uploaded (used as `field_option_external_id` when coding)."""
    ramp_id: str
    """Ramp's UUID: the path id for GET/PATCH/DELETE."""
    name: str
    code: str | None = None
    classification: str | None = None
    is_active: bool = True


class AccountingField(_Response):
    id: str | None = None
    ramp_id: str
    name: str
    display_name: str | None = None
    input_type: str | None = None
    is_active: bool = True
    is_splittable: bool | None = None


class AccountingFieldCreate(_Request):
    id: str
    name: str
    input_type: Literal["BOOLEAN", "FREE_FORM_TEXT", "SINGLE_CHOICE"]
    display_name: str | None = None
    is_splittable: bool | None = None
    is_required_for: (
        list[Literal["BILL", "BILL_PAYMENT", "PURCHASE_ORDER", "REIMBURSEMENT", "TRANSACTION"]]
        | None
    ) = None


class FieldOption(_Response):
    id: str | None = None
    ramp_id: str
    value: str
    code: str | None = None
    display_name: str | None = None
    visibility: str | None = None
    is_active: bool = True


class FieldOptionUpload(_Request):
    id: Annotated[str, Field(min_length=1)]
    value: Annotated[str, Field(min_length=1)]
    code: str | None = None


class FieldOptionUpdate(_Patch):
    value: str | None = None
    code: str | None = None
    display_name: str | None = None
    visibility: Literal["HIDDEN", "VISIBLE"] | None = None
    reactivate: Literal[True] | None = None


# --- organisation -------------------------------------------------------------------


class Department(_Response):
    id: str
    name: str


class EntityAccount(_Response):
    id: str | None = None
    classification: str | None = None
    external_id: str | None = None
    external_name: str | None = None
    usage_type: str | None = None


class Entity(_Response):
    id: str
    entity_name: str
    currency: str | None = None
    is_primary: bool = False
    location_ids: list[str] = Field(default_factory=list)
    accounts: list[EntityAccount] = Field(default_factory=list)


class User(_Response):
    id: str
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    role: str | None = None
    department_id: str | None = None
    location_id: str | None = None
    entity_id: str | None = None
    employee_id: str | None = None
    status: str | None = None


# --- transactions -------------------------------------------------------------------


class CardHolder(_Response):
    user_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    department_id: str | None = None
    department_name: str | None = None
    location_id: str | None = None


class TransactionLineItem(_Response):
    amount: CurrencyAmount | None = None
    converted_amount: CurrencyAmount | None = None
    memo: str | None = None
    accounting_field_selections: list[AccountingFieldSelection] = Field(default_factory=list)


class Transaction(_Response):
    id: str
    amount: Decimal | None = None
    """Legacy major units, parsed from the JSON text, never through a float."""
    currency_code: str | None = None
    original_transaction_amount: CurrencyAmount | None = None
    state: str | None = None
    sync_status: str | None = None
    user_transaction_time: RampDateTime | None = None
    settlement_date: RampDateTime | None = None
    merchant_id: str | None = None
    merchant_name: str | None = None
    memo: str | None = None
    card_holder: CardHolder | None = None
    entity_id: str | None = None
    line_items: list[TransactionLineItem] = Field(default_factory=list)
    accounting_field_selections: list[AccountingFieldSelection] = Field(default_factory=list)


class TransactionLineItemCoding(_Request):
    """One line of `PATCH /transactions/{id}`; Ramp replaces the lines wholesale."""

    amount: Annotated[DecimalString, Field(ge=0)]
    """Major units; the lines must add up to the transaction's amount."""
    memo: str | None = None
    accounting_field_selections: list[AccountingSelection]


class TransactionCoding(_Request):
    line_items: Annotated[list[TransactionLineItemCoding], Field(min_length=1)]


class Memo(_Response):
    id: str | None = None
    memo: str | None = None


class MemoCreate(_Request):
    memo: Annotated[str, Field(max_length=255)]
    is_memo_recurring: bool | None = None


# --- webhooks -----------------------------------------------------------------------


class WebhookSubscription(_Response):
    id: str
    endpoint_url: str
    event_types: list[str] = Field(default_factory=list)
    status: Annotated[str | None, BeforeValidator(_lower)] = None
    """`active`, `inactive` or `pending_verification` (Ramp's examples are upper-case)."""
    business_id: str | None = None
    additional_headers: dict[str, str] = Field(default_factory=dict)
    created_at: RampDateTime | None = None

    @property
    def is_active(self) -> bool:
        return self.status == "active"


class WebhookSubscriptionWithSecret(WebhookSubscription):
    secret: str = Field(repr=False)


class WebhookSubscriptionCreate(_Request):
    endpoint_url: str
    event_types: Annotated[list[str], Field(min_length=1)]
    additional_headers: Annotated[dict[str, str], Field(max_length=5)] | None = None


class WebhookObject(_Response):
    model_config = ConfigDict(extra="allow", frozen=True)
    id: str


class WebhookEvent(_Response):
    """A thin delivery: the affected object's id; fetch the object for its state."""

    id: str
    type: str
    business_id: str | None = None
    created_at: RampDateTime | None = None
    object: WebhookObject | None = None
    challenge: str | None = None


__all__ = [
    "AccountingConnection",
    "AccountingConnectionCreate",
    "AccountingField",
    "AccountingFieldCreate",
    "AccountingFieldSelection",
    "AccountingSelection",
    "Address",
    "AddressCreate",
    "Bill",
    "BillCreate",
    "BillLineItem",
    "BillLineItemCreate",
    "BillPayment",
    "BillUpdate",
    "BillVendor",
    "CardHolder",
    "CategoryInfo",
    "CurrencyAmount",
    "Department",
    "Entity",
    "EntityAccount",
    "FieldOption",
    "FieldOptionUpdate",
    "FieldOptionUpload",
    "GLAccount",
    "GLAccountUpdate",
    "GLAccountUpload",
    "GLClassification",
    "ManualPaymentDetails",
    "ManualPaymentMethod",
    "Memo",
    "MemoCreate",
    "PaymentMethod",
    "RampDateTime",
    "TokenResponse",
    "Transaction",
    "TransactionCoding",
    "TransactionLineItem",
    "TransactionLineItemCoding",
    "User",
    "Vendor",
    "VendorContact",
    "VendorContactCreate",
    "VendorCreate",
    "VendorUpdate",
    "WebhookEvent",
    "WebhookObject",
    "WebhookSubscription",
    "WebhookSubscriptionCreate",
    "WebhookSubscriptionWithSecret",
]
