"""Routes for webhook callbacks: `/events/account/{account_id}/events/callbacks[/{id}]`.

The events family answers errors flat (`{errno, message, details}`) and deletes with an
empty 204. A PUT is one of: verify (`verifier`), resend (`resend: true`), or a change of
`event`/`uri` (which unverifies the callback and starts a new handshake).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ml_connector_emulators.freshbooks.access import (
    authenticate,
    business_for_account,
    json_body,
    singular,
    world_of,
)
from ml_connector_emulators.freshbooks.callbacks import (
    Callback,
    event_problem,
    subscribes,
    uri_problem,
)
from ml_connector_emulators.freshbooks.errors import Family, events_error
from ml_connector_emulators.freshbooks.query import page_of, parse_query

_FAMILY = Family.EVENTS
_SEMANTIC = "The request was well-formed but was unable to be followed due to semantic errors."
_NOT_FOUND = "Requested resource could not be found."


def _result(callback: Callback) -> JSONResponse:
    return JSONResponse({"response": {"result": {"callback": callback.wire()}}})


def _callback(request: Request) -> Callback:
    authenticate(request, _FAMILY)
    business = business_for_account(request, request.path_params["account_id"], _FAMILY)
    raw = str(request.path_params["callback_id"])
    callback = world_of(request).callbacks.by_id.get(int(raw)) if raw.isdigit() else None
    if callback is None or callback.account_id != business.account_id:
        raise events_error(404, _NOT_FOUND)
    return callback


async def collection(request: Request) -> Response:
    token = authenticate(request, _FAMILY)
    business = business_for_account(request, request.path_params["account_id"], _FAMILY)
    world = world_of(request)
    if request.method == "GET":
        query = parse_query(request.query_params.multi_items())
        rows = world.callbacks.of_account(business.account_id)
        wanted = query.search.get("event")
        if wanted:
            rows = [c for c in rows if subscribes(wanted, c.event) or c.event == wanted]
        if "uri" in query.search:
            rows = [c for c in rows if c.uri == query.search["uri"]]
        return JSONResponse(
            {"response": {"result": page_of([c.wire() for c in rows], query, "callbacks")}}
        )
    body = singular(await json_body(request, _FAMILY), "callback", _FAMILY)
    problems = [p for p in (event_problem(body.get("event")), uri_problem(body.get("uri"))) if p]
    if problems:
        raise events_error(422, _SEMANTIC, problems)
    callback = world.callbacks.add(
        account_id=business.account_id,
        business_id=business.id,
        identity_id=token.identity_id,
        event=str(body["event"]),
        uri=str(body["uri"]),
        now=world.clock.now(),
    )
    world.webhooks.handshake(callback)
    return _result(callback)


async def member(request: Request) -> Response:
    callback = _callback(request)
    world = world_of(request)
    if request.method == "GET":
        return _result(callback)
    if request.method == "DELETE":
        del world.callbacks.by_id[callback.callbackid]
        return Response(status_code=204)
    body: dict[str, Any] = singular(await json_body(request, _FAMILY), "callback", _FAMILY)
    if "verifier" in body:
        if str(body["verifier"]) != callback.verifier:
            raise events_error(422, _SEMANTIC, ["verifier: Value error, Invalid verifier."])
        callback.verified = True
    elif body.get("resend"):
        world.webhooks.handshake(callback)
    elif "event" in body or "uri" in body:
        event, uri = body.get("event", callback.event), body.get("uri", callback.uri)
        problems = [p for p in (event_problem(event), uri_problem(uri)) if p]
        if problems:
            raise events_error(422, _SEMANTIC, problems)
        callback.event, callback.uri = str(event), str(uri)
        callback.verified = False
        callback.verifier = world.callbacks.new_verifier()
        world.webhooks.handshake(callback)
    else:
        raise events_error(422, _SEMANTIC, ["callback: give verifier, resend, event or uri"])
    callback.updated = world.clock.now()
    return _result(callback)


def routes() -> list[Route]:
    base = "/events/account/{account_id}/events/callbacks"
    return [
        Route(base, collection, methods=["GET", "POST"]),
        Route(base + "/{callback_id}", member, methods=["GET", "PUT", "DELETE"]),
    ]


__all__ = ["routes"]
