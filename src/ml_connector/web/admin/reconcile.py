"""Month-end reconciliation pages: a report per period, drill-down, and heal with a dry run.

`GET /reconcile` shows the last report drawn for a connection and period (the scheduled
job's, the CLI's or this page's); "Draw now" re-reads both systems (read-only, through the
rate budgets). Heal is two steps behind CSRF: a dry-run page listing the exact Ramp writes
per bill, then the confirmation that queues them. Bills edited in Ramp by hand are never
offered for heal.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ml_connector.core.errors import ConnectorError
from ml_connector.core.reconcile import DIMENSIONS, Period, Status
from ml_connector.store import connections as connections_store
from ml_connector.store import read, sync_state
from ml_connector.sync.reconcile import (
    LAST_KEY,
    default_period,
    heal,
    preview_heal,
    run_report,
    store_report,
    stored_report,
)
from ml_connector.web.admin.context import (
    Admin,
    current_user,
    flash,
    form_fields,
    form_list,
    guard,
    redirect,
)

STATUSES = [s.value for s in Status if s is not Status.MATCH]


def _period(text: str | None, admin: Admin) -> Period:
    if text:
        try:
            return Period.month(text)
        except ValueError:
            pass
    return default_period(admin.now().date())


async def _connection_id(admin: Admin, raw: str | None) -> tuple[int | None, list[Any]]:
    async with read(admin.engine) as db:
        connections = await connections_store.list_all(db)
    ids = {c.id for c in connections}
    chosen = int(raw) if raw and raw.isdigit() and int(raw) in ids else None
    if chosen is None and connections:
        chosen = connections[0].id
    return chosen, connections


def _url(connection_id: int | None, period: Period) -> str:
    return f"/reconcile?connection={connection_id or ''}&period={period.start.strftime('%Y-%m')}"


async def page(admin: Admin, request: Request) -> Response:
    params = request.query_params
    period = _period(params.get("period"), admin)
    connection_id, connections = await _connection_id(admin, params.get("connection"))
    status = params.get("status") or ""
    document = (
        await stored_report(admin.runtime, connection_id, period)
        if connection_id is not None
        else None
    )
    entries = [] if document is None else [
        e for e in document["entries"] if not status or e["status"] == status
    ]  # fmt: skip
    dimension = params.get("dimension") or "month"
    if dimension not in DIMENSIONS:
        dimension = "month"
    totals = [] if document is None else [
        t for t in document["totals"] if t["dimension"] == dimension
    ]  # fmt: skip
    return admin.render(
        request,
        "admin/reconcile.html",
        connections=connections,
        connection_id=connection_id,
        period=period,
        period_value=period.start.strftime("%Y-%m"),
        document=document,
        entries=entries,
        status_filter=status,
        statuses=STATUSES,
        dimension=dimension,
        dimensions=DIMENSIONS,
        totals=totals,
        previews=None,
    )


async def draw(admin: Admin, request: Request) -> Response:
    fields = await form_fields(request)
    period = _period(fields.get("period"), admin)
    connection_id, _ = await _connection_id(admin, fields.get("connection"))
    if connection_id is None:
        flash(request, "No connection to reconcile.", kind="error")
        return redirect("/reconcile")
    try:
        report = await run_report(admin.runtime, connection_id, period)
    except ConnectorError as exc:
        flash(request, f"The report could not be drawn: {exc}", kind="error")
        return redirect(_url(connection_id, period))
    await store_report(
        admin.runtime, connection_id, report, source=f"admin:{current_user(request)}"
    )
    flash(request, f"Report drawn: {len(report.differences)} difference(s), "
          f"{len(report.waiting)} waiting for review.")  # fmt: skip
    return redirect(_url(connection_id, period))


async def heal_preview(admin: Admin, request: Request) -> Response:
    fields = await form_fields(request)
    period = _period(fields.get("period"), admin)
    connection_id, connections = await _connection_id(admin, fields.get("connection"))
    if connection_id is None:
        return redirect("/reconcile")
    report = await run_report(admin.runtime, connection_id, period)
    previews = await preview_heal(admin.runtime, connection_id, report)
    return admin.render(
        request,
        "admin/reconcile.html",
        connections=connections,
        connection_id=connection_id,
        period=period,
        period_value=period.start.strftime("%Y-%m"),
        document=await store_report(
            admin.runtime, connection_id, report, source=f"admin:{current_user(request)}"
        ),
        entries=[],
        status_filter="",
        statuses=STATUSES,
        dimension="month",
        dimensions=DIMENSIONS,
        totals=[],
        previews=previews,
    )


async def heal_confirm(admin: Admin, request: Request) -> Response:
    fields = await form_fields(request)
    period = _period(fields.get("period"), admin)
    connection_id, _ = await _connection_id(admin, fields.get("connection"))
    fb_ids = await form_list(request, "fb_id")
    if connection_id is None or not fb_ids:
        flash(request, "Nothing selected to heal.", kind="error")
        return redirect(_url(connection_id, period))
    outcome = await heal(
        admin.runtime, connection_id, period, fb_ids,
        requested_by=f"admin:{current_user(request)}",
    )  # fmt: skip
    for fb_id, why in outcome.refused:
        flash(request, f"FreshBooks bill {fb_id} was not re-pushed: {why}", kind="error")
    flash(request, f"{len(outcome.enqueued)} bill(s) queued for re-push; draw the report again "
          "once the worker has run them.")  # fmt: skip
    return redirect(_url(connection_id, period))


async def last_reports(admin: Admin) -> dict[int, dict[str, Any]]:
    """Each connection's last report (the dashboard's reconciliation block)."""
    async with read(admin.engine) as db:
        return await sync_state.get_many(db, LAST_KEY)


def routes(admin: Admin) -> list[Route]:
    return [
        Route("/reconcile", guard(admin, page), methods=["GET"]),
        Route("/reconcile/draw", guard(admin, draw), methods=["POST"]),
        Route("/reconcile/heal", guard(admin, heal_preview), methods=["POST"]),
        Route("/reconcile/heal/confirm", guard(admin, heal_confirm), methods=["POST"]),
    ]


__all__ = ["last_reports", "routes"]
