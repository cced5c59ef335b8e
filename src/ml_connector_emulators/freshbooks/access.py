"""Who is calling: bearer token → identity, scopes, and the business a path names.

An unknown, expired or revoked token is a 401 in the path's family shape. A token whose
scopes lack the resource's `user:<object>:read|write` is 403. A path naming an account or
business the identity does not belong to is a 404 — FreshBooks answers wrong identifiers
that way.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from ml_connector_emulators.freshbooks.errors import (
    ApiError,
    Family,
    accounting_error,
    events_error,
    forbidden,
    ledger_error,
    unauthenticated,
)
from ml_connector_emulators.freshbooks.oauth import AccessToken

if TYPE_CHECKING:
    from ml_connector_emulators.freshbooks.world import Business, FreshBooksWorld


def world_of(request: Request) -> FreshBooksWorld:
    world: FreshBooksWorld = request.app.state.world
    return world


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def authenticate(request: Request, family: Family) -> AccessToken:
    token = world_of(request).oauth.authenticate(bearer(request))
    if token is None:
        raise unauthenticated(family)
    return token


def require_scope(token: AccessToken, scope: str, family: Family) -> None:
    if scope not in token.scopes:
        raise forbidden(family, f"Insufficient scope: this action requires {scope}.")


def business_for_account(request: Request, account_id: str, family: Family) -> Business:
    business = world_of(request).business_by_account(account_id)
    if business is None:
        if family is Family.EVENTS:
            raise events_error(404, "Requested resource could not be found.")
        raise accounting_error(404, 1012, "Account not found.", field="accountid", value=account_id)
    return business


def business_for_uuid(request: Request, business_uuid: str) -> Business:
    business = world_of(request).business_by_uuid(business_uuid)
    if business is None:
        raise ledger_error(404, "Not found.")
    return business


async def json_body(request: Request, family: Family) -> dict[str, Any]:
    """The request's JSON object, decimals kept exact; a bad body is a family-shaped 400."""
    raw = await request.body()
    try:
        parsed = json.loads(raw or b"{}", parse_float=Decimal)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        raise _parse_error(family)
    return parsed


def _parse_error(family: Family) -> ApiError:
    if family is Family.ACCOUNTING:
        return accounting_error(400, 1005, "Could not parse the request body as JSON.")
    if family is Family.EVENTS:
        return events_error(400, "The request body could not be parsed.")
    return ledger_error(400, "The request body could not be parsed.")


def singular(body: dict[str, Any], key: str, family: Family) -> dict[str, Any]:
    """Writes wrap the object in its singular key (`{"bill": {...}}`)."""
    inner = body.get(key)
    if not isinstance(inner, dict):
        if family is Family.EVENTS:
            raise events_error(
                422,
                "The request was well-formed but was unable to be followed due to semantic errors.",
                [f"{key}: Field required"],
            )
        raise accounting_error(422, 1001, f"Field {key} is required.", field=key)
    return inner


__all__ = [
    "authenticate",
    "bearer",
    "business_for_account",
    "business_for_uuid",
    "json_body",
    "require_scope",
    "singular",
    "world_of",
]
