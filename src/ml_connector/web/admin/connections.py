"""Connections: list, create, health and token timeline, pause/resume, Ramp entity.

Secrets are never rendered: the page shows which credential kinds are stored and when
tokens expire, never a value.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ml_connector.core.errors import ConnectorError
from ml_connector.store import audit, read, token_key
from ml_connector.store import connections as connections_store
from ml_connector.store import credentials as credentials_store
from ml_connector.store.connections import Connection, ConnectionNotFoundError, ConnectionStatus
from ml_connector.sync.runtime import RAMP_CLIENT_ID, RAMP_CLIENT_SECRET
from ml_connector.sync.setup import setup_connection
from ml_connector.web.admin import live
from ml_connector.web.admin.context import Admin, current_user, flash, form_fields, guard, redirect
from ml_connector.web.admin.flow import current_flow

CONNECTION_OBJECT = "connection"
"""Audit object type for connection-level events (authorized, credentials, status)."""


@dataclass(frozen=True)
class TokenView:
    system: str
    stored: bool
    expires_at: datetime | None = None
    expired: bool = False
    version: int = 0
    scope: str | None = None
    has_refresh_token: bool = False


async def record_event(
    admin: Admin, request: Request, connection_id: int, step: str, detail: dict[str, Any]
) -> None:
    async with admin.engine.begin() as db:
        await audit.append(
            db,
            object_type=CONNECTION_OBJECT,
            step=step,
            at=admin.now(),
            actor=f"admin:{current_user(request) or 'unknown'}",
            connection_id=connection_id,
            fb_id=str(connection_id),
            detail=detail,
        )


async def load_connection(admin: Admin, request: Request) -> Connection | None:
    try:
        connection_id = int(request.path_params["connection_id"])
    except (KeyError, ValueError):
        return None
    try:
        return await admin.runtime.connection(connection_id)
    except ConnectionNotFoundError:
        return None


def not_found(admin: Admin, request: Request) -> Response:
    return admin.render(
        request,
        "admin/error.html",
        status=404,
        title="No such connection",
        message="That connection does not exist (it may have been removed).",
    )


async def _tokens(admin: Admin, connection: Connection) -> list[TokenView]:
    views = []
    now = admin.now()
    for system in ("freshbooks", "ramp"):
        tokens = await admin.runtime.token_store.load(token_key(system, connection.id))
        if tokens is None:
            views.append(TokenView(system=system, stored=False))
            continue
        views.append(
            TokenView(
                system=system,
                stored=True,
                expires_at=tokens.expires_at,
                expired=tokens.expires_at <= now,
                version=tokens.version,
                scope=tokens.scope,
                has_refresh_token=bool(tokens.refresh_token),
            )
        )
    return views


async def list_page(admin: Admin, request: Request) -> Response:
    async with read(admin.engine) as db:
        items = await connections_store.list_all(db)
    return admin.render(request, "admin/connections.html", connections=items)


async def create(admin: Admin, request: Request) -> Response:
    name = (await form_fields(request)).get("name", "").strip()
    if not name or len(name) > 200:
        flash(request, "Give the connection a name (up to 200 characters).", kind="error")
        return redirect("/connections")
    async with admin.engine.begin() as db:
        if await connections_store.find_by_name(db, name) is not None:
            flash(request, f"A connection named {name!r} already exists.", kind="error")
            return redirect("/connections")
        connection = await connections_store.create(db, name=name, now=admin.now())
    await record_event(admin, request, connection.id, "connection.created", {"name": name})
    flash(request, f"Connection {name!r} created. Next: connect FreshBooks and enter Ramp.")
    return redirect(f"/connections/{connection.id}")


async def detail(admin: Admin, request: Request) -> Response:
    connection = await load_connection(admin, request)
    if connection is None:
        return not_found(admin, request)
    async with read(admin.engine) as db:
        kinds = await credentials_store.kinds(db, connection_id=connection.id)
        events = await audit.for_fb_object(
            db, fb_id=str(connection.id), object_type=CONNECTION_OBJECT, connection_id=connection.id
        )
    has_ramp = RAMP_CLIENT_ID in kinds and RAMP_CLIENT_SECRET in kinds
    entities = await live.ramp_entities(admin.runtime, connection) if has_ramp else None
    flow = await current_flow(admin.runtime, connection.id)
    return admin.render(
        request,
        "admin/connection.html",
        connection=connection,
        credential_kinds=kinds,
        has_ramp=has_ramp,
        tokens=await _tokens(admin, connection),
        events=list(reversed(events))[:50],
        entities=entities,
        flow=flow,
        statuses=ConnectionStatus,
    )


async def set_status(admin: Admin, request: Request) -> Response:
    connection = await load_connection(admin, request)
    if connection is None:
        return not_found(admin, request)
    action = (await form_fields(request)).get("action")
    if action == "pause":
        status, reason = ConnectionStatus.PAUSED, "Paused from the admin UI"
    elif action == "resume":
        if connection.freshbooks_account_id is None:
            flash(request, "Connect FreshBooks before resuming.", kind="error")
            return redirect(f"/connections/{connection.id}")
        status, reason = ConnectionStatus.ACTIVE, None
    else:
        flash(request, "Unknown action.", kind="error")
        return redirect(f"/connections/{connection.id}")
    async with admin.engine.begin() as db:
        await connections_store.set_status(
            db, connection.id, status, now=admin.now(), reason=reason
        )
    await record_event(admin, request, connection.id, f"connection.{action}d", {})
    flash(request, f"Connection {connection.name!r} is now {status.value}.")
    return redirect(f"/connections/{connection.id}")


async def set_entity(admin: Admin, request: Request) -> Response:
    connection = await load_connection(admin, request)
    if connection is None:
        return not_found(admin, request)
    entity_id = (await form_fields(request)).get("entity_id", "").strip()
    entities = await live.ramp_entities(admin.runtime, connection)
    known = dict(entities.value or [])
    if entity_id not in known:
        flash(request, entities.error or "Choose one of the Ramp entities listed.", kind="error")
        return redirect(f"/connections/{connection.id}")
    async with admin.engine.begin() as db:
        await connections_store.update(db, connection.id, now=admin.now(), ramp_entity_id=entity_id)
    await record_event(
        admin, request, connection.id, "ramp.entity_chosen", {"entity_id": entity_id}
    )
    flash(request, f"Bills will belong to the Ramp entity {known[entity_id]!r}.")
    return redirect(f"/connections/{connection.id}")


async def run_setup(admin: Admin, request: Request) -> Response:
    connection = await load_connection(admin, request)
    if connection is None:
        return not_found(admin, request)
    try:
        await setup_connection(admin.runtime, connection.id, accept_suggestions=True)
    except ConnectorError as exc:
        flash(request, f"Setup stopped: {exc}", kind="error")
        return redirect(f"/connections/{connection.id}")
    await record_event(admin, request, connection.id, "connection.setup", {})
    flash(request, "Setup finished: review the suggested mapping before syncing.")
    return redirect(f"/connections/{connection.id}/mappings")


def routes(admin: Admin) -> list[Route]:
    return [
        Route("/connections", guard(admin, list_page), methods=["GET"]),
        Route("/connections", guard(admin, create), methods=["POST"]),
        Route("/connections/{connection_id:int}", guard(admin, detail), methods=["GET"]),
        Route(
            "/connections/{connection_id:int}/status", guard(admin, set_status), methods=["POST"]
        ),
        Route(
            "/connections/{connection_id:int}/entity", guard(admin, set_entity), methods=["POST"]
        ),
        Route("/connections/{connection_id:int}/setup", guard(admin, run_setup), methods=["POST"]),
    ]


__all__ = ["CONNECTION_OBJECT", "load_connection", "not_found", "record_event", "routes"]
