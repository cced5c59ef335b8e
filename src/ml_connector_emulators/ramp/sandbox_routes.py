"""The `/_sandbox` control surface: credentials, seeding, faults, quirks, clock, counters.

Not part of Ramp's API and never rate limited or fault-injected. Everything a test or a
demo needs to drive the emulator from outside the process lives here; in-process tests
may equally call the world directly.
"""

from __future__ import annotations

from dataclasses import asdict, fields
from datetime import UTC, datetime, time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ml_connector_emulators.ramp.auth import issue_authorization_code, world_of
from ml_connector_emulators.ramp.bills import render_bill
from ml_connector_emulators.ramp.conventions import (
    ApiError,
    invalid,
    json_response,
    not_found,
    read_json,
)
from ml_connector_emulators.ramp.models import Business, Transaction
from ml_connector_emulators.ramp.org import render_entity, render_user
from ml_connector_emulators.ramp.quirks import RampQuirks
from ml_connector_emulators.ramp.seed import ALL_SCOPES, add_entity, add_user
from ml_connector_emulators.ramp.transactions import render_transaction
from ml_connector_emulators.ramp.validation import (
    Field,
    boolean,
    decimal_amount,
    integer,
    iso_date,
    iso_datetime,
    obj,
    one_of,
    string,
    url,
    uuid_string,
    validate_body,
)
from ml_connector_emulators.ramp.vendor_spend import VendorSpend
from ml_connector_emulators.ramp.vendors import render_contact, render_vendor
from ml_connector_emulators.ramp.webhook_routes import render_subscription
from ml_connector_emulators.ramp.world import RampWorld
from ml_connector_emulators.scenarios import SCENARIOS


def _guard(handler: Any) -> Any:
    async def endpoint(request: Request) -> Response:
        try:
            response: Response = await handler(request, world_of(request))
        except ApiError as error:
            return error.response()
        except ValueError as error:
            return invalid(str(error)).response()
        return response

    endpoint.__name__ = handler.__name__
    return endpoint


def _business(world: RampWorld, business_id: str | None) -> Business:
    if business_id is None:
        return world.test_business
    business = world.businesses.get(business_id)
    if business is None:
        raise not_found("Business")
    return business


def _credentials(world: RampWorld, business: Business) -> dict[str, Any]:
    client = next(iter(business.clients.values()))
    return {
        "business_id": business.id,
        "business_name": business.name,
        "client_id": client.client_id,
        "client_secret": client.client_secret,
        "scopes": sorted(client.allowed_scopes),
        "scope": " ".join(sorted(client.allowed_scopes)),
        "grant_types": sorted(client.grant_types),
        "api_base_url": f"{world.public_url}/developer/v1",
        "token_url": f"{world.public_url}/developer/v1/token",
    }


@_guard
async def credentials(request: Request, world: RampWorld) -> Response:
    business = _business(world, request.query_params.get("business_id"))
    body = _credentials(world, business)
    body["businesses"] = [_credentials(world, b) for b in world.businesses.values()]
    return json_response(body)


@_guard
async def create_business(request: Request, world: RampWorld) -> Response:
    body = validate_body(await read_json(request), {"name": Field(string(200, 1), True)})
    business = world.add_business(body["name"], ALL_SCOPES)
    entity = add_entity(world, business, f"{body['name']} LLC")
    add_user(
        world,
        business,
        first="Owner",
        last="Admin",
        email=f"owner+{business.id[:8]}@example.com",
        role="BUSINESS_OWNER",
        entity=entity,
    )
    return json_response(_credentials(world, business), 201)


@_guard
async def authorization_code(request: Request, world: RampWorld) -> Response:
    body = validate_body(
        await read_json(request),
        {
            "client_id": Field(string(200, 1), True),
            "redirect_uri": Field(url, True),
            "scope": Field(string(2000)),
            "business_id": Field(uuid_string),
        },
    )
    found = world.find_client(body["client_id"])
    if found is None:
        raise not_found("API client")
    business = _business(world, body.get("business_id")) if body.get("business_id") else found[0]
    code = issue_authorization_code(
        world, business, found[1], frozenset(body.get("scope", "").split()), body["redirect_uri"]
    )
    return json_response({"code": code.code, "expires_in": 600}, 201)


@_guard
async def reset(request: Request, world: RampWorld) -> Response:
    body = validate_body(await read_json(request), {"scenario": Field(one_of(SCENARIOS))})
    world.reset(body.get("scenario"))
    return json_response({"scenario": world.scenario, "business_id": world.test_business_id})


