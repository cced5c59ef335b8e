"""The needs-attention inbox: parked and dead jobs with their reasons, replay one or many.

Replay puts the chosen jobs back in the queue (`queue.replay`) with fresh attempts and
records who replayed them and whether with the current mapping or the one they first
used. Replaying is safe to repeat: handlers are idempotent and write intents guard the
Ramp side.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ml_connector.queue import Job, JobState, list_jobs, replay
from ml_connector.store import connections as connections_store
from ml_connector.store import read
from ml_connector.sync.kinds import OBJECT_KINDS, Kind
from ml_connector.web.admin.context import (
    Admin,
    current_user,
    flash,
    form_fields,
    form_list,
    guard,
    redirect,
)

PAGE_SIZE = 200
STATES = (JobState.ATTENTION, JobState.DEAD)
_MAX_BULK = 1000


@dataclass(frozen=True)
class Row:
    job: Job
    object_type: str | None
    fb_id: str | None


def _row(job: Job) -> Row:
    try:
        object_type = OBJECT_KINDS.get(Kind(job.kind))
    except ValueError:
        object_type = None
    fb_id = job.args.get("fb_id")
    return Row(job=job, object_type=object_type, fb_id=str(fb_id) if fb_id is not None else None)


async def page(admin: Admin, request: Request) -> Response:
    raw = request.query_params.get("connection", "")
    connection_id = int(raw) if raw.isdigit() else None
    state = request.query_params.get("state", "")
    states = [JobState(state)] if state in {s.value for s in STATES} else list(STATES)
    async with read(admin.engine) as db:
        jobs = await list_jobs(db, states=states, connection_id=connection_id, limit=PAGE_SIZE)
        connections = await connections_store.list_all(db)
    return admin.render(
        request,
        "admin/attention.html",
        rows=[_row(j) for j in jobs],
        connections=connections,
        names={c.id: c.name for c in connections},
        connection_id=connection_id,
        state=state,
        states=[s.value for s in STATES],
        page_size=PAGE_SIZE,
    )


async def replay_jobs(admin: Admin, request: Request) -> Response:
    fields = await form_fields(request)
    back = "/attention"
    if fields.get("return_to", "").startswith("/attention?"):
        back = fields["return_to"]
    only = fields.get("only", "")
    if only.isdigit():
        # A row's own Replay button replays that job alone, whatever else is ticked.
        ids = [int(only)]
    else:
        ids = sorted({int(v) for v in await form_list(request, "job_id") if v.isdigit()})
    if not ids:
        flash(request, "Select at least one job to replay.", kind="error")
        return redirect(back)
    if len(ids) > _MAX_BULK:
        flash(request, f"Replay at most {_MAX_BULK} jobs at once.", kind="error")
        return redirect(back)
    mapping: Literal["current", "original"] = (
        "original" if fields.get("mapping") == "original" else "current"
    )
    async with admin.engine.begin() as db:
        replayed = await replay(
            db,
            now=admin.now(),
            actor=f"admin:{current_user(request) or 'admin'}",
            job_ids=ids,
            states=STATES,
            mapping=mapping,
        )
    skipped = len(ids) - len(replayed)
    message = f"Replayed {len(replayed)} job(s) with the {mapping} mapping."
    if skipped:
        message += f" {skipped} were no longer waiting for attention and were left alone."
    flash(request, message, kind="success" if replayed else "error")
    return redirect(back)


def routes(admin: Admin) -> list[Route]:
    return [
        Route("/attention", guard(admin, page), methods=["GET"]),
        Route("/attention/replay", guard(admin, replay_jobs), methods=["POST"]),
    ]


__all__ = ["routes"]
