"""`ml-connector connect ramp|freshbooks`: authorize a connection from the terminal.

Secrets never travel as plain arguments by default (they would land in shell history
and `ps`): the Ramp client secret comes from a file, `MLC_RAMP_CLIENT_SECRET`, or a
hidden prompt; `--client-secret` works but warns.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import SecretStr

from ml_connector.cli.context import ConnectionOption, JsonOption, open_runtime, run
from ml_connector.cli.errors import CliError, ExitCode, guard
from ml_connector.cli.output import Output
from ml_connector.clients.ramp import RampClient
from ml_connector.clients.tokens import InMemoryTokenStore
from ml_connector.core.errors import AuthError, MissingScopeError
from ml_connector.store import connections as connections_store
from ml_connector.store import credentials as credentials_store
from ml_connector.store import token_key
from ml_connector.store.connections import Connection, ConnectionStatus
from ml_connector.sync.connect import enqueue_register_webhooks
from ml_connector.sync.runtime import RAMP_CLIENT_ID, RAMP_CLIENT_SECRET, Runtime, ramp_budget_key

SECRET_ENV = "MLC_RAMP_CLIENT_SECRET"  # noqa: S105 - the variable's name

connect_app = typer.Typer(
    help="Authorize a connection's FreshBooks user or Ramp API client.", no_args_is_help=True
)


async def connection_for(runtime: Runtime, ref: str | None, *, create: bool) -> Connection:
    """The named connection; created (pending) when `create` and it does not exist."""
    async with runtime.engine.begin() as db:
        if ref is None:
            every = await connections_store.list_all(db)
            if len(every) == 1:
                return every[0]
            raise CliError(
                "name the connection" if every else "name the new connection",
                code=ExitCode.USAGE,
                hint="pass --connection NAME (a new name creates the connection)",
            )
        found = await connections_store.find_by_name(db, ref)
        if found is None and ref.isdigit():
            try:
                found = await connections_store.get(db, int(ref))
            except connections_store.ConnectionNotFoundError:
                found = None
        if found is not None:
            return found
        if not create:
            raise CliError(f"no connection named {ref!r}", code=ExitCode.NOT_FOUND)
        return await connections_store.create(db, name=ref, now=runtime.clock())


def read_secret(
    out: Output, *, secret_file: Path | None, secret_arg: str | None, interactive: bool
) -> SecretStr:
    """The Ramp client secret from the safest source given."""
    if secret_arg is not None:
        out.warn(
            "--client-secret leaves the secret in your shell history; prefer "
            f"--client-secret-file or {SECRET_ENV}"
        )
        value = secret_arg
    elif secret_file is not None:
        try:
            value = secret_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise CliError(
                f"cannot read {secret_file}: {exc.strerror}", code=ExitCode.CONFIG
            ) from None
    elif os.environ.get(SECRET_ENV):
        value = os.environ[SECRET_ENV].strip()
    elif interactive:
        value = str(typer.prompt("Ramp client secret", hide_input=True)).strip()
    else:
        raise CliError(
            "no Ramp client secret given",
            code=ExitCode.USAGE,
            hint=f"use --client-secret-file FILE or set {SECRET_ENV}",
        )
    if not value:
        raise CliError("the Ramp client secret is empty", code=ExitCode.USAGE)
    return SecretStr(value)


async def verify_ramp(
    runtime: Runtime, connection: Connection, client_id: str, secret: SecretStr
) -> dict[str, Any]:
    """Mint a token with the given client and list what it can reach; nothing is stored."""
    client = RampClient(
        client_id=client_id,
        client_secret=secret.get_secret_value(),
        token_store=InMemoryTokenStore(),
        token_key=f"ramp-check:{connection.id}",
        base_url=runtime.settings.ramp_api_base_url,
        transport=runtime.transports.ramp,
        clock=runtime.clock,
        rate_limiter=runtime.rate_limiter,
        rate_limit_key=ramp_budget_key(connection),
    )
    async with client:
        try:
            missing = await client.check_scopes()
        except AuthError as exc:
            if isinstance(exc, MissingScopeError):
                raise
            raise CliError(
                f"Ramp refused the client credentials: {exc}",
                code=ExitCode.AUTH,
                hint="copy the client id and secret again from Ramp → Settings → Developer",
            ) from None
        entities = (
            [e async for e in client.entities.list()]
            if not any(m.scope == "entities:read" for m in missing)
            else []
        )
    return {
        "missing_scopes": [{"scope": m.scope, "fix": m.remediation} for m in missing],
        "entities": [
            {"id": e.id, "name": e.entity_name, "primary": e.is_primary} for e in entities
        ],
    }


async def activate_if_ready(runtime: Runtime, connection_id: int) -> Connection:
    """ACTIVE once both sides are authorized; webhook registration is then queued."""
    fb_tokens = await runtime.token_store.load(token_key("freshbooks", connection_id))
    now = runtime.clock()
    async with runtime.engine.begin() as db:
        connection = await connections_store.lock(db, connection_id)
        kinds = await credentials_store.kinds(db, connection_id=connection_id)
        ready = (
            fb_tokens is not None
            and {RAMP_CLIENT_ID, RAMP_CLIENT_SECRET} <= set(kinds)
            and connection.freshbooks_account_id is not None
        )
        if not ready or connection.status is ConnectionStatus.PAUSED:
            return connection
        connection = await connections_store.set_status(
            db, connection_id, ConnectionStatus.ACTIVE, now=now
        )
        await enqueue_register_webhooks(db, connection_id=connection_id, now=now)
    return connection


@connect_app.command("ramp")
def connect_ramp(
    ctx: typer.Context,
    *,
    client_id: Annotated[
        str, typer.Option("--client-id", help="The Ramp API app's client id.", prompt=True)
    ],
    connection: ConnectionOption = None,
    client_secret_file: Annotated[
        Path | None,
        typer.Option("--client-secret-file", help="File holding the client secret."),
    ] = None,
    client_secret: Annotated[
        str | None,
        typer.Option("--client-secret", help="The secret itself (discouraged: shell history)."),
    ] = None,
    business_id: Annotated[
        str | None,
        typer.Option(
            help="Ramp business id, so connections to one business share its rate budget."
        ),
    ] = None,
    entity_id: Annotated[
        str | None, typer.Option(help="Ramp entity the bills belong to (default: chosen at setup).")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Store (encrypted) and check a connection's Ramp API client credentials.

    A new --connection name creates the connection. The credentials are checked (token,
    scopes, entities) before anything is stored.
    """
    out = Output(json_mode=json_output)
    with guard(out.err):
        secret = read_secret(
            out,
            secret_file=client_secret_file,
            secret_arg=client_secret,
            interactive=not json_output,
        )

    async def work() -> dict[str, Any]:
        async with open_runtime(ctx) as runtime:
            conn = await connection_for(runtime, connection, create=True)
            checked = await verify_ramp(runtime, conn, client_id, secret)
            now = runtime.clock()
            async with runtime.engine.begin() as db:
                await credentials_store.put(
                    db, runtime.cipher, connection_id=conn.id, kind=RAMP_CLIENT_ID,
                    secret=client_id, now=now,
                )  # fmt: skip
                await credentials_store.put(
                    db, runtime.cipher, connection_id=conn.id, kind=RAMP_CLIENT_SECRET,
                    secret=secret, now=now,
                )  # fmt: skip
                changes: dict[str, str | None] = {}
                if business_id:
                    changes["ramp_business_id"] = business_id
                if entity_id:
                    changes["ramp_entity_id"] = entity_id
                if changes:
                    await connections_store.update(db, conn.id, now=now, **changes)
            # A new client may mint different scopes: forget the old client's token.
            await runtime.token_store.forget(token_key("ramp", conn.id))
            conn = await activate_if_ready(runtime, conn.id)
        return {"connection": conn.name, "status": conn.status, **checked}

    result = run(out, work)
    if json_output:
        out.emit_json(result)
    else:
        out.say(f"Ramp API client stored for connection {result['connection']!r}")
        for entity in result["entities"]:
            primary = " (primary)" if entity["primary"] else ""
            out.say(f"  entity {entity['name']}{primary}: {entity['id']}")
        for missing in result["missing_scopes"]:
            out.warn(missing["fix"])
        out.say(f"status: {result['status']}")
    if result["missing_scopes"]:
        raise typer.Exit(ExitCode.AUTH)


