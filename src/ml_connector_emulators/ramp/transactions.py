"""Card transactions (§7): read, code line items, and memos. There is no create.

`amount` is Ramp's legacy major-unit JSON number (the one float on Ramp's wire; the
emulator keeps it as an exact `Decimal` and converts only when rendering), next to
`original_transaction_amount` in minor units. `PATCH /transactions/{id}` replaces the
coded line items wholesale; their amounts must add up to the transaction, a `memo` in
that body is accepted and ignored, and a synced or sync-ready transaction refuses with
403 (live-verified behaviour of the newer API).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ml_connector_emulators.ramp.auth import Call, api
from ml_connector_emulators.ramp.coding import SELECTION, render_selection, resolve_selections
from ml_connector_emulators.ramp.conventions import (
    SPLIT_MISMATCH,
    ApiError,
    iso_datetime,
    json_response,
    not_found,
    paginate,
    read_json,
    schema_error,
)
from ml_connector_emulators.ramp.models import Business, Transaction, TransactionLine
from ml_connector_emulators.ramp.money import currency_amount, to_minor_units
from ml_connector_emulators.ramp.validation import (
    Field,
    FieldError,
    boolean,
    decimal_amount,
    list_of,
    obj,
    string,
    validate_body,
)
from ml_connector_emulators.ramp.validation import (
    iso_datetime as parse_datetime,
)

MEMO_MAX = 255
_LINE = obj(
    {
        "amount": Field(decimal_amount(), True),
        "memo": Field(string(1000), nullable=True),
        "accounting_field_selections": Field(list_of(SELECTION)),
    }
)
_ORDERINGS = (
    "order_by_date_asc",
    "order_by_date_desc",
    "order_by_amount_asc",
    "order_by_amount_desc",
)


def render_transaction(business: Business, tx: Transaction) -> dict[str, Any]:
    holder = business.users.get(tx.user_id)
    department = business.departments.get(tx.department_id or "")
    location = business.locations.get(tx.location_id or "")
    minor = to_minor_units(tx.amount, tx.currency)
    lines = tx.line_items or [TransactionLine(tx.amount, None, [])]
    return {
        "id": tx.id,
        # Ramp's legacy field is a JSON number in major units (§3.2).
        "amount": float(tx.amount),
        "currency_code": tx.currency,
        "original_transaction_amount": currency_amount(minor, tx.currency),
        "state": tx.state,
        "sync_status": tx.sync_status,
        "synced_at": iso_datetime(tx.synced_at) if tx.synced_at else None,
        "user_transaction_time": iso_datetime(tx.user_transaction_time),
        "settlement_date": iso_datetime(tx.user_transaction_time),
        "accounting_date": iso_datetime(tx.user_transaction_time),
        "merchant_id": tx.merchant_id,
        "merchant_name": tx.merchant_name,
        "memo": tx.memo,
        "card_id": tx.card_id,
        "entity_id": tx.entity_id,
        "card_holder": {
            "user_id": tx.user_id,
            "first_name": holder.first_name if holder else None,
            "last_name": holder.last_name if holder else None,
            "department_id": tx.department_id,
            "department_name": department.name if department else None,
            "location_id": tx.location_id,
            "location_name": location.name if location else None,
        },
        "accounting_field_selections": [render_selection(s) for s in tx.selections],
        "line_items": [
            {
                "amount": currency_amount(to_minor_units(line.amount, tx.currency), tx.currency),
                "converted_amount": currency_amount(
                    to_minor_units(line.amount, tx.currency), tx.currency
                ),
                "memo": line.memo,
                "accounting_field_selections": [render_selection(s) for s in line.selections],
            }
            for line in lines
        ],
        "receipts": [],
        "updated_at": iso_datetime(tx.updated_at or tx.user_transaction_time),
    }


def _moment(request: Request, name: str) -> datetime | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        return parse_datetime(raw)
    except FieldError as exc:
        raise schema_error(name, "Not a valid datetime.") from exc


def _amount(request: Request, name: str) -> Decimal | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        value: Decimal = decimal_amount(None)(raw)
    except FieldError as exc:
        raise schema_error(name, "Not a valid number.") from exc
    return value


def _flag(request: Request, name: str) -> bool | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    if raw.lower() not in ("true", "false"):
        raise schema_error(name, "Not a valid boolean.")
    return raw.lower() == "true"


def _matches(tx: Transaction, request: Request) -> bool:
    query = request.query_params
    state = query.get("state")
    # Declined transactions are left out unless asked for (`state=ALL` or `DECLINED`).
    state_ok = tx.state != "DECLINED" if state is None else state in ("ALL", tx.state)
    exact = {
        "merchant_id": tx.merchant_id,
        "entity_id": tx.entity_id,
        "department_id": tx.department_id,
        "location_id": tx.location_id,
        "card_id": tx.card_id,
        "user_id": tx.user_id,
        "sync_status": tx.sync_status,
    }
    exact_ok = all(query.get(k) in (None, v) for k, v in exact.items())
    bounds_ok = (
        _between(
            tx.user_transaction_time, _moment(request, "from_date"), _moment(request, "to_date")
        )
        and _between(tx.amount, _amount(request, "min_amount"), _amount(request, "max_amount"))
        and _between(
            tx.updated_at or tx.user_transaction_time, _moment(request, "updated_after"), None
        )
    )
    synced_after = _moment(request, "synced_after")
    synced_ok = synced_after is None or (tx.synced_at is not None and tx.synced_at > synced_after)
    sync_ready = _flag(request, "sync_ready")
    ready_ok = sync_ready is None or (tx.sync_status == "SYNC_READY") == sync_ready
    no_commits = _flag(request, "has_no_sync_commits")
    commits_ok = no_commits is None or (tx.synced_at is None) == no_commits
    return state_ok and exact_ok and bounds_ok and synced_ok and ready_ok and commits_ok


def _between(value: Any, low: Any, high: Any) -> bool:
    return (low is None or value >= low) and (high is None or value <= high)


@api("transactions:read")
async def list_transactions(call: Call) -> Response:
    request = call.request
    chosen = [name for name in _ORDERINGS if _flag(request, name)]
    if len(chosen) > 1:
        raise schema_error(chosen[1], "Only one ordering may be given.")
    ordering = chosen[0] if chosen else "order_by_date_desc"
    items = [tx for tx in call.business.transactions.values() if _matches(tx, request)]
    if "amount" in ordering:
        items.sort(key=lambda t: (t.amount, t.id), reverse=ordering.endswith("desc"))
    else:
        items.sort(key=lambda t: (t.user_transaction_time, t.id), reverse=ordering.endswith("desc"))
    business = call.business
    return paginate(
        request,
        items,
        lambda t: render_transaction(business, t),
        lambda t: t.id,
        call.world.public_url,
    )


def transaction_of(call: Call, key: str = "transaction_id") -> Transaction:
    tx = call.business.transactions.get(call.param(key))
    if tx is None:
        raise not_found("Transaction")
    return tx


@api("transactions:read")
async def get_transaction(call: Call) -> Response:
    return json_response(render_transaction(call.business, transaction_of(call)))


@api("transactions:write")
async def patch_transaction(call: Call) -> Response:
    tx = transaction_of(call)
    body = validate_body(
        await read_json(call.request),
        {
            "line_items": Field(list_of(_LINE, 1), True),
            "memo": Field(string(MEMO_MAX), nullable=True),
        },
    )
    if tx.sync_status in ("SYNCED", "SYNC_READY"):
        raise ApiError(403, "EMULATOR_FORBIDDEN", "The transaction is synced or ready to sync.")
    rows = body["line_items"]
    total = sum((row["amount"] for row in rows), Decimal(0))
    if total != tx.amount:
        raise ApiError(
            400,
            SPLIT_MISMATCH,
            f"Split line amounts ({total}) do not add up to the transaction amount ({tx.amount}).",
            {"line_items": ["Amounts must add up to the transaction amount."]},
        )
    field_id = call.world.quirks.gl_field_external_id
    lines = []
    for row in rows:
        try:
            to_minor_units(row["amount"], tx.currency)
        except ValueError as exc:
            raise schema_error("line_items", str(exc)) from exc
        lines.append(
            TransactionLine(
                amount=row["amount"],
                memo=row.get("memo"),
                selections=resolve_selections(
                    call.business, field_id, row.get("accounting_field_selections", [])
                ),
            )
        )
    tx.line_items = lines
    tx.updated_at = call.world.clock.now()
    call.world.webhooks.emit(call.business.id, "transactions.body_coding_updated", tx.id)
    return json_response(render_transaction(call.business, tx))


# --- memos ----------------------------------------------------------------------------


def _render_memo(tx: Transaction) -> dict[str, Any]:
    return {"id": tx.memo_id, "memo": tx.memo, "transaction_id": tx.id}


@api("memos:write")
async def post_memo(call: Call) -> Response:
    tx = transaction_of(call)
    body = validate_body(
        await read_json(call.request),
        {"memo": Field(string(MEMO_MAX), True), "is_memo_recurring": Field(boolean)},
    )
    tx.memo = body["memo"]
    tx.memo_id = tx.memo_id or call.world.new_id()
    tx.updated_at = call.world.clock.now()
    return json_response({"id": tx.memo_id, "memo": tx.memo}, 201)


@api("memos:read")
async def list_memos(call: Call) -> Response:
    items = [tx for tx in call.business.transactions.values() if tx.memo is not None]
    return paginate(call.request, items, _render_memo, lambda t: t.id, call.world.public_url)


@api("memos:read")
async def get_memo(call: Call) -> Response:
    tx = transaction_of(call)
    if tx.memo is None:
        raise not_found("Memo")
    return json_response(_render_memo(tx))


ROUTES = [
    Route("/developer/v1/transactions", list_transactions, methods=["GET"]),
    Route("/developer/v1/transactions/{transaction_id}", get_transaction, methods=["GET"]),
    Route("/developer/v1/transactions/{transaction_id}", patch_transaction, methods=["PATCH"]),
    Route("/developer/v1/memos", list_memos, methods=["GET"]),
    Route("/developer/v1/memos/{transaction_id}", get_memo, methods=["GET"]),
    Route("/developer/v1/memos/{transaction_id}", post_memo, methods=["POST"]),
]
