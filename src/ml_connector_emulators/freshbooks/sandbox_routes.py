"""`/_sandbox/...`: the emulator's control surface (not part of the FreshBooks API).

Credentials of the test app and user, extra redirect URIs and businesses, scenario
seeding, writes "as a person in the FreshBooks UI" (they announce webhooks like API
writes do), fault injection, webhook knobs and draining, counters, and the clock.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ml_connector_emulators.freshbooks.access import world_of
from ml_connector_emulators.freshbooks.errors import ApiError
from ml_connector_emulators.freshbooks.faults import KINDS
from ml_connector_emulators.freshbooks.formats import iso_z
from ml_connector_emulators.freshbooks.resources import RESOURCES
from ml_connector_emulators.freshbooks.world import Business
from ml_connector_emulators.scenarios import SCENARIOS


def _bad(message: str, status: int = 400) -> ApiError:
    return ApiError(JSONResponse({"error": message}, status))


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        parsed = json.loads(raw)
    except ValueError:
        raise _bad("body must be JSON") from None
    if not isinstance(parsed, dict):
        raise _bad("body must be a JSON object")
    return parsed


def _business(request: Request, account_id: str | None) -> Business:
    world = world_of(request)
    if account_id is None:
        return world.primary
    business = world.business_by_account(account_id)
    if business is None:
        raise _bad(f"no business with account_id {account_id}", 404)
    return business


def _business_wire(business: Business) -> dict[str, Any]:
    return {
        "name": business.name,
        "account_id": business.account_id,
        "business_id": business.id,
        "business_uuid": business.uuid,
        "scenario": business.scenario,
    }


async def credentials(request: Request) -> Response:
    return JSONResponse(world_of(request).credentials())


async def redirect_uris(request: Request) -> Response:
    uri = (await _body(request)).get("uri")
    if not isinstance(uri, str) or not uri.startswith(("http://", "https://")) or "?" in uri:
        raise _bad("uri must be an absolute http(s) URL without a query string")
    world = world_of(request)
    world.register_redirect_uri(uri)
    return JSONResponse({"redirect_uris": list(world.oauth.app.redirect_uris)})


async def businesses(request: Request) -> Response:
    world = world_of(request)
    if request.method == "GET":
        return JSONResponse({"businesses": [_business_wire(b) for b in world.businesses]})
    body = await _body(request)
    scenario = body.get("scenario", "empty")
    if scenario not in SCENARIOS:
        raise _bad(f"scenario must be one of {', '.join(SCENARIOS)}")
    name = body.get("name") or f"Sandbox Business {len(world.businesses) + 1}"
    return JSONResponse(_business_wire(world.add_business(str(name), scenario)))


async def identity(request: Request) -> Response:
    body = await _body(request)
    world = world_of(request)
    if "null_account_id" in body:
        world.null_account_id_quirk = bool(body["null_account_id"])
    return JSONResponse({"null_account_id": world.null_account_id_quirk})


async def scenario(request: Request) -> Response:
    body = await _body(request)
    name = body.get("scenario")
    if name not in SCENARIOS:
        raise _bad(f"scenario must be one of {', '.join(SCENARIOS)}")
    business = _business(request, body.get("account_id"))
    world_of(request).seed_scenario(business, str(name))
    return JSONResponse(_business_wire(business))


async def write(request: Request) -> Response:
    """Create or change an object as a FreshBooks user would in the web app."""
    kind = request.path_params["kind"]
    resource = RESOURCES.get(kind)
    if resource is None or not resource.writable:
        raise _bad(
            f"kind must be one of {', '.join(k for k, r in RESOURCES.items() if r.writable)}", 404
        )
    business = _business(request, request.path_params["account_id"])
    body = await _body(request)
    inner = body.get(resource.single, body)
    if not isinstance(inner, dict):
        raise _bad(f"{resource.single} must be an object")
    books = business.books
    if "object_id" in request.path_params:
        record = books.update(kind, request.path_params["object_id"], inner)
    else:
        record = books.create(kind, inner)
    return JSONResponse(
        {
            "response": {
                "result": {resource.single: books.render(kind, record, {"vendor", "category"})}
            }
        }
    )


async def counters(request: Request) -> Response:
    world = world_of(request)
    if request.method == "POST":
        world.counters.reset()
    return JSONResponse(world.counters.snapshot())


async def faults(request: Request) -> Response:
    world = world_of(request)
    if request.method == "DELETE":
        world.faults.clear()
    elif request.method == "POST":
        body = await _body(request)
        try:
            world.faults.add(
                str(body.get("kind")),
                count=None if body.get("count") is None else int(body["count"]),
                path_prefix=str(body.get("path_prefix") or ""),
                methods=tuple(str(m) for m in body.get("methods") or ()),
                seconds=float(body.get("seconds") or 0),
                status=int(body.get("status") or 503),
            )
        except (TypeError, ValueError) as exc:
            raise _bad(f"{exc} (kinds: {', '.join(KINDS)})") from None
    return JSONResponse(world.faults.snapshot())


async def expire_tokens(request: Request) -> Response:
    return JSONResponse({"expired": world_of(request).oauth.expire_all_now()})


async def feature_gate(request: Request) -> Response:
    body = await _body(request)
    world = world_of(request)
    wanted = body.get("resources") or []
    unknown = [k for k in wanted if RESOURCES.get(k) is None or RESOURCES[k].gate_errno is None]
    if unknown:
        raise _bad(
            f"cannot gate {', '.join(map(str, unknown))}; gateable: bills, bill_vendors, bill_payments"
        )
    if body.get("enabled", True):
        world.faults.gated.update(wanted)
    else:
        world.faults.gated.difference_update(wanted)
    return JSONResponse(world.faults.snapshot())


def _attempt_wire(attempt: Any) -> dict[str, Any]:
    data = asdict(attempt)
    data["at"] = iso_z(attempt.at)
    return data


async def webhooks(request: Request) -> Response:
    hooks = world_of(request).webhooks
    if request.method == "POST":
        try:
            hooks.knobs.update(await _body(request))
        except (TypeError, ValueError) as exc:
            raise _bad(str(exc)) from None
    return JSONResponse(
        {
            "knobs": hooks.knobs.snapshot(),
            "pending": [
                {
                    "seq": d.seq,
                    "callbackid": d.callbackid,
                    "uri": d.uri,
                    "fields": dict(d.fields) | ({"verifier": "(hidden)"} if d.handshake else {}),
                    "due_at": iso_z(d.due_at),
                    "attempt": d.attempt,
                }
                for d in hooks.pending
            ],
            "log": [_attempt_wire(a) for a in hooks.log[-200:]],
        }
    )


async def drain(request: Request) -> Response:
    sent = await world_of(request).webhooks.drain()
    return JSONResponse({"sent": [_attempt_wire(a) for a in sent]})


async def clock(request: Request) -> Response:
    world = world_of(request)
    if request.method == "POST":
        body = await _body(request)
        try:
            if body.get("unfreeze"):
                world.clock.unfreeze()
            if body.get("freeze_at"):
                moment = datetime.fromisoformat(str(body["freeze_at"]).replace("Z", "+00:00"))
                if moment.tzinfo is None:
                    raise ValueError("freeze_at needs a time zone")
                world.clock.freeze(moment)
            elif body.get("freeze"):
                world.clock.freeze()
            if body.get("advance_seconds"):
                world.clock.advance(float(body["advance_seconds"]))
        except (TypeError, ValueError) as exc:
            raise _bad(str(exc)) from None
    return JSONResponse({"now": world.clock.now().isoformat()})


def routes() -> list[Route]:
    return [
        Route("/_sandbox/credentials", credentials, methods=["GET"]),
        Route("/_sandbox/redirect_uris", redirect_uris, methods=["POST"]),
        Route("/_sandbox/businesses", businesses, methods=["GET", "POST"]),
        Route("/_sandbox/identity", identity, methods=["POST"]),
        Route("/_sandbox/scenario", scenario, methods=["POST"]),
        Route("/_sandbox/accounts/{account_id}/{kind}", write, methods=["POST"]),
        Route("/_sandbox/accounts/{account_id}/{kind}/{object_id}", write, methods=["PUT"]),
        Route("/_sandbox/counters", counters, methods=["GET"]),
        Route("/_sandbox/counters/reset", counters, methods=["POST"]),
        Route("/_sandbox/faults", faults, methods=["GET", "POST", "DELETE"]),
        Route("/_sandbox/faults/expire_tokens", expire_tokens, methods=["POST"]),
        Route("/_sandbox/faults/feature_gate", feature_gate, methods=["POST"]),
        Route("/_sandbox/webhooks", webhooks, methods=["GET", "POST"]),
        Route("/_sandbox/webhooks/drain", drain, methods=["POST"]),
        Route("/_sandbox/clock", clock, methods=["GET", "POST"]),
    ]


__all__ = ["routes"]