@connect_app.command("freshbooks")
def connect_freshbooks(
    ctx: typer.Context,
    *,
    connection: ConnectionOption = None,
    code: Annotated[
        str | None,
        typer.Option(help="The `code` from the address FreshBooks sent you to after approval."),
    ] = None,
    account_id: Annotated[
        str | None,
        typer.Option(help="FreshBooks account id, when the user belongs to several businesses."),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Authorize a FreshBooks user: print the consent URL, or finish with --code.

    Without --code, open the printed URL, approve, and copy the `code` parameter from the
    address FreshBooks redirects to (or let `ml-connector serve` receive it).
    """
    out = Output(json_mode=json_output)

    async def work() -> dict[str, Any]:
        async with open_runtime(ctx) as runtime:
            conn = await connection_for(runtime, connection, create=code is None)
            fb = runtime.freshbooks_client(conn)
            async with fb:
                if code is None:
                    return {
                        "connection": conn.name,
                        "authorize_url": fb.authorization_url(state=f"cli-{conn.id}"),
                        "redirect_uri": runtime.freshbooks_redirect_uri,
                    }
                await fb.exchange_code(code.strip())
                refs = [b for b in await fb.businesses() if b.account_id]
            chosen = [b for b in refs if account_id in (None, b.account_id)]
            if len(chosen) != 1:
                listed = ", ".join(f"{b.account_id} ({b.name})" for b in refs) or "none"
                raise CliError(
                    "choose the FreshBooks business"
                    if chosen
                    else "no matching FreshBooks business",
                    code=ExitCode.USAGE if chosen else ExitCode.NOT_FOUND,
                    hint=f"pass --account-id, one of: {listed}",
                )
            business = chosen[0]
            async with runtime.engine.begin() as db:
                await connections_store.update(
                    db,
                    conn.id,
                    now=runtime.clock(),
                    freshbooks_account_id=business.account_id,
                    freshbooks_business_id=None
                    if business.business_id is None
                    else str(business.business_id),
                )
            conn = await activate_if_ready(runtime, conn.id)
            return {
                "connection": conn.name,
                "status": conn.status,
                "freshbooks_account_id": business.account_id,
                "business": business.name,
            }

    result = run(out, work)
    if json_output:
        out.emit_json(result)
        return
    if "authorize_url" in result:
        out.say(f"Open this URL as the FreshBooks user of {result['connection']!r} and approve:")
        out.say(result["authorize_url"])
        out.say("")
        out.say(
            f"FreshBooks then sends you to {result['redirect_uri']}?code=…; with "
            "`ml-connector serve` running that finishes by itself, otherwise run:"
        )
        out.say(f"  ml-connector connect freshbooks -c {result['connection']} --code CODE")
        return
    out.say(
        f"FreshBooks business {result['business']!r} ({result['freshbooks_account_id']}) "
        f"authorized for {result['connection']!r}; status: {result['status']}"
    )


__all__ = ["activate_if_ready", "connect_app", "connection_for", "read_secret", "verify_ramp"]
