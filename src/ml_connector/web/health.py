"""`/healthz` (can this process do its job?) and `/metrics` (Prometheus text format).

`/healthz` answers 200 only when the database answers and its schema is at the revision
this build expects, and 503 otherwise, with the reason and the queue depth as JSON so an
operator sees at a glance why. `/metrics` refreshes the database-derived gauges (queue
depth and age, token expiry horizons) before rendering, so every process reports the
shared state.
"""

from __future__ import annotations

from typing import Any

import anyio
import structlog
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ml_connector import metrics
from ml_connector.queue import stats
from ml_connector.store import connections as connections_store
from ml_connector.store import migrate, read, token_key
from ml_connector.sync.freshness import refresh_metrics as refresh_freshness
from ml_connector.web.deps import AppDeps

log = structlog.get_logger(__name__)


async def migrations_current(deps: AppDeps) -> bool:
    """True when the database is at this build's head revision (checked off the event loop)."""
    url = deps.runtime.engine.url
    return await anyio.to_thread.run_sync(migrate.is_up_to_date, url)


async def health_report(deps: AppDeps) -> tuple[bool, dict[str, Any]]:
    """(healthy, report) — the report is what `/healthz` shows."""
    runtime = deps.runtime
    report: dict[str, Any] = {"database": "ok", "migrations": "unknown"}
    try:
        async with read(runtime.engine) as db:
            queue = await stats(db, now=runtime.clock())
    except Exception as exc:
        log.warning("healthz.database_unreachable", error=type(exc).__name__)
        report["database"] = f"unreachable ({type(exc).__name__})"
        return False, report
    report["queue"] = {
        "by_state": dict(sorted(queue.by_state.items())),
        "due": sum(queue.due_by_connection.values()),
        "oldest_due_seconds": round(queue.oldest_due_seconds, 3),
    }
    try:
        current = await migrations_current(deps)
    except Exception as exc:
        log.warning("healthz.migration_check_failed", error=type(exc).__name__)
        report["migrations"] = f"unknown ({type(exc).__name__})"
        return False, report
    report["migrations"] = "current" if current else "not current: run `ml-connector migrate`"
    return current, report


async def healthz(request: Request) -> Response:
    healthy, report = await health_report(request.app.state.deps)
    report["status"] = "ok" if healthy else "unhealthy"
    return JSONResponse(report, status_code=200 if healthy else 503)


async def refresh_gauges(deps: AppDeps) -> None:
    """Queue depth/age and token horizons from the database, into the gauges."""
    runtime = deps.runtime
    now = runtime.clock()
    async with read(runtime.engine) as db:
        queue = await stats(db, now=now)
        connections = await connections_store.list_all(db)
    metrics.set_queue_depth(queue.by_state, queue.oldest_due_seconds)
    await refresh_freshness(runtime)
    for connection in connections:
        for system in ("freshbooks", "ramp"):
            tokens = await runtime.token_store.load(token_key(system, connection.id))
            if tokens is not None:
                horizon = (tokens.expires_at - now).total_seconds()
                metrics.set_token_expiry(system, connection.id, horizon)


async def metrics_endpoint(request: Request) -> Response:
    try:
        await refresh_gauges(request.app.state.deps)
    except Exception as exc:
        log.warning("metrics.refresh_failed", error=type(exc).__name__)
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


def health_routes() -> list[Route]:
    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
    ]


__all__ = ["health_report", "health_routes", "healthz", "metrics_endpoint", "refresh_gauges"]
