"""OAuth for the Ramp API: the token and revocation endpoints, and the bearer gate.

`POST /developer/v1/token` takes the client's credentials as HTTP Basic and a form body.
Client credentials give a 10-day token and no refresh token; an authorization code or a
refresh token gives a 1-hour token plus a refresh token that a refresh does not rotate
(§2.1). Whether scopes are refused at the token endpoint (docs) or only at the resource
with 403 `DEVELOPER_7100` (live sandbox) is the `scope_check` quirk.

Every API route is wrapped by `api(scope)`, which resolves the bearer token to its
business and enforces the route's scope before the handler runs, and renders any
`ApiError` raised below it in Ramp's envelope.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ml_connector_emulators.ramp.conventions import (
    SCOPE_NOT_ALLOWED,
    UNAUTHORIZED,
    ApiError,
    loads,
)
from ml_connector_emulators.ramp.models import (
    AccessToken,
    ApiClient,
    AuthorizationCode,
    Business,
    RefreshGrant,
)

if TYPE_CHECKING:
    from ml_connector_emulators.ramp.world import RampWorld

CLIENT_CREDENTIALS_TTL = timedelta(seconds=864000)
USER_TOKEN_TTL = timedelta(seconds=3600)
AUTHORIZATION_CODE_TTL = timedelta(minutes=10)


@dataclass
class Call:
    """What a handler gets: the request, the world, and who is calling."""

    request: Request
    world: RampWorld
    business: Business
    token: AccessToken

    def param(self, name: str) -> str:
        return str(self.request.path_params[name])


Handler = Callable[[Call], Awaitable[Response]]


def world_of(request: Request) -> RampWorld:
    world: RampWorld = request.app.state.world
    return world


def api(scope: str | None) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    def wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            world = world_of(request)
            try:
                business, token = authenticate(world, request, scope)
                return await handler(Call(request, world, business, token))
            except ApiError as error:
                return error.response()

        endpoint.__name__ = handler.__name__
        endpoint.__doc__ = handler.__doc__
        return endpoint

    return wrap


def authenticate(
    world: RampWorld, request: Request, scope: str | None
) -> tuple[Business, AccessToken]:
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("bearer "):
        raise ApiError(401, UNAUTHORIZED, "Missing or malformed bearer token.")
    token = world.tokens.get(header[7:].strip())
    if token is None or token.revoked or token.expires_at <= world.clock.now():
        raise ApiError(401, UNAUTHORIZED, "The access token is invalid or has expired.")
    business = world.businesses.get(token.business_id)
    client = business.clients.get(token.client_id) if business else None
    if business is None or client is None:
        raise ApiError(401, UNAUTHORIZED, "The access token is invalid or has expired.")
    if scope is not None and (scope not in client.allowed_scopes or scope not in token.scopes):
        raise ApiError(
            403,
            SCOPE_NOT_ALLOWED,
            f"These scopes are not allowed for this client: {scope}",
            {"scope": [scope]},
        )
    return business, token


# --- the token endpoint ---------------------------------------------------------------


def _oauth_error(status: int, error: str, description: str) -> Response:
    headers = {"WWW-Authenticate": 'Basic realm="ramp"'} if status == 401 else None
    return JSONResponse(
        {"error": error, "error_description": description}, status_code=status, headers=headers
    )


def client_from_basic(world: RampWorld, request: Request) -> tuple[Business, ApiClient] | None:
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    found = world.find_client(client_id) if sep else None
    if found is None or found[1].client_secret != secret:
        return None
    return found


async def _form(request: Request) -> dict[str, str]:
    """The body as a flat map: form-encoded (documented) or JSON (what the spec lists)."""
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            body = loads(await request.body())
        except ValueError:
            return {}
        return {str(k): str(v) for k, v in body.items()} if isinstance(body, dict) else {}
    form = await request.form()
    return {key: value for key, value in form.items() if isinstance(value, str)}


async def token_endpoint(request: Request) -> Response:
    world = world_of(request)
    found = client_from_basic(world, request)
    if found is None:
        return _oauth_error(401, "invalid_client", "Client authentication failed.")
    business, client = found
    form = await _form(request)
    grant_type = form.get("grant_type")
    if not grant_type:
        return _oauth_error(400, "invalid_request", "grant_type is required.")
    grants = {
        "client_credentials": _client_credentials,
        "authorization_code": _authorization_code,
        "refresh_token": _refresh_token,
    }
    if grant_type not in grants:
        return _oauth_error(400, "unsupported_grant_type", f"Unsupported grant_type {grant_type}.")
    if grant_type not in client.grant_types:
        return _oauth_error(400, "unauthorized_client", "This grant is not enabled for the app.")
    return grants[grant_type](world, business, client, form)


def _client_credentials(
    world: RampWorld, business: Business, client: ApiClient, form: dict[str, str]
) -> Response:
    scopes = frozenset(form.get("scope", "").split())
    if world.quirks.scope_check == "token" and not scopes <= client.allowed_scopes:
        refused = " ".join(sorted(scopes - client.allowed_scopes))
        return _oauth_error(400, "invalid_scope", f"Scopes not allowed: {refused}")
    token = _mint(
        world,
        business=business,
        client=client,
        scopes=scopes,
        ttl=CLIENT_CREDENTIALS_TTL,
        refresh_token=None,
    )
    return _token_answer(world, token, None)


def _authorization_code(
    world: RampWorld, business: Business, client: ApiClient, form: dict[str, str]
) -> Response:
    code = world.codes.get(form.get("code", ""))
    if (
        code is None
        or code.used
        or code.client_id != client.client_id
        or code.expires_at <= world.clock.now()
        or code.redirect_uri != form.get("redirect_uri", code.redirect_uri)
    ):
        return _oauth_error(400, "invalid_grant", "The authorization code is invalid.")
    code.used = True
    grant = RefreshGrant(
        token=world.new_secret("ramp_tok_refresh_", 40),
        client_id=client.client_id,
        business_id=code.business_id,
        scopes=code.scopes,
    )
    world.refresh_grants[grant.token] = grant
    token = _mint(
        world,
        business=world.businesses[code.business_id],
        client=client,
        scopes=code.scopes,
        ttl=USER_TOKEN_TTL,
        refresh_token=grant.token,
    )
    return _token_answer(world, token, grant.token)


def _refresh_token(
    world: RampWorld, business: Business, client: ApiClient, form: dict[str, str]
) -> Response:
    grant = world.refresh_grants.get(form.get("refresh_token", ""))
    if grant is None or grant.revoked or grant.client_id != client.client_id:
        return _oauth_error(400, "invalid_grant", "The refresh token is invalid.")
    token = _mint(
        world,
        business=world.businesses[grant.business_id],
        client=client,
        scopes=grant.scopes,
        ttl=USER_TOKEN_TTL,
        refresh_token=grant.token,
    )
    # Ramp does not rotate refresh tokens: the same one comes back (§2.1, live-verified).
    return _token_answer(world, token, grant.token)


def _mint(
    world: RampWorld,
    *,
    business: Business,
    client: ApiClient,
    scopes: frozenset[str],
    ttl: timedelta,
    refresh_token: str | None,
) -> AccessToken:
    token = AccessToken(
        token=world.new_secret("ramp_tok_", 40),
        client_id=client.client_id,
        business_id=business.id,
        scopes=scopes,
        expires_at=world.clock.now() + ttl,
        refresh_token=refresh_token,
    )
    world.tokens[token.token] = token
    return token


def _token_answer(world: RampWorld, token: AccessToken, refresh_token: str | None) -> Response:
    ttl = int((token.expires_at - world.clock.now()).total_seconds())
    body: dict[str, object] = {
        "access_token": token.token,
        "token_type": "Bearer",
        "expires_in": ttl,
    }
    if refresh_token is not None:
        body["refresh_token"] = refresh_token
    if world.quirks.token_response_includes_scope:
        body["scope"] = " ".join(sorted(token.scopes))
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


async def revoke_endpoint(request: Request) -> Response:
    world = world_of(request)
    found = client_from_basic(world, request)
    if found is None:
        return _oauth_error(401, "invalid_client", "Client authentication failed.")
    _, client = found
    form = await _form(request)
    value = form.get("token")
    if not value:
        return _oauth_error(400, "invalid_request", "token is required.")
    # RFC 7009: an unknown token, or one issued to another client, is answered 200 too.
    access = world.tokens.get(value)
    if access is not None and access.client_id == client.client_id:
        access.revoked = True
    grant = world.refresh_grants.get(value)
    if grant is not None and grant.client_id == client.client_id:
        grant.revoked = True
        for token in world.tokens.values():
            if token.refresh_token == grant.token:
                token.revoked = True
    return JSONResponse({})


def issue_authorization_code(
    world: RampWorld,
    business: Business,
    client: ApiClient,
    scopes: frozenset[str],
    redirect_uri: str,
) -> AuthorizationCode:
    """What Ramp's consent screen does when an admin approves (driven from `/_sandbox`)."""
    code = AuthorizationCode(
        code=world.new_secret("ramp_code_", 32),
        client_id=client.client_id,
        business_id=business.id,
        scopes=scopes,
        redirect_uri=redirect_uri,
        expires_at=world.clock.now() + AUTHORIZATION_CODE_TTL,
    )
    world.codes[code.code] = code
    return code


ROUTES = [
    Route("/developer/v1/token", token_endpoint, methods=["POST"]),
    Route("/developer/v1/token/revoke", revoke_endpoint, methods=["POST"]),
]
