"""Bill-pay vendors (§4): create with one contact, list with filters, get, patch, delete.

Create needs a contact with an email, a two-letter country, a US state for US vendors
(400 `DEVELOPER_7080`), and an owner who is a user of the business; API-created vendors
are approved at once. Without an accounting link, and with an active accounting
connection, Ramp creates an accounting vendor named after the vendor. There is no
idempotency key: creating the same vendor twice makes two vendors, which the counters
record as duplicates by normalized name.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from ml_connector_emulators.ramp.accounting import ensure_accounting_vendor
from ml_connector_emulators.ramp.auth import Call, api
from ml_connector_emulators.ramp.conventions import (
    STATE_REQUIRED_FOR_US,
    ApiError,
    invalid,
    iso_datetime,
    json_response,
    not_found,
    paginate,
    read_json,
    schema_error,
)
from ml_connector_emulators.ramp.models import Business, Vendor, VendorContact
from ml_connector_emulators.ramp.money import currency_amount
from ml_connector_emulators.ramp.validation import (
    Field,
    FieldError,
    Schema,
    boolean,
    country_code,
    email,
    obj,
    string,
    uuid_string,
    validate_body,
)
from ml_connector_emulators.ramp.validation import (
    iso_datetime as parse_datetime,
)
from ml_connector_emulators.ramp.vendor_spend import VendorSpend
from ml_connector_emulators.ramp.world import normalized_name

ADDRESS = obj(
    {
        "address_line_1": Field(string(255, 1), True),
        "address_line_2": Field(string(255), nullable=True),
        "city": Field(string(255, 1), True),
        "postal_code": Field(string(20, 1), True),
        "state": Field(string(50), nullable=True),
        "country": Field(country_code, nullable=True),
    }
)
CONTACT = obj(
    {
        "email": Field(email, True),
        "first_name": Field(string(255), nullable=True),
        "last_name": Field(string(255), nullable=True),
        "phone": Field(string(50), nullable=True),
    }
)


def _create_schema(owner_required: bool, external_id_writable: bool) -> Schema:
    schema: dict[str, Field] = {
        "name": Field(string(255, 1)),
        "country": Field(country_code, True),
        "state": Field(string(50), nullable=True),
        "vendor_owner_id": Field(uuid_string, owner_required, nullable=not owner_required),
        "business_vendor_contacts": Field(CONTACT, True),
        "address": Field(ADDRESS, nullable=True),
        "accounting_vendor_remote_id": Field(string(255, 1), nullable=True),
        "vendor_tracking_category_option_id": Field(uuid_string, nullable=True),
        "request_payment_details": Field(boolean),
        "request_tax_details": Field(boolean),
    }
    if external_id_writable:
        schema["external_vendor_id"] = Field(string(255, 1), nullable=True)
    return schema


def _patch_schema(external_id_writable: bool) -> Schema:
    schema: dict[str, Field] = {
        "accounting_vendor_remote_id": Field(string(255, 1), nullable=True),
        "address": Field(ADDRESS, nullable=True),
        "country": Field(country_code),
        "description": Field(string(1000), nullable=True),
        "is_active": Field(boolean),
        "state": Field(string(50), nullable=True),
        "vendor_tracking_category_option_id": Field(uuid_string, nullable=True),
    }
    if external_id_writable:
        schema["external_vendor_id"] = Field(string(255, 1), nullable=True)
    return schema


def render_contact(contact: VendorContact) -> dict[str, Any]:
    return {
        "id": contact.id,
        "email": contact.email,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "phone": contact.phone,
        "is_default": contact.is_default,
    }


def render_vendor(
    business: Business, vendor: Vendor, now: datetime, spend: VendorSpend | None = None
) -> dict[str, Any]:
    """`spend` (as of `now`) is shared by the vendors rendered in one request."""
    spend = spend or VendorSpend(business, now)
    all_time, last_30_days, last_365_days, ytd = spend.totals(vendor.id)
    return {
        "id": vendor.id,
        "name": vendor.name,
        "name_legal": None,
        "country": vendor.country,
        "state": vendor.state,
        "address": vendor.address,
        "contacts": [c.id for c in vendor.contacts],
        "accounting_vendor_remote_id": vendor.accounting_vendor_remote_id,
        "vendor_tracking_category_option_id": vendor.vendor_tracking_category_option_id,
        "external_vendor_id": vendor.external_vendor_id,
        "vendor_owner_id": vendor.vendor_owner_id,
        "vendor_type": "BUSINESS",
        "is_active": vendor.is_active,
        "is_deletable": not spend.has_bills(vendor.id),
        "billing_frequency": None,
        "description": vendor.description,
        "federal_tax_classification": None,
        "merchant_id": None,
        "sk_category_id": None,
        "sk_category_name": None,
        "tax_address": None,
        "created_at": iso_datetime(vendor.created_at),
        "updated_at": iso_datetime(vendor.updated_at),
        "total_spend_all_time": currency_amount(all_time, "USD"),
        "total_spend_last_30_days": currency_amount(last_30_days, "USD"),
        "total_spend_last_365_days": currency_amount(last_365_days, "USD"),
        "total_spend_ytd": currency_amount(ytd, "USD"),
    }


def _check_state(country: str, state: str | None) -> None:
    if country == "US" and not state:
        raise ApiError(
            400,
            STATE_REQUIRED_FOR_US,
            "State is required for US",
            {"state": ["State is required for US"]},
        )


def _link_accounting(call: Call, vendor: Vendor, body: dict[str, Any]) -> None:
    """Apply the accounting link from a create/patch body (one of two ways, never both)."""
    remote_id = body.get("accounting_vendor_remote_id")
    option_id = body.get("vendor_tracking_category_option_id")
    if remote_id and option_id:
        raise schema_error(
            "accounting_vendor_remote_id",
            "Only one of accounting_vendor_remote_id and vendor_tracking_category_option_id may be set.",
        )
    connection = call.business.active_connection()
    if option_id:
        if connection is None or option_id not in connection.vendors:
            raise invalid(
                "Unknown vendor tracking category option.", "vendor_tracking_category_option_id"
            )
        linked = connection.vendors[option_id]
        vendor.vendor_tracking_category_option_id = linked.ramp_id
        vendor.accounting_vendor_remote_id = linked.remote_id
    elif remote_id:
        vendor.accounting_vendor_remote_id = remote_id
        if connection is not None:
            linked = ensure_accounting_vendor(call.world, connection, vendor.name, remote_id)
            vendor.vendor_tracking_category_option_id = linked.ramp_id


@api("vendors:write")
async def create_vendor(call: Call) -> Response:
    quirks = call.world.quirks
    body = validate_body(
        await read_json(call.request),
        _create_schema(quirks.vendor_owner_required, quirks.vendor_external_id_writable),
    )
    _check_state(body["country"], body.get("state"))
    owner_id = body.get("vendor_owner_id")
    if owner_id is not None and owner_id not in call.business.users:
        raise invalid("vendor_owner_id is not a user of this business.", "vendor_owner_id")
    contact_body = body["business_vendor_contacts"]
    name = body.get("name") or contact_body["email"]
    now = call.world.clock.now()
    vendor = Vendor(
        id=call.world.new_id(),
        name=name,
        country=body["country"],
        state=body.get("state"),
        vendor_owner_id=owner_id,
        created_at=now,
        updated_at=now,
        address=body.get("address"),
        external_vendor_id=body.get("external_vendor_id"),
        request_payment_details=body.get("request_payment_details", False),
        request_tax_details=body.get("request_tax_details", False),
    )
    _link_accounting(call, vendor, body)
    connection = call.business.active_connection()
    if vendor.accounting_vendor_remote_id is None and connection is not None:
        linked = ensure_accounting_vendor(call.world, connection, vendor.name, None)
        vendor.accounting_vendor_remote_id = linked.remote_id
        vendor.vendor_tracking_category_option_id = linked.ramp_id
    vendor.contacts.append(
        VendorContact(
            id=call.world.new_id(),
            email=contact_body["email"],
            first_name=contact_body.get("first_name"),
            last_name=contact_body.get("last_name"),
            phone=contact_body.get("phone"),
            is_default=True,
        )
    )
    key = normalized_name(vendor.name)
    if any(normalized_name(v.name) == key for v in call.business.vendors.values()):
        call.world.counters.duplicate_vendors_by_name += 1
    call.business.vendors[vendor.id] = vendor
    call.world.counters.vendors_created += 1
    return json_response(render_vendor(call.business, vendor, now))


def _created_filter(call: Call, name: str) -> datetime | None:
    raw = call.request.query_params.get(name)
    if raw is None:
        return None
    try:
        return parse_datetime(raw)
    except FieldError as exc:
        raise schema_error(name, "Not a valid datetime.") from exc


@api("vendors:read")
async def list_vendors(call: Call) -> Response:
    query = call.request.query_params
    name = query.get("name")
    wanted = normalized_name(name) if name else None
    contains = call.world.quirks.vendor_name_match == "contains"
    remote_ids = set(filter(None, query.get("accounting_vendor_remote_ids", "").split(",")))
    active = query.get("is_active")
    bounds = {
        key: _created_filter(call, key)
        for key in ("from_created_at", "to_created_at", "from_updated_at", "to_updated_at")
    }
    items = []
    for vendor in call.business.vendors.values():
        if wanted is not None:
            have = normalized_name(vendor.name)
            if (wanted not in have) if contains else (have != wanted):
                continue
        if active is not None and str(vendor.is_active).lower() != active.lower():
            continue
        if query.get("vendor_owner_id") not in (None, vendor.vendor_owner_id):
            continue
        if query.get("external_vendor_id") not in (None, vendor.external_vendor_id):
            continue
        if remote_ids and vendor.accounting_vendor_remote_id not in remote_ids:
            continue
        if not _within(vendor.created_at, bounds["from_created_at"], bounds["to_created_at"]):
            continue
        if not _within(vendor.updated_at, bounds["from_updated_at"], bounds["to_updated_at"]):
            continue
        items.append(vendor)
    now = call.world.clock.now()
    business = call.business
    spend = VendorSpend(business, now)
    return paginate(
        call.request,
        items,
        lambda v: render_vendor(business, v, now, spend),
        lambda v: v.id,
        call.world.public_url,
    )


def _within(moment: datetime, low: datetime | None, high: datetime | None) -> bool:
    return (low is None or moment >= low) and (high is None or moment <= high)


def vendor_of(call: Call) -> Vendor:
    vendor = call.business.vendors.get(call.param("vendor_id"))
    if vendor is None:
        raise not_found("Vendor")
    return vendor


@api("vendors:read")
async def get_vendor(call: Call) -> Response:
    body = render_vendor(call.business, vendor_of(call), call.world.clock.now())
    body["custom_form_collection_response"] = None
    return json_response(body)


@api("vendors:write")
async def patch_vendor(call: Call) -> Response:
    vendor = vendor_of(call)
    body = validate_body(
        await read_json(call.request), _patch_schema(call.world.quirks.vendor_external_id_writable)
    )
    country = body.get("country", vendor.country)
    state = body.get("state", vendor.state)
    _check_state(country, state)
    _link_accounting(call, vendor, body)
    vendor.country = country
    vendor.state = state
    for name in ("address", "description", "is_active", "external_vendor_id"):
        if name in body:
            setattr(vendor, name, body[name])
    vendor.updated_at = call.world.clock.now()
    call.world.webhooks.emit(call.business.id, "vendors.updated", vendor.id)
    return json_response(render_vendor(call.business, vendor, vendor.updated_at))


@api("vendors:write")
async def delete_vendor(call: Call) -> Response:
    vendor = vendor_of(call)
    if any(b.vendor_id == vendor.id for b in call.business.bills.values()):
        raise invalid("Vendor cannot be deleted: it has associated bills.")
    del call.business.vendors[vendor.id]
    return Response(status_code=204)


@api("vendors:read")
async def list_contacts(call: Call) -> Response:
    vendor = vendor_of(call)
    return paginate(
        call.request, vendor.contacts, render_contact, lambda c: c.id, call.world.public_url
    )


@api("vendors:read")
async def get_contact(call: Call) -> Response:
    vendor = vendor_of(call)
    contact = next((c for c in vendor.contacts if c.id == call.param("vendor_contact_id")), None)
    if contact is None:
        raise not_found("Vendor contact")
    return json_response(render_contact(contact))


@api("vendors:read")
async def list_accounts(call: Call) -> Response:
    # Vendor bank accounts only arrive through Ramp's approval workflow, which the
    # emulator does not run: every vendor has none (so ACH bills cannot be paid).
    vendor_of(call)
    return paginate(call.request, [], lambda a: a, lambda a: "", call.world.public_url)


@api("vendors:read")
async def get_account(call: Call) -> Response:
    vendor_of(call)
    raise not_found("Vendor bank account")


_BASE = "/developer/v1/vendors"
ROUTES = [
    Route(_BASE, list_vendors, methods=["GET"]),
    Route(_BASE, create_vendor, methods=["POST"]),
    Route(f"{_BASE}/{{vendor_id}}", get_vendor, methods=["GET"]),
    Route(f"{_BASE}/{{vendor_id}}", patch_vendor, methods=["PATCH"]),
    Route(f"{_BASE}/{{vendor_id}}", delete_vendor, methods=["DELETE"]),
    Route(f"{_BASE}/{{vendor_id}}/contacts", list_contacts, methods=["GET"]),
    Route(f"{_BASE}/{{vendor_id}}/contacts/{{vendor_contact_id}}", get_contact, methods=["GET"]),
    Route(f"{_BASE}/{{vendor_id}}/accounts", list_accounts, methods=["GET"]),
    Route(f"{_BASE}/{{vendor_id}}/accounts/{{bank_account_id}}", get_account, methods=["GET"]),
]
