"""Bills (§5): create, get, list, patch, delete (= archive).

Create takes every required field of `ApiCreateBillParamsRequestBody`; line amounts are
decimals in major units and come back as integer minor units, and the bill `amount` is
the sum of its lines. The contact must belong to the vendor, the entity must exist, and
coding must name active GL accounts / field options of the active accounting
connection. `PAID_MANUALLY` with manual `payment_details` marks the bill paid on the
payment date. API bills are approved at once. Bills take no idempotency key: posting the
same `remote_id` twice makes two bills, which the counters record.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ml_connector_emulators.ramp.auth import Call, api
from ml_connector_emulators.ramp.coding import SELECTION, render_selection, resolve_selections
from ml_connector_emulators.ramp.conventions import (
    SCHEMA_INVALID,
    ApiError,
    invalid,
    iso_date_as_datetime,
    iso_datetime,
    json_response,
    not_found,
    paginate,
    read_json,
    schema_error,
)
from ml_connector_emulators.ramp.models import Bill, BillLine, Business, InventoryLine, Selection
from ml_connector_emulators.ramp.money import (
    ISO_4217_CODES,
    currency_amount,
    from_minor_units,
    to_minor_units,
)
from ml_connector_emulators.ramp.validation import (
    Field,
    FieldError,
    Schema,
    decimal_amount,
    integer,
    iso_date,
    list_of,
    obj,
    one_of,
    string,
    uuid_string,
    validate_body,
    validate_object,
)
from ml_connector_emulators.ramp.validation import (
    iso_datetime as parse_datetime,
)
from ml_connector_emulators.ramp.world import RampWorld

PAYMENT_METHODS = [
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
MANUAL_METHODS = [
    "CASH",
    "CHECK",
    "CROSS_BORDER_PAYMENT",
    "DIRECT_DEBIT",
    "DOMESTIC_WIRE_TRANSFER",
    "NON_RAMP_CREDIT_CARD",
    "OTHER",
    "PAID_IN_ERP",
]
BANK_METHODS = frozenset({"ACH", "DOMESTIC_WIRE", "INTERNATIONAL", "SWIFT"})
CARD_METHODS = frozenset({"CARD", "ONE_TIME_CARD", "ONE_TIME_CARD_DELIVERY"})

LINE = obj(
    {
        "amount": Field(decimal_amount(), True),
        "memo": Field(string(1000), nullable=True),
        "accounting_field_selections": Field(list_of(SELECTION)),
    }
)
INVENTORY_LINE = obj(
    {
        "unit_price": Field(decimal_amount(), True),
        "unit_quantity": Field(integer(minimum=1), True),
        "memo": Field(string(1000), nullable=True),
        "accounting_field_selections": Field(list_of(SELECTION)),
    }
)
_DETAILS: dict[str, Schema] = {
    "manual": {
        "manual_payment_method": Field(one_of(MANUAL_METHODS), True),
        "payment_date": Field(iso_date, True),
    },
    "bank": {
        "payment_arrival_date": Field(iso_date, True),
        "source_bank_account_id": Field(uuid_string, True),
        "vendor_account_id": Field(uuid_string, True),
    },
    "vendor": {
        "payment_arrival_date": Field(iso_date, True),
        "source_bank_account_id": Field(uuid_string, True),
    },
    "card": {
        "spend_limit_id": Field(uuid_string, True),
        "transaction_id": Field(uuid_string, nullable=True),
    },
}


def _create_schema(accept_unspecified: bool) -> Schema:
    methods = [m for m in PAYMENT_METHODS if accept_unspecified or m != "UNSPECIFIED"]
    return {
        "vendor_id": Field(uuid_string, True),
        "vendor_contact_id": Field(uuid_string, True),
        "entity_id": Field(uuid_string, True),
        "invoice_number": Field(string(20, 1), True),
        "invoice_currency": Field(one_of(ISO_4217_CODES), True),
        "issued_at": Field(iso_date, True),
        "due_at": Field(iso_date, True),
        "posting_date": Field(iso_date, nullable=True),
        "memo": Field(string(1000), nullable=True),
        "remote_id": Field(string(255), nullable=True),
        "payment_method": Field(one_of(methods), True),
        "payment_details": Field(lambda value: value, nullable=True),
        "line_items": Field(list_of(LINE)),
        "inventory_line_items": Field(list_of(INVENTORY_LINE)),
        "accounting_field_selections": Field(list_of(SELECTION)),
    }


PATCH_SCHEMA: Schema = {
    "vendor_id": Field(uuid_string),
    "vendor_contact_id": Field(uuid_string),
    "entity_id": Field(uuid_string),
    "invoice_number": Field(string(20, 1)),
    "issued_at": Field(iso_date),
    "due_at": Field(iso_date),
    "posting_date": Field(iso_date, nullable=True),
    "memo": Field(string(1000), nullable=True),
    "remote_id": Field(string(255), nullable=True),
    "payment_method": Field(one_of(PAYMENT_METHODS)),
    "purchase_order_id": Field(uuid_string, nullable=True),
    "line_items": Field(list_of(LINE)),
    "inventory_line_items": Field(list_of(INVENTORY_LINE)),
    "accounting_field_selections": Field(list_of(SELECTION)),
}


def _details_kind(method: str) -> str | None:
    if method == "PAID_MANUALLY":
        return "manual"
    if method in BANK_METHODS:
        return "bank"
    if method == "CHECK":
        return "vendor"
    if method in CARD_METHODS:
        return "card"
    return None


def _payment_details(bill_method: str, raw: object) -> dict[str, Any] | None:
    if raw is None:
        return None
    kind = _details_kind(bill_method)
    if kind is None:
        raise schema_error("payment_details", f"No payment details are accepted for {bill_method}.")
    try:
        return validate_object(raw, _DETAILS[kind])
    except FieldError as exc:
        info = {"payment_details": exc.errors}
        raise ApiError(422, SCHEMA_INVALID, "FieldError payment_details.", info) from exc


def _check_payability(world: RampWorld, business: Business, bill: Bill) -> None:
    """What Ramp checks before it schedules a payment (§5.2, bill-pay guide)."""
    details = bill.payment_details
    kind = _details_kind(bill.payment_method)
    if details is None or kind in (None, "manual"):
        return
    if kind == "card":
        raise invalid("Unknown spend limit.", "payment_details")
    entity = business.entities[bill.entity_id]
    source = next((a for a in entity.accounts if a.id == details["source_bank_account_id"]), None)
    if source is None or source.usage_type != "BILL_PAY_BANK_ACCOUNT":
        raise invalid(
            "source_bank_account_id is not a bill-pay account of the entity.", "payment_details"
        )
    arrival: date = details["payment_arrival_date"]
    if arrival.weekday() >= 5 or arrival < world.clock.now().date():
        raise invalid("payment_arrival_date must be a future business day.", "payment_details")
    vendor = business.vendors[bill.vendor_id]
    if kind == "vendor" and not vendor.address:
        raise invalid("Check payments need a vendor address.", "payment_details")
    if kind == "bank":
        raise invalid("The vendor has no verified bank account.", "payment_details")


def _lines(
    call: Call, currency: str, rows: list[dict[str, Any]], inventory: bool
) -> list[BillLine] | list[InventoryLine]:
    field_id = call.world.quirks.gl_field_external_id
    errors: dict[str, Any] = {}
    minors: list[int] = []
    for index, row in enumerate(rows):
        amount: Decimal = row["unit_price"] * row["unit_quantity"] if inventory else row["amount"]
        try:
            minors.append(to_minor_units(amount, currency))
        except ValueError as exc:
            errors[str(index)] = {"unit_price" if inventory else "amount": [str(exc)]}
    if errors:
        key = "inventory_line_items" if inventory else "line_items"
        raise ApiError(422, SCHEMA_INVALID, "FieldError amount.", {key: errors})
    if inventory:
        return [
            InventoryLine(
                unit_price=row["unit_price"],
                unit_quantity=row["unit_quantity"],
                amount_minor=minor,
                memo=row.get("memo"),
                selections=_coding(call, field_id, row),
            )
            for row, minor in zip(rows, minors, strict=True)
        ]
    return [
        BillLine(amount_minor=minor, memo=row.get("memo"), selections=_coding(call, field_id, row))
        for row, minor in zip(rows, minors, strict=True)
    ]


def _coding(call: Call, field_id: str, row: dict[str, Any]) -> list[Selection]:
    return resolve_selections(call.business, field_id, row.get("accounting_field_selections", []))


def _check_parties(business: Business, vendor_id: str, contact_id: str, entity_id: str) -> None:
    vendor = business.vendors.get(vendor_id)
    if vendor is None:
        raise invalid("vendor_id is not a vendor of this business.", "vendor_id")
    if not vendor.is_active:
        raise invalid("The vendor is inactive.", "vendor_id")
    if all(c.id != contact_id for c in vendor.contacts):
        raise invalid(
            "vendor_contact_id must be associated with passed vendor.", "vendor_contact_id"
        )
    if entity_id not in business.entities:
        raise invalid("entity_id is not an entity of this business.", "entity_id")


def _owner_id(business: Business) -> str | None:
    owner = next(
        (u for u in business.users.values() if u.role in ("BUSINESS_OWNER", "BUSINESS_ADMIN")),
        None,
    )
    return owner.id if owner else None


def _apply_payment(bill: Bill) -> bool:
    """Mark a manually paid bill paid; True if it just became paid."""
    if bill.payment_method == "PAID_MANUALLY" and bill.payment_details and bill.status != "PAID":
        bill.status = "PAID"
        bill.paid_at = bill.payment_details["payment_date"]
        return True
    return False


@api("bills:write")
async def create_bill(call: Call) -> Response:
    world = call.world
    body = validate_body(
        await read_json(call.request),
        _create_schema(world.quirks.accept_unspecified_payment_method),
    )
    details = _payment_details(body["payment_method"], body.get("payment_details"))
    _check_parties(call.business, body["vendor_id"], body["vendor_contact_id"], body["entity_id"])
    currency = body["invoice_currency"]
    lines = _lines(call, currency, body.get("line_items", []), inventory=False)
    inventory = _lines(call, currency, body.get("inventory_line_items", []), inventory=True)
    if not lines and not inventory:
        raise invalid("A bill needs at least one line item.", "line_items")
    now = world.clock.now()
    bill = Bill(
        id=world.new_id(),
        vendor_id=body["vendor_id"],
        vendor_contact_id=body["vendor_contact_id"],
        entity_id=body["entity_id"],
        invoice_number=body["invoice_number"],
        currency=currency,
        issued_at=body["issued_at"],
        due_at=body["due_at"],
        payment_method=body["payment_method"],
        owner_id=_owner_id(call.business),
        created_at=now,
        updated_at=now,
        line_items=lines,  # type: ignore[arg-type]
        inventory_line_items=inventory,  # type: ignore[arg-type]
        selections=resolve_selections(
            call.business,
            world.quirks.gl_field_external_id,
            body.get("accounting_field_selections", []),
        ),
        posting_date=body.get("posting_date"),
        memo=body.get("memo"),
        remote_id=body.get("remote_id"),
        payment_details=details,
    )
    _check_payability(world, call.business, bill)
    business = call.business
    if bill.remote_id and business.bills_by_remote_id.live_with(business.bills, bill.remote_id):
        world.counters.duplicate_bills_by_remote_id += 1
    paid = _apply_payment(bill)
    business.bills[bill.id] = bill
    business.bills_by_remote_id.added(business.bills, bill)
    world.counters.bills_created += 1
    world.webhooks.emit(call.business.id, "bills.created", bill.id)
    if paid:
        world.webhooks.emit(call.business.id, "bills.paid", bill.id)
    return json_response(render_bill(call.business, bill, with_trace=True), 201)


def render_bill(business: Business, bill: Bill, *, with_trace: bool) -> dict[str, Any]:
    vendor = business.vendors.get(bill.vendor_id)
    owner = business.users.get(bill.owner_id or "")
    total = currency_amount(bill.amount_minor, bill.currency)
    details = bill.payment_details or {}
    payment: dict[str, Any] = {
        "amount": total,
        "payment_method": bill.payment_method,
        "payment_date": iso_date_as_datetime(bill.paid_at),
        "effective_date": None,
        "details": (
            {"manual_payment_method": details["manual_payment_method"]}
            if "manual_payment_method" in details
            else None
        ),
    }
    if with_trace:
        payment["trace_id"] = None
    return {
        "id": bill.id,
        "invoice_number": bill.invoice_number,
        "remote_id": bill.remote_id,
        "amount": total,
        "status": bill.status,
        "approval_status": "APPROVED",
        "sync_status": bill.sync_status,
        "issued_at": iso_date_as_datetime(bill.issued_at),
        "due_at": iso_date_as_datetime(bill.due_at),
        "accounting_date": iso_date_as_datetime(bill.issued_at),
        "posting_date": iso_date_as_datetime(bill.posting_date),
        "paid_at": iso_date_as_datetime(bill.paid_at),
        "created_at": iso_datetime(bill.created_at),
        "archived_at": iso_datetime(bill.archived_at) if bill.archived_at else None,
        "entity_id": bill.entity_id,
        "fx_conversion_rate": "1.0",
        "memo": bill.memo,
        "vendor_memo": None,
        "deep_link_url": None,
        "invoice_urls": [],
        "bill_owner": (
            {"id": owner.id, "first_name": owner.first_name, "last_name": owner.last_name}
            if owner
            else None
        ),
        "vendor": {
            "id": bill.vendor_id,
            "name": vendor.name if vendor else None,
            "remote_id": vendor.accounting_vendor_remote_id if vendor else None,
            "remote_code": None,
            "remote_name": None,
            "type": "BUSINESS",
        },
        "vendor_contact_id": bill.vendor_contact_id,
        "accounting_field_selections": [render_selection(s) for s in bill.selections],
        "line_items": [
            {
                "amount": currency_amount(line.amount_minor, bill.currency),
                "memo": line.memo,
                "accounting_field_selections": [render_selection(s) for s in line.selections],
            }
            for line in bill.line_items
        ],
        "inventory_line_items": [
            {
                "unit_price": currency_amount(
                    to_minor_units(line.unit_price, bill.currency), bill.currency
                ),
                "unit_quantity": line.unit_quantity,
                "amount": currency_amount(line.amount_minor, bill.currency),
                "memo": line.memo,
                "accounting_field_selections": [render_selection(s) for s in line.selections],
            }
            for line in bill.inventory_line_items
        ],
        "payment": payment,
    }


def bill_of(call: Call) -> Bill:
    bill = call.business.bills.get(call.param("bill_id"))
    if bill is None:
        raise not_found("Bill")
    return bill


@api("bills:read")
async def get_bill(call: Call) -> Response:
    return json_response(render_bill(call.business, bill_of(call), with_trace=True))


def _query_date(request: Request, name: str) -> date | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        return iso_date(raw)
    except FieldError:
        try:
            return parse_datetime(raw).date()
        except FieldError as exc:
            raise schema_error(name, "Not a valid date.") from exc


def _query_moment(request: Request, name: str) -> datetime | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        return parse_datetime(raw)
    except FieldError as exc:
        raise schema_error(name, "Not a valid datetime.") from exc


def _query_decimal(request: Request, name: str) -> Decimal | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        amount: Decimal = decimal_amount(None)(raw)
    except FieldError as exc:
        raise schema_error(name, "Not a valid number.") from exc
    return amount


_EXACT: dict[str, Callable[[Bill], str]] = {
    "entity_id": lambda bill: bill.entity_id,
    "vendor_id": lambda bill: bill.vendor_id,
    "payment_method": lambda bill: bill.payment_method,
    "payment_status": lambda bill: bill.status,
    "approval_status": lambda bill: "APPROVED",
    "sync_status": lambda bill: bill.sync_status,
}


def _due_at(bill: Bill) -> date:
    return bill.due_at


def _issued_at(bill: Bill) -> date:
    return bill.issued_at


def _created_at(bill: Bill) -> datetime:
    return bill.created_at


def _paid_moment(bill: Bill) -> datetime | None:
    if not bill.paid_at:
        return None
    return datetime.fromisoformat(f"{bill.paid_at.isoformat()}T00:00:00+00:00")


def _amount(bill: Bill) -> Decimal:
    return from_minor_units(bill.amount_minor, bill.currency)


def _between(value: Any, low: Any, high: Any) -> bool:
    if low is None and high is None:
        return True
    if value is None:
        return False
    return (low is None or value >= low) and (high is None or value <= high)


@api("bills:read")
async def list_bills(call: Call) -> Response:
    request = call.request
    query = request.query_params
    archived = query.get("is_archived", "false").lower()
    if archived not in ("true", "false"):
        raise schema_error("is_archived", "Not a valid boolean.")
    dates = {
        name: _query_date(request, name)
        for name in ("from_due_date", "to_due_date", "from_issued_date", "to_issued_date")
    }
    moments = {
        name: _query_moment(request, name)
        for name in ("from_created_at", "to_created_at", "from_paid_at", "to_paid_at")
    }
    low, high = _query_decimal(request, "min_amount"), _query_decimal(request, "max_amount")
    # Only the filters asked for are evaluated: every list call walks every bill.
    exact = [(_EXACT[k], v) for k in _EXACT if (v := query.get(k)) is not None]
    every_range: list[tuple[Callable[[Bill], Any], Any, Any]] = [
        (_due_at, dates["from_due_date"], dates["to_due_date"]),
        (_issued_at, dates["from_issued_date"], dates["to_issued_date"]),
        (_created_at, moments["from_created_at"], moments["to_created_at"]),
        (_paid_moment, moments["from_paid_at"], moments["to_paid_at"]),
        (_amount, low, high),
    ]
    ranges = [r for r in every_range if r[1] is not None or r[2] is not None]
    want_archived = archived == "true"
    items = [
        b for b in call.business.bills.values() if (b.archived_at is not None) == want_archived
    ]
    for attribute, value in exact:
        items = [b for b in items if attribute(b) == value]
    for field_of, start, end in ranges:
        items = [b for b in items if _between(field_of(b), start, end)]
    business = call.business
    return paginate(
        request,
        items,
        lambda b: render_bill(business, b, with_trace=False),
        lambda b: b.id,
        call.world.public_url,
    )


@api("bills:write")
async def patch_bill(call: Call) -> Response:
    bill = bill_of(call)
    body = validate_body(await read_json(call.request), PATCH_SCHEMA)
    if bill.archived_at is not None:
        raise invalid("Archived bills cannot be edited.")
    if body.get("purchase_order_id") is not None:
        raise invalid("Unknown purchase order.", "purchase_order_id")
    if bill.status == "PAID" and ({"line_items", "inventory_line_items"} & body.keys()):
        raise invalid("The amounts of a paid bill cannot be changed.", "line_items")
    vendor_id = body.get("vendor_id", bill.vendor_id)
    contact_id = body.get("vendor_contact_id", bill.vendor_contact_id)
    entity_id = body.get("entity_id", bill.entity_id)
    _check_parties(call.business, vendor_id, contact_id, entity_id)
    currency = bill.currency
    lines = (
        _lines(call, currency, body["line_items"], inventory=False)
        if "line_items" in body
        else bill.line_items
    )
    inventory = (
        _lines(call, currency, body["inventory_line_items"], inventory=True)
        if "inventory_line_items" in body
        else bill.inventory_line_items
    )
    if not lines and not inventory:
        raise invalid("A bill needs at least one line item.", "line_items")
    selections = (
        resolve_selections(
            call.business,
            call.world.quirks.gl_field_external_id,
            body["accounting_field_selections"],
        )
        if "accounting_field_selections" in body
        else bill.selections
    )
    # Everything validated: apply the whole patch at once (line arrays replace wholesale).
    bill.vendor_id, bill.vendor_contact_id, bill.entity_id = vendor_id, contact_id, entity_id
    bill.line_items = lines  # type: ignore[assignment]
    bill.inventory_line_items = inventory  # type: ignore[assignment]
    bill.selections = selections
    for name in (
        "invoice_number",
        "issued_at",
        "due_at",
        "posting_date",
        "memo",
        "remote_id",
        "payment_method",
    ):
        if name in body:
            setattr(bill, name, body[name])
    call.business.bills_by_remote_id.rekeyed(bill)
    bill.updated_at = call.world.clock.now()
    call.world.webhooks.emit(call.business.id, "bills.updated", bill.id)
    return json_response(render_bill(call.business, bill, with_trace=True))


@api("bills:write")
async def delete_bill(call: Call) -> Response:
    bill = bill_of(call)
    if bill.status == "PAID":
        raise invalid("Paid bills cannot be deleted.")
    if bill.archived_at is None:
        bill.archived_at = call.world.clock.now()
        call.world.webhooks.emit(call.business.id, "bills.archived", bill.id)
    return Response(status_code=204)


@api("bills:read")
async def list_drafts(call: Call) -> Response:
    # Draft bills come from invoice OCR, which the emulator does not run: there are none.
    return paginate(call.request, [], lambda d: d, lambda d: "", call.world.public_url)


@api("bills:read")
async def get_draft(call: Call) -> Response:
    raise not_found("Draft bill")


_BASE = "/developer/v1/bills"
ROUTES = [
    Route(_BASE, list_bills, methods=["GET"]),
    Route(_BASE, create_bill, methods=["POST"]),
    Route(f"{_BASE}/drafts", list_drafts, methods=["GET"]),
    Route(f"{_BASE}/drafts/{{draft_bill_id}}", get_draft, methods=["GET"]),
    Route(f"{_BASE}/{{bill_id}}", get_bill, methods=["GET"]),
    Route(f"{_BASE}/{{bill_id}}", patch_bill, methods=["PATCH"]),
    Route(f"{_BASE}/{{bill_id}}", delete_bill, methods=["DELETE"]),
]
