"""Enter a connection's Ramp API client, then check its scopes.

The client id and secret are stored encrypted (`store.credentials.put`) and never sent
back to the browser: the form always comes back empty and the page only says that a
client is stored. The scope check mints a fresh token, so a scope just added in Ramp is
seen, and each missing scope is shown with its remediation.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ml_connector.clients.ramp import MissingScope
from ml_connector.core.errors import ConnectorError
from ml_connector.store import connections as connections_store
from ml_connector.store import credentials as credentials_store
from ml_connector.store import token_key
from ml_connector.store.connections import Connection, ConnectionStatus
from ml_connector.sync.runtime import RAMP_CLIENT_ID, RAMP_CLIENT_SECRET
from ml_connector.web.admin.connections import load_connection, not_found, record_event
from ml_connector.web.admin.context import Admin, flash, form_fields, guard, redirect
from ml_connector.web.admin.oauth import start_backfill_if_available

_MAX_FIELD = 500


async def check_scopes(admin: Admin, connection: Connection) -> list[MissingScope] | str:
    """Missing scopes (empty when all is well), or why the check could not run."""
    try:
        async with await admin.runtime.ramp_client(connection) as ramp:
            return await ramp.check_scopes()
    except ConnectorError as exc:
        return str(exc)


async def save_credentials(admin: Admin, request: Request) -> Response:
    connection = await load_connection(admin, request)
    if connection is None:
        return not_found(admin, request)
    fields = await form_fields(request)
    client_id = fields.get("client_id", "").strip()
    client_secret = fields.get("client_secret", "").strip()
    business_id = fields.get("business_id", "").strip()
    if not client_id or not client_secret:
        flash(request, "Enter both the Ramp client ID and the client secret.", kind="error")
        return redirect(f"/connections/{connection.id}")
    if max(len(client_id), len(client_secret), len(business_id)) > _MAX_FIELD:
        flash(request, "That value is too long to be a Ramp credential.", kind="error")
        return redirect(f"/connections/{connection.id}")
    now = admin.now()
    async with admin.engine.begin() as db:
        for kind, value in ((RAMP_CLIENT_ID, client_id), (RAMP_CLIENT_SECRET, client_secret)):
            await credentials_store.put(
                db,
                admin.runtime.cipher,
                connection_id=connection.id,
                kind=kind,
                secret=value,
                now=now,
            )
        if business_id:
            connection = await connections_store.update(
                db, connection.id, now=now, ramp_business_id=business_id
            )
    # A token minted for the previous client must not outlive it.
    await admin.runtime.token_store.forget(token_key("ramp", connection.id))
    await record_event(admin, request, connection.id, "ramp.credentials_saved", {})
    return await _report_scopes(admin, request, connection, activate=True)


async def recheck(admin: Admin, request: Request) -> Response:
    connection = await load_connection(admin, request)
    if connection is None:
        return not_found(admin, request)
    return await _report_scopes(admin, request, connection, activate=False)


async def _report_scopes(
    admin: Admin, request: Request, connection: Connection, *, activate: bool
) -> Response:
    result = await check_scopes(admin, connection)
    if isinstance(result, str):
        await record_event(admin, request, connection.id, "ramp.check_failed", {"error": result})
        flash(request, f"Ramp credentials stored, but the check failed: {result}", kind="error")
        return redirect(f"/connections/{connection.id}")
    await record_event(
        admin,
        request,
        connection.id,
        "ramp.scopes_checked",
        {"missing_scopes": [m.scope for m in result]},
    )
    if result:
        return admin.render(
            request,
            "admin/ramp_scopes.html",
            status=200,
            connection=connection,
            missing=result,
        )
    message = "Ramp API client accepted: every scope the connector needs is granted."
    if activate and connection.freshbooks_account_id is not None:
        now = admin.now()
        async with admin.engine.begin() as db:
            if connection.status is ConnectionStatus.PENDING:
                await connections_store.set_status(
                    db, connection.id, ConnectionStatus.ACTIVE, now=now
                )
            if await start_backfill_if_available(db, connection.id, now):
                message += " The initial backfill has started."
    flash(request, message, kind="success")
    return redirect(f"/connections/{connection.id}")


def routes(admin: Admin) -> list[Route]:
    return [
        Route(
            "/connections/{connection_id:int}/ramp",
            guard(admin, save_credentials),
            methods=["POST"],
        ),
        Route(
            "/connections/{connection_id:int}/ramp/check", guard(admin, recheck), methods=["POST"]
        ),
    ]


__all__ = ["check_scopes", "routes"]
