"""The auth host: consent page, token and revoke endpoints, and `users/me`.

The consent page is a plain HTML form (no JavaScript) so a headless browser, a test
with an HTTP client, or a person can approve or deny. Approve redirects to the
registered `redirect_uri` with `code` and `state`; deny redirects with
`error=access_denied`. An unknown client or unregistered `redirect_uri` never redirects:
it gets an error page, as OAuth requires.
"""

from __future__ import annotations

import json
from html import escape
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from ml_connector_emulators.freshbooks.access import authenticate, world_of
from ml_connector_emulators.freshbooks.errors import Family, forbidden
from ml_connector_emulators.freshbooks.oauth import OAuthError

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;max-width:32rem;margin:3rem auto;color:#1d2939}}
.card{{border:1px solid #d0d5dd;border-radius:8px;padding:1.5rem}}
button{{padding:.6rem 1.2rem;margin-right:.5rem;font-size:1rem}}</style></head>
<body><div class="card">{body}</div></body></html>"""


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(title=escape(title), body=body), status)


def _redirect(uri: str, params: dict[str, str]) -> RedirectResponse:
    return RedirectResponse(f"{uri}?{urlencode(params)}", status_code=302)


async def authorize(request: Request) -> Response:
    world = world_of(request)
    source = request.query_params if request.method == "GET" else await request.form()
    client_id = str(source.get("client_id") or "")
    redirect_uri = str(source.get("redirect_uri") or "")
    state = source.get("state")
    scope = source.get("scope")
    try:
        if source.get("response_type", "code") != "code":
            raise OAuthError(
                400, "unsupported_response_type", "Only response_type=code is supported."
            )
        world.oauth.check_authorize(client_id, redirect_uri, None)
    except OAuthError as exc:
        return _page(
            "Authorization error",
            f"<h1>Authorization error</h1><p id='error'>{escape(exc.error)}: {escape(exc.description)}</p>",
            exc.status,
        )
    extra = {"state": str(state)} if state is not None else {}
    try:
        scopes = world.oauth.scopes_for(str(scope) if scope is not None else None)
    except OAuthError as exc:
        return _redirect(
            redirect_uri, {"error": exc.error, "error_description": exc.description, **extra}
        )
    if request.method == "POST":
        decision = source.get("decision")
        if decision == "approve":
            code = world.oauth.issue_code(client_id, redirect_uri, world.user.identity_id, scopes)
            return _redirect(redirect_uri, {"code": code, **extra})
        return _redirect(
            redirect_uri,
            {
                "error": "access_denied",
                "error_description": "The resource owner denied the request.",
                **extra,
            },
        )
    hidden = "".join(
        f'<input type="hidden" name="{escape(name)}" value="{escape(str(value))}">'
        for name, value in (
            ("client_id", client_id),
            ("redirect_uri", redirect_uri),
            ("response_type", "code"),
            *((("state", state),) if state is not None else ()),
            *((("scope", scope),) if scope is not None else ()),
        )
    )
    business_names = ", ".join(escape(b.name) for b in world.businesses)
    scope_items = "".join(f"<li>{escape(s)}</li>" for s in scopes)
    body = (
        f"<h1>Authorize {escape(world.oauth.app.name)}</h1>"
        f"<p>Signed in as <strong id='user'>{escape(world.user.email)}</strong> "
        f"({business_names}).</p>"
        f"<p>This application is asking to:</p><ul id='scopes'>{scope_items}</ul>"
        f"<form method='post' action='{escape(request.url.path)}'>{hidden}"
        "<button type='submit' name='decision' value='approve' id='approve'>Allow</button>"
        "<button type='submit' name='decision' value='deny' id='deny'>Deny</button>"
        "</form>"
    )
    return _page("Authorize application", body)


async def _token_form(request: Request) -> dict[str, str]:
    """The token endpoint takes form bodies (what the SDKs send) and JSON ones."""
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            parsed = json.loads(await request.body() or b"{}")
        except ValueError:
            raise OAuthError(
                400, "invalid_request", "The request body could not be parsed."
            ) from None
        if not isinstance(parsed, dict):
            raise OAuthError(400, "invalid_request", "The request body must be an object.")
        return {str(k): str(v) for k, v in parsed.items() if v is not None}
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


async def token(request: Request) -> Response:
    world = world_of(request)
    try:
        payload = world.oauth.token(await _token_form(request))
    except OAuthError as exc:
        return JSONResponse(exc.body(), exc.status)
    return JSONResponse(payload, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


async def revoke(request: Request) -> Response:
    world = world_of(request)
    try:
        world.oauth.revoke(await _token_form(request))
    except OAuthError as exc:
        return JSONResponse(exc.body(), exc.status)
    return JSONResponse({})


async def users_me(request: Request) -> Response:
    token = authenticate(request, Family.AUTH)
    if "user:profile:read" not in token.scopes:
        raise forbidden(Family.AUTH, "This action requires the user:profile:read scope.")
    return JSONResponse({"response": world_of(request).identity()})


def routes() -> list[Route]:
    return [
        Route(path, authorize, methods=["GET", "POST"])
        for path in ("/oauth/authorize", "/oauth/authorize/", "/service/auth/oauth/authorize")
    ] + [
        Route("/auth/oauth/token", token, methods=["POST"]),
        Route("/service/auth/oauth/token", token, methods=["POST"]),
        Route("/auth/oauth/revoke", revoke, methods=["POST"]),
        Route("/service/auth/oauth/revoke", revoke, methods=["POST"]),
        Route("/auth/api/v1/users/me", users_me, methods=["GET"]),
    ]


__all__ = ["routes"]
