"""Routes for `/accounting/account/{account_id}/<group>/<name>[/{id}]`.

One handler per verb, driven by the `resources.RESOURCES` table: single objects in
`{"response": {"result": {"<singular>": ...}}}`, lists with `page/pages/per_page/total`,
writes wrapped in the singular key, HTTP 200 on create. Feature-gated resources answer
HTTP 200 with `response.errors` and no `result`, as live FreshBooks does for accounts
without bills.
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
    require_scope,
    singular,
    world_of,
)
from ml_connector_emulators.freshbooks.books import Books
from ml_connector_emulators.freshbooks.errors import ApiError, Family, accounting_error
from ml_connector_emulators.freshbooks.listing import list_result
from ml_connector_emulators.freshbooks.query import includes_of, parse_query
from ml_connector_emulators.freshbooks.resources import BY_PATH, Resource

_FAMILY = Family.ACCOUNTING


def _single(resource: Resource, wire: dict[str, Any]) -> JSONResponse:
    return JSONResponse({"response": {"result": {resource.single: wire}}})


def _context(request: Request, write: bool) -> tuple[Resource, Books]:
    params = request.path_params
    resource = BY_PATH.get(f"{params['group']}/{params['name']}")
    token = authenticate(request, _FAMILY)
    if resource is None:
        raise accounting_error(404, 1012, "The requested resource was not found.")
    business = business_for_account(request, params["account_id"], _FAMILY)
    require_scope(token, f"user:{resource.scope}:{'write' if write else 'read'}", _FAMILY)
    if resource.kind in world_of(request).faults.gated and resource.gate_errno is not None:
        raise_gate(resource)
    if write and not resource.writable:
        raise accounting_error(405, 1003, f"{resource.plural} are read-only.")
    return resource, business.books


def raise_gate(resource: Resource) -> None:
    body = {
        "response": {
            "errors": [
                {
                    "errno": resource.gate_errno,
                    "field": None,
                    "message": "This feature is not available on this account.",
                    "object": resource.single,
                    "value": None,
                }
            ]
        }
    }
    raise ApiError(JSONResponse(body, 200))


async def collection(request: Request) -> Response:
    if request.method == "POST":
        resource, books = _context(request, write=True)
        body = singular(await json_body(request, _FAMILY), resource.single, _FAMILY)
        record = books.create(resource.kind, body)
        includes = includes_of(request.query_params.multi_items())
        return _single(resource, books.render(resource.kind, record, includes))
    resource, books = _context(request, write=False)
    query = parse_query(request.query_params.multi_items())
    return JSONResponse({"response": {"result": list_result(books, resource, query)}})


async def member(request: Request) -> Response:
    raw_id = request.path_params["resource_id"]
    includes = includes_of(request.query_params.multi_items())
    if request.method == "GET":
        resource, books = _context(request, write=False)
        record = books.find(resource, raw_id)
        return _single(resource, books.render(resource.kind, record, includes))
    resource, books = _context(request, write=True)
    if request.method == "DELETE":
        if not resource.real_delete:
            raise accounting_error(
                405,
                1003,
                f'Delete {resource.plural} with PUT {{"{resource.single}": {{"vis_state": 1}}}}.',
            )
        books.delete(resource.kind, raw_id)
        return JSONResponse({"response": {"result": {}}})
    body = singular(await json_body(request, _FAMILY), resource.single, _FAMILY)
    record = books.update(resource.kind, raw_id, body)
    return _single(resource, books.render(resource.kind, record, includes))


def routes() -> list[Route]:
    base = "/accounting/account/{account_id}/{group}/{name}"
    return [
        Route(base, collection, methods=["GET", "POST"]),
        Route(base + "/{resource_id}", member, methods=["GET", "PUT", "DELETE"]),
    ]


__all__ = ["raise_gate", "routes"]
