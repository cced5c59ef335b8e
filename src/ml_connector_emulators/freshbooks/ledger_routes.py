"""Routes for `/accounting/businesses/{business_uuid}/ledger_accounts/accounts[/{uuid}]`."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ml_connector_emulators.freshbooks.access import (
    authenticate,
    business_for_uuid,
    json_body,
    world_of,
)
from ml_connector_emulators.freshbooks.errors import Family, ledger_error
from ml_connector_emulators.freshbooks.ledger import ACCOUNT_TYPES

_FAMILY = Family.LEDGER


async def collection(request: Request) -> Response:
    authenticate(request, _FAMILY)
    business = business_for_uuid(request, request.path_params["business_uuid"])
    ledger = business.ledger
    if request.method == "GET":
        return JSONResponse({"data": [ledger.wire(a) for a in ledger.accounts.values()]})
    body = await json_body(request, _FAMILY)
    name = body.get("name")
    kind = body.get("type")
    if not isinstance(name, str) or not name.strip():
        raise ledger_error(422, "Name is required.", "name")
    if kind not in ACCOUNT_TYPES:
        raise ledger_error(422, f"Type must be one of: {', '.join(ACCOUNT_TYPES)}.", "type")
    parent = body.get("parent_account_uuid") or body.get("parent_uuid")
    if parent is not None and parent not in ledger.accounts:
        raise ledger_error(422, "Parent account not found.", "parent_account_uuid")
    number = body.get("number")
    if number is not None and any(a.number == str(number) for a in ledger.accounts.values()):
        raise ledger_error(422, "Account number is already in use.", "number")
    account = ledger.add(
        name.strip(),
        str(kind),
        world_of(request).clock.now(),
        number=None if number is None else str(number),
        description=body.get("description"),
        sub_type=body.get("sub_type"),
        parent_uuid=parent,
        auto_created=False,
    )
    return JSONResponse({"data": ledger.wire(account)})


async def member(request: Request) -> Response:
    authenticate(request, _FAMILY)
    business = business_for_uuid(request, request.path_params["business_uuid"])
    account = business.ledger.accounts.get(request.path_params["account_uuid"])
    if account is None:
        raise ledger_error(404, "Not found.")
    if request.method == "PUT":
        body = await json_body(request, _FAMILY)
        for name in ("name", "description", "number", "sub_type"):
            if name in body:
                setattr(account, name, None if body[name] is None else str(body[name]))
        account.updated = world_of(request).clock.now()
    return JSONResponse({"data": business.ledger.wire(account)})


def routes() -> list[Route]:
    base = "/accounting/businesses/{business_uuid}/ledger_accounts/accounts"
    return [
        Route(base, collection, methods=["GET", "POST"]),
        Route(base + "/{account_uuid}", member, methods=["GET", "PUT"]),
    ]


__all__ = ["routes"]