@_guard
async def counters(request: Request, world: RampWorld) -> Response:
    c = world.counters
    return json_response(
        {
            "requests_by_route": dict(sorted(c.requests_by_route.items())),
            "max_requests_in_10s": dict(world.limiter.max_seen),
            "rate_limited": dict(world.limiter.refused),
            "bills_created": c.bills_created,
            "vendors_created": c.vendors_created,
            "duplicate_bills_by_remote_id": c.duplicate_bills_by_remote_id,
            "duplicate_vendors_by_name": c.duplicate_vendors_by_name,
            "faults_injected": c.faults_injected,
            "dropped_connections": c.dropped_connections,
            "webhook_deliveries": world.webhooks.counts(),
        }
    )


def dump_business(world: RampWorld, business: Business) -> dict[str, Any]:
    now = world.clock.now()
    spend = VendorSpend(business, now)
    return {
        "id": business.id,
        "name": business.name,
        "clients": [c.client_id for c in business.clients.values()],
        "users": [render_user(u, business.id) for u in business.users.values()],
        "departments": [asdict(d) for d in business.departments.values()],
        "locations": [asdict(loc) for loc in business.locations.values()],
        "entities": [render_entity(e) for e in business.entities.values()],
        "vendors": [
            {
                **render_vendor(business, v, now, spend),
                "contact_details": [render_contact(c) for c in v.contacts],
            }
            for v in business.vendors.values()
        ],
        "bills": [render_bill(business, b, with_trace=False) for b in business.bills.values()],
        "accounting_connections": [
            {
                "id": c.id,
                "remote_provider_name": c.remote_provider_name,
                "is_active": c.is_active,
                "status": c.status,
                "gl_accounts": [
                    {
                        "id": a.remote_id,
                        "ramp_id": a.ramp_id,
                        "name": a.name,
                        "code": a.code,
                        "is_active": a.is_active,
                    }
                    for a in c.gl_accounts.values()
                ],
                "fields": [
                    {"id": f.remote_id, "ramp_id": f.ramp_id, "name": f.name}
                    for f in c.fields.values()
                ],
                "field_options": [
                    {
                        "id": o.remote_id,
                        "ramp_id": o.ramp_id,
                        "field_ramp_id": o.field_ramp_id,
                        "value": o.value,
                        "is_active": o.is_active,
                    }
                    for o in c.options.values()
                ],
                "vendors": [
                    {"id": v.remote_id, "ramp_id": v.ramp_id, "name": v.name}
                    for v in c.vendors.values()
                ],
            }
            for c in business.connections.values()
        ],
        "transactions": [render_transaction(business, t) for t in business.transactions.values()],
        "webhooks": [render_subscription(s) for s in world.webhooks.of_business(business.id)],
    }


@_guard
async def state(request: Request, world: RampWorld) -> Response:
    return json_response(
        {
            "scenario": world.scenario,
            "now": world.clock.now().isoformat(),
            "test_business_id": world.test_business_id,
            "businesses": [dump_business(world, b) for b in world.businesses.values()],
        }
    )


_FAULTS = {
    "latency_ms": Field(integer(0, 120_000)),
    "rate_limit": Field(
        obj(
            {
                "requests": Field(integer(0)),
                "seconds": Field(integer(0)),
                "retry_after": Field(integer(0)),
            }
        )
    ),
    "server_error": Field(obj({"requests": Field(integer(0)), "status": Field(integer(500, 599))})),
    "drop_after_write": Field(
        obj({"route": Field(string(300, 1), nullable=True), "count": Field(integer(1))})
    ),
}


@_guard
async def faults(request: Request, world: RampWorld) -> Response:
    if request.method == "POST":
        world.faults.arm(validate_body(await read_json(request), _FAULTS))
    elif request.method == "DELETE":
        world.faults.clear()
    return json_response(world.faults.describe())


_QUIRK_FIELDS = {f.name for f in fields(RampQuirks)}


@_guard
async def quirks(request: Request, world: RampWorld) -> Response:
    if request.method == "POST":
        body = await read_json(request)
        if not isinstance(body, dict) or not set(body) <= _QUIRK_FIELDS:
            raise invalid(f"Known quirks: {', '.join(sorted(_QUIRK_FIELDS))}")
        world.set_quirks(**body)
    return json_response(asdict(world.quirks))


@_guard
async def clock(request: Request, world: RampWorld) -> Response:
    if request.method == "POST":
        body = validate_body(
            await read_json(request),
            {
                "advance_seconds": Field(integer(0)),
                "freeze_at": Field(iso_datetime),
                "unfreeze": Field(boolean),
            },
        )
        if "freeze_at" in body:
            world.clock.freeze(body["freeze_at"])
        if body.get("unfreeze"):
            world.clock.unfreeze()
        if "advance_seconds" in body:
            world.clock.advance(body["advance_seconds"])
    return json_response({"now": world.clock.now().isoformat()})


