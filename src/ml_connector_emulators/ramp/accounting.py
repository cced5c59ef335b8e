"""The accounting API (§6): connection, GL accounts, custom fields and options, vendors.

One connection is active per business; creating one while another is active returns the
incumbent (live-verified), and unlinking leaves a tombstone whose chart is no longer
visible. Uploads take at most 500 items and are all-or-nothing: one bad or already
existing item refuses the whole batch. Path ids are Ramp UUIDs (`ramp_id`), never the
remote ids the client uploaded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ml_connector_emulators.ramp.auth import Call, api
from ml_connector_emulators.ramp.conventions import (
    CONFLICT,
    INVALID_REQUEST,
    ApiError,
    invalid,
    iso_datetime,
    json_response,
    not_found,
    paginate,
    read_json,
    schema_error,
)
from ml_connector_emulators.ramp.models import (
    AccountingConnection,
    AccountingVendor,
    CustomField,
    FieldOption,
    GLAccount,
)
from ml_connector_emulators.ramp.validation import (
    Field,
    boolean,
    list_of,
    obj,
    one_of,
    string,
    uuid_string,
    validate_body,
)
from ml_connector_emulators.ramp.world import RampWorld

MAX_UPLOAD = 500
CLASSIFICATIONS = (
    "ANY",
    "ASSET",
    "CREDCARD",
    "EQUITY",
    "EXPENSE",
    "LIABILITY",
    "REVENUE",
    "UNKNOWN",
)
INPUT_TYPES = ("BOOLEAN", "FREE_FORM_TEXT", "SINGLE_CHOICE")
REQUIRED_FOR = ("BILL", "BILL_PAYMENT", "PURCHASE_ORDER", "REIMBURSEMENT", "TRANSACTION")
NO_CONNECTION = "A connection is required in order to use our accounting API functionality."

T = TypeVar("T")


def require_connection(call: Call) -> AccountingConnection:
    connection = call.business.active_connection()
    if connection is None:
        raise invalid(NO_CONNECTION)
    return connection


def render_connection(connection: AccountingConnection) -> dict[str, Any]:
    return {
        "id": connection.id,
        "created_at": iso_datetime(connection.created_at),
        "is_active": connection.is_active,
        "last_linked_at": iso_datetime(connection.last_linked_at),
        "remote_provider_name": connection.remote_provider_name,
        "status": connection.status,
    }


def render_gl(
    connection: AccountingConnection, gl_field_external_id: str
) -> Callable[[GLAccount], dict[str, Any]]:
    def render(account: GLAccount) -> dict[str, Any]:
        return {
            "id": account.remote_id,
            "ramp_id": account.ramp_id,
            "name": account.name,
            "code": account.code,
            "classification": account.classification,
            "is_active": account.is_active,
            "gl_account_category_info": {
                "id": gl_field_external_id,
                "name": gl_field_external_id,
                "ramp_id": connection.gl_field_ramp_id,
            },
            "created_at": iso_datetime(account.created_at),
            "updated_at": iso_datetime(account.updated_at),
        }

    return render


def render_field(field: CustomField) -> dict[str, Any]:
    return {
        "id": field.remote_id,
        "ramp_id": field.ramp_id,
        "name": field.name,
        "display_name": field.display_name,
        "input_type": field.input_type,
        "is_active": field.is_active,
        "is_splittable": field.is_splittable,
        "is_required_for": list(field.is_required_for),
        "created_at": iso_datetime(field.created_at),
        "updated_at": iso_datetime(field.updated_at),
    }


def render_option(option: FieldOption) -> dict[str, Any]:
    return {
        "id": option.remote_id,
        "ramp_id": option.ramp_id,
        "value": option.value,
        "code": option.code,
        "display_name": option.display_name,
        "visibility": option.visibility,
        "is_active": option.is_active,
        "created_at": iso_datetime(option.created_at),
        "updated_at": iso_datetime(option.updated_at),
    }


def render_accounting_vendor(
    connection: AccountingConnection,
) -> Callable[[AccountingVendor], dict[str, Any]]:
    def render(vendor: AccountingVendor) -> dict[str, Any]:
        return {
            "id": vendor.remote_id,
            "ramp_id": vendor.ramp_id,
            "name": vendor.name,
            "code": vendor.code,
            "is_active": vendor.is_active,
            "is_synced": vendor.is_synced,
            "vendor_category_info": {
                "id": "Vendor",
                "name": "Vendor",
                "ramp_id": connection.vendor_field_ramp_id,
            },
            "created_at": iso_datetime(vendor.created_at),
            "updated_at": iso_datetime(vendor.updated_at),
        }

    return render


def ensure_accounting_vendor(
    world: RampWorld, connection: AccountingConnection, name: str, remote_id: str | None
) -> AccountingVendor:
    """The accounting vendor a bill-pay vendor links to, created when missing (§4)."""
    if remote_id is not None:
        for vendor in connection.vendors.values():
            if vendor.remote_id == remote_id:
                return vendor
    now = world.clock.now()
    vendor = AccountingVendor(
        ramp_id=world.new_id(),
        remote_id=remote_id or world.new_id(),
        name=name,
        code=None,
        created_at=now,
        updated_at=now,
    )
    connection.vendors[vendor.ramp_id] = vendor
    return vendor


# --- connection -----------------------------------------------------------------------


@api("accounting:write")
async def create_connection(call: Call) -> Response:
    body = validate_body(
        await read_json(call.request),
        {"remote_provider_name": Field(string(255, 1), True), "reactivate": Field(boolean)},
    )
    incumbent = call.business.active_connection()
    if incumbent is not None:
        return json_response(render_connection(incumbent), 201)
    now = call.world.clock.now()
    connection = AccountingConnection(
        id=call.world.new_id(),
        remote_provider_name=body["remote_provider_name"],
        created_at=now,
        last_linked_at=now,
        gl_field_ramp_id=call.world.new_id(),
        vendor_field_ramp_id=call.world.new_id(),
    )
    call.business.connections[connection.id] = connection
    return json_response(render_connection(connection), 201)


@api("accounting:read")
async def get_active_connection(call: Call) -> Response:
    connection = call.business.active_connection()
    if connection is None:
        return json_response({"message": "No accounting connection is active."})
    return json_response(render_connection(connection))


@api("accounting:write")
async def delete_connection(call: Call) -> Response:
    connection = call.business.active_connection()
    if connection is None:
        raise not_found("Accounting connection")
    connection.is_active = False
    connection.status = "unlinked"
    return Response(status_code=204)


@api("accounting:read")
async def all_connections(call: Call) -> Response:
    return json_response(
        {"connections": [render_connection(c) for c in call.business.connections.values()]}
    )


@api("accounting:read")
async def get_connection(call: Call) -> Response:
    connection = call.business.connections.get(call.param("connection_id"))
    if connection is None:
        raise not_found("Accounting connection")
    return json_response(render_connection(connection))


@api("accounting:write")
async def reactivate_connection(call: Call) -> Response:
    connection = call.business.connections.get(call.param("connection_id"))
    if connection is None:
        raise not_found("Accounting connection")
    active = call.business.active_connection()
    if active is not None and active.id != connection.id:
        raise ApiError(400, CONFLICT, "Another accounting connection is active.")
    connection.is_active = True
    connection.status = "linked"
    connection.last_linked_at = call.world.clock.now()
    return json_response(render_connection(connection))


# --- helpers for the chart ------------------------------------------------------------


def _flag(request: Request, name: str) -> bool | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    if raw.lower() not in ("true", "false"):
        raise schema_error(name, "Not a valid boolean.")
    return raw.lower() == "true"


def _refuse_duplicates(kind: str, remote_ids: list[str], existing: Iterable[str]) -> None:
    """All-or-nothing: a batch repeating an id, or re-uploading one, is refused whole."""
    known = set(existing)
    seen: set[str] = set()
    clashes: list[str] = []
    for remote_id in remote_ids:
        if remote_id in known or remote_id in seen:
            clashes.append(remote_id)
        seen.add(remote_id)
    if clashes:
        raise ApiError(
            400,
            INVALID_REQUEST,
            f"{kind} already exist or are repeated: {', '.join(clashes)}. Use PATCH to update.",
            {"id": clashes},
        )


def _get(items: dict[str, T], key: str, kind: str) -> T:
    item = items.get(key)
    if item is None:
        raise not_found(kind)
    return item


# --- GL accounts ----------------------------------------------------------------------

_GL_ACCOUNT = obj(
    {
        "id": Field(string(255, 1), True),
        "name": Field(string(255, 1), True),
        "classification": Field(one_of(CLASSIFICATIONS), True),
        "code": Field(string(255), nullable=True),
    }
)


@api("accounting:write")
async def upload_gl_accounts(call: Call) -> Response:
    body = validate_body(
        await read_json(call.request),
        {
            "gl_accounts": Field(list_of(_GL_ACCOUNT, 1, MAX_UPLOAD), True),
            "accounting_connection_id": Field(uuid_string),
        },
    )
    connection = require_connection(call)
    rows = body["gl_accounts"]
    _refuse_duplicates(
        "GL accounts",
        [r["id"] for r in rows],
        (a.remote_id for a in connection.gl_accounts.values()),
    )
    now = call.world.clock.now()
    created = []
    for row in rows:
        account = GLAccount(
            ramp_id=call.world.new_id(),
            remote_id=row["id"],
            name=row["name"],
            classification=row["classification"],
            code=row.get("code"),
            created_at=now,
            updated_at=now,
        )
        connection.gl_accounts[account.ramp_id] = account
        created.append(account)
    render = render_gl(connection, call.world.quirks.gl_field_external_id)
    return json_response(
        {"gl_accounts": [render(a) for a in created], "uploaded": [a.ramp_id for a in created]},
        201,
    )


@api("accounting:read")
async def list_gl_accounts(call: Call) -> Response:
    connection = require_connection(call)
    remote_id = call.request.query_params.get("remote_id")
    active = _flag(call.request, "is_active")
    synced = _flag(call.request, "is_synced")
    items = [
        a
        for a in connection.gl_accounts.values()
        if remote_id in (None, a.remote_id)
        and active in (None, a.is_active)
        and synced in (None, False)
    ]
    render = render_gl(connection, call.world.quirks.gl_field_external_id)
    return paginate(call.request, items, render, lambda a: a.ramp_id, call.world.public_url)


@api("accounting:read")
async def get_gl_account(call: Call) -> Response:
    connection = require_connection(call)
    account = _get(connection.gl_accounts, call.param("gl_account_id"), "GL account")
    return json_response(render_gl(connection, call.world.quirks.gl_field_external_id)(account))


@api("accounting:write")
async def patch_gl_account(call: Call) -> Response:
    connection = require_connection(call)
    account = _get(connection.gl_accounts, call.param("gl_account_id"), "GL account")
    body = validate_body(
        await read_json(call.request),
        {"name": Field(string(255, 1)), "code": Field(string(255)), "reactivate": Field(boolean)},
    )
    account.name = body.get("name", account.name)
    if "code" in body:
        account.code = body["code"] or None
    if body.get("reactivate"):
        account.is_active = True
    account.updated_at = call.world.clock.now()
    return json_response(render_gl(connection, call.world.quirks.gl_field_external_id)(account))


@api("accounting:write")
async def delete_gl_account(call: Call) -> Response:
    connection = require_connection(call)
    account = _get(connection.gl_accounts, call.param("gl_account_id"), "GL account")
    account.is_active = False
    account.updated_at = call.world.clock.now()
    return Response(status_code=204)


# --- custom fields and options --------------------------------------------------------


@api("accounting:write")
async def create_field(call: Call) -> Response:
    body = validate_body(
        await read_json(call.request),
        {
            "id": Field(string(255, 1), True),
            "name": Field(string(255, 1), True),
            "input_type": Field(one_of(INPUT_TYPES), True),
            "display_name": Field(string(255), nullable=True),
            "is_splittable": Field(boolean),
            "is_required_for": Field(list_of(one_of(REQUIRED_FOR))),
        },
    )
    connection = require_connection(call)
    now = call.world.clock.now()
    for field in connection.fields.values():
        if field.remote_id == body["id"]:
            # Idempotent by remote id: the existing field comes back, reactivated (§6.3).
            field.is_active = True
            field.updated_at = now
            return json_response(render_field(field), 201)
    field = CustomField(
        ramp_id=call.world.new_id(),
        remote_id=body["id"],
        name=body["name"],
        display_name=body.get("display_name"),
        input_type=body["input_type"],
        is_splittable=body.get("is_splittable", False),
        is_required_for=body.get("is_required_for", []),
        created_at=now,
        updated_at=now,
    )
    connection.fields[field.ramp_id] = field
    return json_response(render_field(field), 201)


@api("accounting:read")
async def list_fields(call: Call) -> Response:
    connection = require_connection(call)
    remote_id = call.request.query_params.get("remote_id")
    active = _flag(call.request, "is_active")
    items = [
        f
        for f in connection.fields.values()
        if remote_id in (None, f.remote_id) and active in (None, f.is_active)
    ]
    return paginate(call.request, items, render_field, lambda f: f.ramp_id, call.world.public_url)


@api("accounting:read")
async def get_field(call: Call) -> Response:
    connection = require_connection(call)
    return json_response(render_field(_get(connection.fields, call.param("field_id"), "Field")))


@api("accounting:write")
async def patch_field(call: Call) -> Response:
    connection = require_connection(call)
    field = _get(connection.fields, call.param("field_id"), "Field")
    body = validate_body(
        await read_json(call.request),
        {
            "name": Field(string(255, 1)),
            "display_name": Field(string(255), nullable=True),
            "is_splittable": Field(boolean),
        },
    )
    field.name = body.get("name", field.name)
    field.display_name = body.get("display_name", field.display_name)
    field.is_splittable = body.get("is_splittable", field.is_splittable)
    field.updated_at = call.world.clock.now()
    return json_response(render_field(field))


@api("accounting:write")
async def delete_field(call: Call) -> Response:
    connection = require_connection(call)
    field = _get(connection.fields, call.param("field_id"), "Field")
    field.is_active = False
    field.updated_at = call.world.clock.now()
    return Response(status_code=204)


_OPTION = obj(
    {
        "id": Field(string(255, 1), True),
        "value": Field(string(255, 1), True),
        "code": Field(string(255), nullable=True),
    }
)


@api("accounting:write")
async def upload_field_options(call: Call) -> Response:
    body = validate_body(
        await read_json(call.request),
        {
            "field_id": Field(uuid_string, True),
            "options": Field(list_of(_OPTION, 1, MAX_UPLOAD), True),
        },
    )
    connection = require_connection(call)
    field = _get(connection.fields, body["field_id"], "Field")
    rows = body["options"]
    _refuse_duplicates(
        "Field options",
        [r["id"] for r in rows],
        (o.remote_id for o in connection.options.values() if o.field_ramp_id == field.ramp_id),
    )
    now = call.world.clock.now()
    created = []
    for row in rows:
        option = FieldOption(
            ramp_id=call.world.new_id(),
            remote_id=row["id"],
            field_ramp_id=field.ramp_id,
            value=row["value"],
            code=row.get("code"),
            created_at=now,
            updated_at=now,
        )
        connection.options[option.ramp_id] = option
        created.append(option)
    return json_response(
        {"options": [render_option(o) for o in created], "uploaded": [o.ramp_id for o in created]},
        201,
    )


@api("accounting:read")
async def list_field_options(call: Call) -> Response:
    connection = require_connection(call)
    query = call.request.query_params
    field_id = query.get("field_id")
    field_remote_id = query.get("field_remote_id")
    if field_id is None and field_remote_id is None:
        raise schema_error("field_id", "Missing data for required field.")
    field = next(
        (
            f
            for f in connection.fields.values()
            if f.ramp_id == field_id or (field_id is None and f.remote_id == field_remote_id)
        ),
        None,
    )
    if field is None:
        raise not_found("Field")
    active = _flag(call.request, "is_active")
    items = [
        o
        for o in connection.options.values()
        if o.field_ramp_id == field.ramp_id
        and query.get("remote_id") in (None, o.remote_id)
        and query.get("code") in (None, o.code)
        and active in (None, o.is_active)
    ]
    return paginate(call.request, items, render_option, lambda o: o.ramp_id, call.world.public_url)


@api("accounting:read")
async def get_field_option(call: Call) -> Response:
    connection = require_connection(call)
    option = _get(connection.options, call.param("field_option_id"), "Field option")
    return json_response(render_option(option))


@api("accounting:write")
async def patch_field_option(call: Call) -> Response:
    connection = require_connection(call)
    option = _get(connection.options, call.param("field_option_id"), "Field option")
    body = validate_body(
        await read_json(call.request),
        {
            "value": Field(string(255, 1)),
            "code": Field(string(255), nullable=True),
            "display_name": Field(string(255), nullable=True),
            "visibility": Field(one_of(("HIDDEN", "VISIBLE"))),
            "reactivate": Field(boolean),
        },
    )
    option.value = body.get("value", option.value)
    option.code = body.get("code", option.code)
    option.display_name = body.get("display_name", option.display_name)
    option.visibility = body.get("visibility", option.visibility)
    if body.get("reactivate"):
        option.is_active = True
    option.updated_at = call.world.clock.now()
    return json_response(render_option(option))


@api("accounting:write")
async def delete_field_option(call: Call) -> Response:
    connection = require_connection(call)
    option = _get(connection.options, call.param("field_option_id"), "Field option")
    option.is_active = False
    option.updated_at = call.world.clock.now()
    return Response(status_code=204)


# --- accounting vendors ---------------------------------------------------------------

_ACCOUNTING_VENDOR = obj(
    {
        "id": Field(string(255, 1), True),
        "name": Field(string(255, 1), True),
        "code": Field(string(255), nullable=True),
    }
)


@api("accounting:write")
async def upload_accounting_vendors(call: Call) -> Response:
    body = validate_body(
        await read_json(call.request),
        {"vendors": Field(list_of(_ACCOUNTING_VENDOR, 1, MAX_UPLOAD), True)},
    )
    connection = require_connection(call)
    rows = body["vendors"]
    _refuse_duplicates(
        "Vendors", [r["id"] for r in rows], (v.remote_id for v in connection.vendors.values())
    )
    now = call.world.clock.now()
    created = []
    for row in rows:
        vendor = AccountingVendor(
            ramp_id=call.world.new_id(),
            remote_id=row["id"],
            name=row["name"],
            code=row.get("code"),
            created_at=now,
            updated_at=now,
        )
        connection.vendors[vendor.ramp_id] = vendor
        created.append(vendor)
    render = render_accounting_vendor(connection)
    return json_response(
        {"vendors": [render(v) for v in created], "uploaded": [v.ramp_id for v in created]}, 201
    )


@api("accounting:read")
async def list_accounting_vendors(call: Call) -> Response:
    connection = require_connection(call)
    remote_id = call.request.query_params.get("remote_id")
    active = _flag(call.request, "is_active")
    synced = _flag(call.request, "is_synced")
    items = [
        v
        for v in connection.vendors.values()
        if remote_id in (None, v.remote_id)
        and active in (None, v.is_active)
        and synced in (None, v.is_synced)
    ]
    return paginate(
        call.request,
        items,
        render_accounting_vendor(connection),
        lambda v: v.ramp_id,
        call.world.public_url,
    )


@api("accounting:read")
async def get_accounting_vendor(call: Call) -> Response:
    connection = require_connection(call)
    vendor = _get(connection.vendors, call.param("vendor_id"), "Accounting vendor")
    return json_response(render_accounting_vendor(connection)(vendor))


@api("accounting:write")
async def patch_accounting_vendor(call: Call) -> Response:
    connection = require_connection(call)
    vendor = _get(connection.vendors, call.param("vendor_id"), "Accounting vendor")
    body = validate_body(
        await read_json(call.request),
        {
            "name": Field(string(255, 1)),
            "code": Field(string(255), nullable=True),
            "reactivate": Field(boolean),
        },
    )
    vendor.name = body.get("name", vendor.name)
    vendor.code = body.get("code", vendor.code)
    if body.get("reactivate"):
        vendor.is_active = True
    vendor.updated_at = call.world.clock.now()
    return json_response(render_accounting_vendor(connection)(vendor))


@api("accounting:write")
async def delete_accounting_vendor(call: Call) -> Response:
    connection = require_connection(call)
    vendor = _get(connection.vendors, call.param("vendor_id"), "Accounting vendor")
    vendor.is_active = False
    vendor.updated_at = call.world.clock.now()
    return Response(status_code=204)


# --- sync marking ---------------------------------------------------------------------

SYNC_TYPES = [
    "ACCRUAL_SYNC",
    "BANKING_TRANSACTION_SYNC",
    "BILL_PAYMENT_SYNC",
    "BILL_SYNC",
    "BROKERAGE_ORDER_SYNC",
    "PAYEE_SYNC",
    "REIMBURSEMENT_SYNC",
    "STATEMENT_CREDIT_SYNC",
    "TRACKING_CATEGORY_OPTION_SYNC",
    "TRANSACTION_SYNC",
    "TRANSFER_SYNC",
    "WALLET_TRANSFER_SYNC",
]
_SUCCESS = obj(
    {
        "id": Field(uuid_string, True),
        "reference_id": Field(string(255, 1), True),
        "deep_link_url": Field(string(2000), nullable=True),
    }
)
_FAILURE = obj(
    {
        "id": Field(uuid_string, True),
        "error": Field(obj({"message": Field(string(2000, 1), True)}), True),
    }
)


@api("accounting:write")
async def post_sync(call: Call) -> Response:
    """Mark objects synced; the body's `idempotency_key` makes a replay return the same id."""
    body = validate_body(
        await read_json(call.request),
        {
            "idempotency_key": Field(string(255, 1), True),
            "sync_type": Field(one_of(SYNC_TYPES), True),
            # Omit an empty list: `[]` is refused (live-verified).
            "successful_syncs": Field(list_of(_SUCCESS, 1, 5000)),
            "failed_syncs": Field(list_of(_FAILURE, 1, 5000)),
        },
    )
    connection = require_connection(call)
    key = body["idempotency_key"]
    if key in connection.syncs:
        return json_response({"sync_id": connection.syncs[key]}, 201)
    now = call.world.clock.now()
    for row in body.get("successful_syncs", []):
        bill = call.business.bills.get(row["id"])
        if bill is not None:
            bill.sync_status = "BILL_SYNCED"
        tx = call.business.transactions.get(row["id"])
        if tx is not None:
            tx.sync_status = "SYNCED"
            tx.synced_at = now
    connection.syncs[key] = call.world.new_id()
    return json_response({"sync_id": connection.syncs[key]}, 201)


