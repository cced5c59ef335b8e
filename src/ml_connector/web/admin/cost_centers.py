"""Cost-center rules: ordered, first match per field wins (see `core.cost_centers`).

Rules are added at the end, moved up or down, or removed; the required fields are one
comma-separated list. Every change is validated as a whole document and saved as a
new mapping version.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ml_connector.core.flow_config import (
    CostCenterRuleEntry,
    CostCentersSection,
    CostCenterWhen,
    FlowConfig,
)
from ml_connector.store.connections import Connection
from ml_connector.web.admin.connections import load_connection, not_found
from ml_connector.web.admin.context import (
    Admin,
    current_user,
    flash,
    form_fields,
    guard,
    redirect,
)
from ml_connector.web.admin.flow import InvalidConfigError, current_flow, revalidate, save_flow

WHEN_KINDS = ("category", "vendor", "staff", "client", "project")


def split_list(text: str) -> tuple[str, ...]:
    """`"a, b,,c"` → `("a", "b", "c")`: the form's way to enter several values."""
    return tuple(part.strip() for part in text.split(",") if part.strip())


async def page(admin: Admin, request: Request) -> Response:
    connection = await load_connection(admin, request)
    if connection is None:
        return not_found(admin, request)
    flow = await current_flow(admin.runtime, connection.id)
    return admin.render(
        request, "admin/cost_centers.html", connection=connection, flow=flow, when_kinds=WHEN_KINDS
    )


async def _save(
    admin: Admin,
    request: Request,
    *,
    connection: Connection,
    config: FlowConfig,
    section: CostCentersSection,
    what: str,
) -> Response:
    back = f"/connections/{connection.id}/cost-centers"
    try:
        updated = revalidate(config, cost_centers=section)
    except InvalidConfigError as exc:
        flash(request, f"Not saved: {exc}", kind="error")
        return redirect(back)
    version = await save_flow(
        admin.runtime,
        connection.id,
        updated,
        author=current_user(request) or "admin",
        comment=f"Cost-center rules: {what}",
    )
    flash(
        request, f"Cost-center rules saved ({what}) as version {version.version}.", kind="success"
    )
    return redirect(back)


async def _context(admin: Admin, request: Request) -> tuple[Connection, FlowConfig] | Response:
    connection = await load_connection(admin, request)
    if connection is None:
        return not_found(admin, request)
    flow = await current_flow(admin.runtime, connection.id)
    if flow.config is None:
        flash(request, "There is no valid flow configuration to edit yet.", kind="error")
        return redirect(f"/connections/{connection.id}/mappings")
    return connection, flow.config


async def add_rule(admin: Admin, request: Request) -> Response:
    found = await _context(admin, request)
    if isinstance(found, Response):
        return found
    connection, config = found
    fields = await form_fields(request)
    try:
        rule = CostCenterRuleEntry(
            description=fields.get("description", ""),
            field=fields.get("field", ""),
            option=fields.get("option", ""),
            when=CostCenterWhen(**{k: split_list(fields.get(k, "")) for k in WHEN_KINDS}),
        )
    except ValueError as exc:
        flash(request, f"Not saved: {exc}", kind="error")
        return redirect(f"/connections/{connection.id}/cost-centers")
    section = config.cost_centers.model_copy(update={"rules": (*config.cost_centers.rules, rule)})
    return await _save(
        admin,
        request,
        connection=connection,
        config=config,
        section=section,
        what=f"added {rule.description!r}",
    )


async def change_rule(admin: Admin, request: Request) -> Response:
    found = await _context(admin, request)
    if isinstance(found, Response):
        return found
    connection, config = found
    fields = await form_fields(request)
    rules = list(config.cost_centers.rules)
    try:
        index = int(fields.get("index", "")) - 1
    except ValueError:
        index = -1
    action = fields.get("action")
    if not 0 <= index < len(rules) or action not in {"delete", "up", "down"}:
        flash(request, "That rule no longer exists; reload the page.", kind="error")
        return redirect(f"/connections/{connection.id}/cost-centers")
    rule = rules[index]
    if action == "delete":
        del rules[index]
    elif action == "up" and index > 0:
        rules[index - 1], rules[index] = rules[index], rules[index - 1]
    elif action == "down" and index < len(rules) - 1:
        rules[index + 1], rules[index] = rules[index], rules[index + 1]
    section = config.cost_centers.model_copy(update={"rules": tuple(rules)})
    return await _save(
        admin,
        request,
        connection=connection,
        config=config,
        section=section,
        what=f"{action} rule {rule.description!r}",
    )


async def set_required(admin: Admin, request: Request) -> Response:
    found = await _context(admin, request)
    if isinstance(found, Response):
        return found
    connection, config = found
    required = split_list((await form_fields(request)).get("required_fields", ""))
    section = config.cost_centers.model_copy(update={"required_fields": required})
    return await _save(
        admin,
        request,
        connection=connection,
        config=config,
        section=section,
        what="required fields",
    )


def routes(admin: Admin) -> list[Route]:
    base = "/connections/{connection_id:int}/cost-centers"
    return [
        Route(base, guard(admin, page), methods=["GET"]),
        Route(f"{base}/rules", guard(admin, add_rule), methods=["POST"]),
        Route(f"{base}/rules/change", guard(admin, change_rule), methods=["POST"]),
        Route(f"{base}/required", guard(admin, set_required), methods=["POST"]),
    ]


__all__ = ["WHEN_KINDS", "routes", "split_list"]