@_guard
async def expire_tokens(request: Request, world: RampWorld) -> Response:
    body = validate_body(await read_json(request), {"business_id": Field(uuid_string)})
    business = _business(world, body.get("business_id"))
    now = world.clock.now()
    expired = 0
    for token in world.tokens.values():
        if token.business_id == business.id and token.expires_at > now:
            token.expires_at = now
            expired += 1
    return json_response({"expired": expired})


@_guard
async def seed_transaction(request: Request, world: RampWorld) -> Response:
    body = validate_body(
        await read_json(request),
        {
            "business_id": Field(uuid_string),
            "amount": Field(decimal_amount(), True),
            "currency": Field(string(3, 3)),
            "date": Field(iso_date),
            "user_transaction_time": Field(iso_datetime),
            "merchant_name": Field(string(200, 1), True),
            "user_id": Field(uuid_string),
            "user_email": Field(string(200, 1)),
            "state": Field(one_of(("PENDING", "CLEARED", "DECLINED"))),
        },
    )
    business = _business(world, body.get("business_id"))
    user = business.users.get(body.get("user_id", "")) or next(
        (u for u in business.users.values() if u.email == body.get("user_email")), None
    )
    if user is None:
        user = next(iter(business.users.values()))
    if "user_transaction_time" in body:
        moment = body["user_transaction_time"]
    else:
        day = body.get("date", world.clock.now().date())
        moment = datetime.combine(day, time(12, 0), tzinfo=UTC)
    merchant_id = (
        next(
            (
                t.merchant_id
                for t in business.transactions.values()
                if t.merchant_name == body["merchant_name"]
            ),
            None,
        )
        or world.new_id()
    )
    tx = Transaction(
        id=world.new_id(),
        amount=body["amount"],
        currency=body.get("currency", "USD"),
        user_transaction_time=moment,
        merchant_id=merchant_id,
        merchant_name=body["merchant_name"],
        user_id=user.id,
        card_id=user.card_id,
        entity_id=user.entity_id,
        department_id=user.department_id,
        location_id=user.location_id,
        state=body.get("state", "CLEARED"),
        updated_at=world.clock.now(),
    )
    business.transactions[tx.id] = tx
    return json_response(render_transaction(business, tx), 201)


@_guard
async def deliveries(request: Request, world: RampWorld) -> Response:
    return json_response([d.describe() for d in world.webhooks.deliveries])


@_guard
async def drain(request: Request, world: RampWorld) -> Response:
    attempted = await world.webhooks.drain()
    return json_response({"attempted": len(attempted), **world.webhooks.counts()})


@_guard
async def knobs(request: Request, world: RampWorld) -> Response:
    if request.method == "POST":
        body = validate_body(
            await read_json(request),
            {
                "duplicate_rate": Field(decimal_amount()),
                "loss_rate": Field(decimal_amount()),
                "reorder": Field(boolean),
            },
        )
        for name in ("duplicate_rate", "loss_rate"):
            if name in body:
                if body[name] > 1:
                    raise invalid(f"{name} must be between 0 and 1.", name)
                # A probability only steers the seeded RNG; it is not money.
                setattr(world.webhooks.knobs, name, float(body[name]))
        if "reorder" in body:
            world.webhooks.knobs.reorder = body["reorder"]
    return json_response(asdict(world.webhooks.knobs))


@_guard
async def emit_event(request: Request, world: RampWorld) -> Response:
    body = validate_body(
        await read_json(request),
        {
            "business_id": Field(uuid_string),
            "event_type": Field(string(200, 1), True),
            "object_id": Field(string(200, 1), True),
        },
    )
    business = _business(world, body.get("business_id"))
    payload = world.webhooks.emit(business.id, body["event_type"], body["object_id"])
    return json_response(payload, 201)


ROUTES = [
    Route("/_sandbox/credentials", credentials, methods=["GET"]),
    Route("/_sandbox/businesses", create_business, methods=["POST"]),
    Route("/_sandbox/oauth/codes", authorization_code, methods=["POST"]),
    Route("/_sandbox/reset", reset, methods=["POST"]),
    Route("/_sandbox/counters", counters, methods=["GET"]),
    Route("/_sandbox/state", state, methods=["GET"]),
    Route("/_sandbox/faults", faults, methods=["GET", "POST", "DELETE"]),
    Route("/_sandbox/quirks", quirks, methods=["GET", "POST"]),
    Route("/_sandbox/clock", clock, methods=["GET", "POST"]),
    Route("/_sandbox/tokens/expire", expire_tokens, methods=["POST"]),
    Route("/_sandbox/transactions", seed_transaction, methods=["POST"]),
    Route("/_sandbox/webhooks/deliveries", deliveries, methods=["GET"]),
    Route("/_sandbox/webhooks/drain", drain, methods=["POST"]),
    Route("/_sandbox/webhooks/knobs", knobs, methods=["GET", "POST"]),
    Route("/_sandbox/webhooks/events", emit_event, methods=["POST"]),
]
