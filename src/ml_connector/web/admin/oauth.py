"""Connect FreshBooks: authorization-code flow with a session-bound `state` and PKCE.

`/connect/freshbooks?connection=<id>` stores a random `state`, the PKCE verifier and the
connection id in the admin's session and redirects to FreshBooks' consent page (the URL
is built from settings only, never from the request). The callback accepts the code only
with the exact `state` of this session, once, within ten minutes; then it exchanges the
code through the connection's FreshBooks client (which persists the tokens), discovers
the businesses and saves the chosen one — asking the admin to pick when there are several.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ml_connector.clients.freshbooks import (
    BusinessRef,
    code_challenge_s256,
    new_code_verifier,
)
from ml_connector.core.errors import ConnectorError
from ml_connector.queue import enqueue
from ml_connector.store import connections as connections_store
from ml_connector.store import credentials as credentials_store
from ml_connector.store import read
from ml_connector.store.connections import Connection, ConnectionNotFoundError, ConnectionStatus
from ml_connector.sync.backfill import start_backfill
from ml_connector.sync.kinds import Kind
from ml_connector.sync.runtime import RAMP_CLIENT_ID, RAMP_CLIENT_SECRET
from ml_connector.web.admin.connections import load_connection, not_found, record_event
from ml_connector.web.admin.context import Admin, flash, form_fields, guard, redirect

PENDING_KEY = "freshbooks_oauth"
CHOICES_KEY = "freshbooks_businesses"
STATE_TTL = timedelta(minutes=10)


async def start(admin: Admin, request: Request) -> Response:
    raw = request.query_params.get("connection", "")
    try:
        connection = await admin.runtime.connection(int(raw))
    except (ValueError, ConnectionNotFoundError):
        return not_found(admin, request)
    try:
        fb = admin.runtime.freshbooks_client(connection)
    except ConnectorError as exc:
        flash(request, str(exc), kind="error")
        return redirect(f"/connections/{connection.id}")
    state = secrets.token_urlsafe(32)
    verifier = new_code_verifier()
    try:
        url = fb.authorization_url(state=state, code_challenge=code_challenge_s256(verifier))
    finally:
        await fb.aclose()
    request.session[PENDING_KEY] = {
        "state": state,
        "verifier": verifier,
        "connection_id": connection.id,
        "at": admin.now().isoformat(),
    }
    return RedirectResponse(url, status_code=303)


def _take_pending(admin: Admin, request: Request) -> dict[str, Any] | None:
    """The pending authorization if `state` matches it; consumed either way (single use)."""
    pending = request.session.pop(PENDING_KEY, None)
    state = request.query_params.get("state", "")
    if not isinstance(pending, dict) or not isinstance(pending.get("state"), str):
        return None
    if not hmac.compare_digest(pending["state"].encode(), state.encode()):
        return None
    started = datetime.fromisoformat(str(pending.get("at")))
    if admin.now() - started > STATE_TTL:
        return None
    return pending


async def callback(admin: Admin, request: Request) -> Response:
    pending = _take_pending(admin, request)
    if pending is None:
        return admin.render(
            request,
            "admin/error.html",
            status=400,
            title="FreshBooks authorization not accepted",
            message="This authorization answer does not belong to a connect request started "
            "in this browser session in the last 10 minutes. Start again from the connection page.",
        )
    connection_id = int(pending["connection_id"])
    problem = _callback_problem(request)
    if problem is not None:
        flash(request, problem, kind="error")
        return redirect(f"/connections/{connection_id}")
    try:
        connection = await admin.runtime.connection(connection_id)
    except ConnectionNotFoundError:
        return not_found(admin, request)
    businesses = await _exchange(admin, connection, request.query_params["code"], pending)
    if isinstance(businesses, str):
        flash(request, businesses, kind="error")
        return redirect(f"/connections/{connection.id}")
    if len(businesses) == 1:
        await _save_business(admin, request, connection, businesses[0])
        return redirect(f"/connections/{connection.id}")
    request.session[CHOICES_KEY] = {
        "connection_id": connection.id,
        "businesses": [_business_dict(b) for b in businesses],
    }
    return redirect(f"/connections/{connection.id}/freshbooks/business")


async def _exchange(
    admin: Admin, connection: Connection, code: str, pending: dict[str, Any]
) -> list[BusinessRef] | str:
    """Trade the code for tokens (persisted by the client); the usable businesses or why not."""
    try:
        async with admin.runtime.freshbooks_client(connection) as fb:
            await fb.exchange_code(code, code_verifier=str(pending["verifier"]))
            businesses = [b for b in await fb.businesses() if b.account_id is not None]
    except ConnectorError as exc:
        return f"FreshBooks authorization failed: {exc}"
    if not businesses:
        return (
            "This FreshBooks user has no business with accounting access; sign in as a "
            "user who owns or administers the business."
        )
    return businesses


def _callback_problem(request: Request) -> str | None:
    """Why the callback carries no usable code (the user denied, or FreshBooks erred)."""
    error = request.query_params.get("error")
    if error:
        return f"FreshBooks did not authorize the connection ({error[:100]})."
    if not request.query_params.get("code"):
        return "FreshBooks sent no authorization code."
    return None


def _business_dict(business: BusinessRef) -> dict[str, Any]:
    return {
        "account_id": business.account_id,
        "business_id": business.business_id,
        "name": business.name,
        "role": business.role,
    }


def _choices(request: Request, connection_id: int) -> list[dict[str, Any]]:
    stored = request.session.get(CHOICES_KEY)
    if not isinstance(stored, dict) or stored.get("connection_id") != connection_id:
        return []
    return [b for b in stored.get("businesses", []) if isinstance(b, dict)]


async def choose_page(admin: Admin, request: Request) -> Response:
    connection = await load_connection(admin, request)
    if connection is None:
        return not_found(admin, request)
    choices = _choices(request, connection.id)
    if not choices:
        flash(request, "Authorize FreshBooks first.", kind="error")
        return redirect(f"/connections/{connection.id}")
    return admin.render(
        request, "admin/choose_business.html", connection=connection, businesses=choices
    )


async def choose(admin: Admin, request: Request) -> Response:
    connection = await load_connection(admin, request)
    if connection is None:
        return not_found(admin, request)
    wanted = (await form_fields(request)).get("account_id", "")
    picked = next((b for b in _choices(request, connection.id) if b["account_id"] == wanted), None)
    if picked is None:
        flash(request, "Choose one of the businesses listed.", kind="error")
        return redirect(f"/connections/{connection.id}/freshbooks/business")
    request.session.pop(CHOICES_KEY, None)
    business = BusinessRef(
        account_id=picked["account_id"],
        business_id=picked["business_id"],
        business_uuid=None,
        name=picked["name"],
        role=picked["role"],
        account_source="membership",
    )
    await _save_business(admin, request, connection, business)
    return redirect(f"/connections/{connection.id}")


async def _save_business(
    admin: Admin, request: Request, connection: Connection, business: BusinessRef
) -> None:
    now = admin.now()
    async with read(admin.engine) as db:
        kinds = set(await credentials_store.kinds(db, connection_id=connection.id))
    ramp_ready = {RAMP_CLIENT_ID, RAMP_CLIENT_SECRET} <= kinds
    async with admin.engine.begin() as db:
        await connections_store.update(
            db,
            connection.id,
            now=now,
            freshbooks_account_id=business.account_id,
            freshbooks_business_id=(
                str(business.business_id) if business.business_id is not None else None
            ),
        )
        if ramp_ready:
            await connections_store.set_status(db, connection.id, ConnectionStatus.ACTIVE, now=now)
        else:
            await connections_store.set_status(
                db,
                connection.id,
                ConnectionStatus.PENDING,
                now=now,
                reason="Ramp API client not entered yet",
            )
        await enqueue(
            db,
            kind=Kind.REGISTER_WEBHOOKS.value,
            args={"connection_id": connection.id},
            now=now,
            connection_id=connection.id,
            unique_key=f"{Kind.REGISTER_WEBHOOKS.value}:{connection.id}",
        )
        backfill_started = (
            await start_backfill_if_available(db, connection.id, now) if ramp_ready else False
        )
    await record_event(
        admin,
        request,
        connection.id,
        "freshbooks.authorized",
        {
            "account_id": business.account_id,
            "business_id": business.business_id,
            "business_name": business.name,
            "role": business.role,
        },
    )
    label = business.name or business.account_id
    message = f"FreshBooks business {label!r} connected; webhook registration is queued."
    if backfill_started:
        message += " The initial backfill has started."
    elif not ramp_ready:
        message += " Enter the Ramp API client next."
    flash(request, message, kind="success")


async def start_backfill_if_available(
    db: AsyncConnection, connection_id: int, now: datetime
) -> bool:
    """Start the initial backfill in this transaction; False when one is already running."""
    return (await start_backfill(db, connection_id, now)).started


def routes(admin: Admin) -> list[Route]:
    return [
        Route("/connect/freshbooks", guard(admin, start), methods=["GET"]),
        Route("/oauth/freshbooks/callback", guard(admin, callback), methods=["GET"]),
        Route(
            "/connections/{connection_id:int}/freshbooks/business",
            guard(admin, choose_page),
            methods=["GET"],
        ),
        Route(
            "/connections/{connection_id:int}/freshbooks/business",
            guard(admin, choose),
            methods=["POST"],
        ),
    ]


__all__ = ["CHOICES_KEY", "PENDING_KEY", "STATE_TTL", "routes", "start_backfill_if_available"]
