"""`ml-connector status`: connections, the queue, and what needs a person."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ml_connector.cli.context import (
    ConnectionOption,
    JsonOption,
    open_runtime,
    resolve_connection,
    run,
)
from ml_connector.cli.errors import ExitCode
from ml_connector.cli.output import Output
from ml_connector.queue import JobState, list_jobs, stats
from ml_connector.store import connections as connections_store
from ml_connector.store import credentials as credentials_store
from ml_connector.store import read, token_key
from ml_connector.store.connections import ConnectionStatus
from ml_connector.sync.runtime import RAMP_CLIENT_ID, RAMP_CLIENT_SECRET, Runtime

PROBLEM_STATES = (JobState.ATTENTION, JobState.DEAD)


async def collect_status(
    runtime: Runtime, connection_id: int | None, *, problem_limit: int
) -> dict[str, Any]:
    """Everything `status` shows, as plain data (also what `--json` prints)."""
    now = runtime.clock()
    async with read(runtime.engine) as db:
        if connection_id is None:
            connections = await connections_store.list_all(db)
        else:
            connections = [await connections_store.get(db, connection_id)]
        kinds = {c.id: await credentials_store.kinds(db, connection_id=c.id) for c in connections}
        queue = await stats(db, now=now)
        problems = await list_jobs(
            db, states=PROBLEM_STATES, connection_id=connection_id, limit=problem_limit
        )
    rows: list[dict[str, Any]] = []
    for c in connections:
        fb_tokens = await runtime.token_store.load(token_key("freshbooks", c.id))
        rows.append(
            {
                "id": c.id,
                "name": c.name,
                "status": c.status,
                "reason": c.status_reason,
                "freshbooks_account_id": c.freshbooks_account_id,
                "freshbooks_authorized": fb_tokens is not None,
                "ramp_business_id": c.ramp_business_id,
                "ramp_entity_id": c.ramp_entity_id,
                "ramp_client_stored": {RAMP_CLIENT_ID, RAMP_CLIENT_SECRET} <= set(kinds[c.id]),
                "due_jobs": queue.due_by_connection.get(c.id, 0),
            }
        )
    return {
        "now": now,
        "connections": rows,
        "queue": {
            "by_state": queue.by_state,
            "by_kind": queue.by_kind,
            "oldest_due_seconds": round(queue.oldest_due_seconds, 1),
        },
        "needs_attention": [
            {
                "job_id": job.id,
                "state": job.state,
                "kind": job.kind,
                "connection_id": job.connection_id,
                "object": job.args.get("fb_id"),
                "attempts": job.attempts,
                "reason": job.last_error,
                "finalized_at": job.finalized_at,
            }
            for job in problems
        ],
    }


def status(
    ctx: typer.Context,
    *,
    connection: ConnectionOption = None,
    json_output: JsonOption = False,
    limit: Annotated[int, typer.Option(help="Jobs needing attention to list.")] = 20,
    check: Annotated[
        bool,
        typer.Option("--check", help="Exit 1 when a connection or a job needs a person."),
    ] = False,
) -> None:
    """Connections, queue counts, and the jobs waiting for a person."""
    out = Output(json_mode=json_output)

    async def work() -> dict[str, Any]:
        async with open_runtime(ctx) as runtime:
            connection_id = None
            if connection is not None:
                connection_id = (await resolve_connection(runtime, connection)).id
            return await collect_status(runtime, connection_id, problem_limit=limit)

    data = run(out, work)
    unhealthy = bool(data["needs_attention"]) or any(
        c["status"] not in (ConnectionStatus.ACTIVE, ConnectionStatus.PAUSED)
        for c in data["connections"]
    )
    if json_output:
        out.emit_json(data)
    else:
        render_status(out, data)
    if check and unhealthy:
        raise typer.Exit(ExitCode.FAILED)


def render_status(out: Output, data: dict[str, Any]) -> None:
    if not data["connections"]:
        out.say("no connections yet: `ml-connector connect ramp --connection NAME --client-id ID`")
    else:
        out.table(
            ["id", "connection", "status", "FreshBooks", "Ramp", "due jobs", "reason"],
            [
                (
                    c["id"],
                    c["name"],
                    c["status"],
                    c["freshbooks_account_id"] if c["freshbooks_authorized"] else "not authorized",
                    (c["ramp_business_id"] or "stored")
                    if c["ramp_client_stored"]
                    else "no API client",
                    c["due_jobs"],
                    c["reason"],
                )
                for c in data["connections"]
            ],
            title="Connections",
        )
    by_state = data["queue"]["by_state"]
    out.say("")
    out.table(
        ["state", "jobs"],
        [(state, by_state.get(state.value, 0)) for state in JobState],
        title="Queue",
    )
    if data["queue"]["oldest_due_seconds"]:
        out.say(f"oldest due job has waited {data['queue']['oldest_due_seconds']} s")
    if data["needs_attention"]:
        out.say("")
        out.table(
            ["job", "state", "kind", "object", "attempts", "reason"],
            [
                (p["job_id"], p["state"], p["kind"], p["object"], p["attempts"], p["reason"])
                for p in data["needs_attention"]
            ],
            title="Needs attention (fix the cause, then `ml-connector replay JOB…`)",
        )


__all__ = ["collect_status", "render_status", "status"]
