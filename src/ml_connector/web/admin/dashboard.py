"""The sync dashboard: queue depth, failures, freshness and recent activity."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ml_connector.queue import JobState, list_jobs, stats
from ml_connector.store import audit, read
from ml_connector.store import connections as connections_store
from ml_connector.store.connections import Connection
from ml_connector.sync.freshness import DASHBOARD_WINDOW, recent_freshness
from ml_connector.web.admin.context import Admin, guard
from ml_connector.web.admin.reconcile import last_reports

ACTIVITY_WINDOW = timedelta(days=7)
RECENT = 30


@dataclass(frozen=True)
class Freshness:
    connection: Connection
    last_activity: datetime | None
    due: int
    attention: int


async def page(admin: Admin, request: Request) -> Response:
    now = admin.now()
    async with read(admin.engine) as db:
        queue = await stats(db, now=now)
        connections = await connections_store.list_all(db)
        recent = await audit.between(db, start=now - ACTIVITY_WINDOW, end=now + timedelta(seconds=1), limit=5000)  # fmt: skip
        failures = await list_jobs(db, states=[JobState.ATTENTION, JobState.DEAD], limit=10)
        retrying = await list_jobs(db, states=[JobState.RETRYABLE], limit=10)
        attention_by_connection: dict[int | None, int] = {}
        for job in await list_jobs(db, states=[JobState.ATTENTION, JobState.DEAD], limit=10_000):
            key = job.connection_id
            attention_by_connection[key] = attention_by_connection.get(key, 0) + 1
    last: dict[int | None, datetime] = {}
    for entry in recent:
        last[entry.connection_id] = entry.at
    freshness = [
        Freshness(
            connection=c,
            last_activity=last.get(c.id),
            due=queue.due_by_connection.get(c.id, 0),
            attention=attention_by_connection.get(c.id, 0),
        )
        for c in connections
    ]
    window = await recent_freshness(admin.runtime, now=now)
    pipeline = [(c, window.get(c.id)) for c in connections]
    return admin.render(
        request,
        "admin/dashboard.html",
        pipeline=pipeline,
        pipeline_days=DASHBOARD_WINDOW.days,
        queue=queue,
        states=[s.value for s in JobState],
        freshness=freshness,
        recent=list(reversed(recent))[:RECENT],
        failures=failures,
        retrying=retrying,
        now=now,
        reconcile_last=await last_reports(admin),
    )


def routes(admin: Admin) -> list[Route]:
    return [Route("/", guard(admin, page), methods=["GET"])]


__all__ = ["routes"]