_BASE = "/developer/v1/accounting"


def _crud(
    collection: str,
    key: str,
    *,
    create: Any,
    listing: Any,
    get: Any,
    patch: Any,
    delete: Any,
) -> list[Route]:
    return [
        Route(f"{_BASE}/{collection}", create, methods=["POST"]),
        Route(f"{_BASE}/{collection}", listing, methods=["GET"]),
        Route(f"{_BASE}/{collection}/{{{key}}}", get, methods=["GET"]),
        Route(f"{_BASE}/{collection}/{{{key}}}", patch, methods=["PATCH"]),
        Route(f"{_BASE}/{collection}/{{{key}}}", delete, methods=["DELETE"]),
    ]


ROUTES = [
    Route(f"{_BASE}/syncs", post_sync, methods=["POST"]),
    Route(f"{_BASE}/connection", create_connection, methods=["POST"]),
    Route(f"{_BASE}/connection", get_active_connection, methods=["GET"]),
    Route(f"{_BASE}/connection", delete_connection, methods=["DELETE"]),
    Route(f"{_BASE}/all-connections", all_connections, methods=["GET"]),
    Route(f"{_BASE}/connection/{{connection_id}}", get_connection, methods=["GET"]),
    Route(
        f"{_BASE}/connection/{{connection_id}}/reactivate",
        reactivate_connection,
        methods=["POST"],
    ),
    *_crud(
        collection="accounts",
        key="gl_account_id",
        create=upload_gl_accounts,
        listing=list_gl_accounts,
        get=get_gl_account,
        patch=patch_gl_account,
        delete=delete_gl_account,
    ),
    *_crud(
        collection="fields",
        key="field_id",
        create=create_field,
        listing=list_fields,
        get=get_field,
        patch=patch_field,
        delete=delete_field,
    ),
    *_crud(
        collection="field-options",
        key="field_option_id",
        create=upload_field_options,
        listing=list_field_options,
        get=get_field_option,
        patch=patch_field_option,
        delete=delete_field_option,
    ),
    *_crud(
        collection="vendors",
        key="vendor_id",
        create=upload_accounting_vendors,
        listing=list_accounting_vendors,
        get=get_accounting_vendor,
        patch=patch_accounting_vendor,
        delete=delete_accounting_vendor,
    ),
]
