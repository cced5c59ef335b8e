"""Payment terms: per-vendor overrides and the policy for bills that disagree.

Terms text is parsed by `core.terms.parse_terms` (through the config model), so
"Net 30", "Due on receipt" or "2/10 Net 30" are accepted and anything else is refused
with the parser's reason.
"""

from __future__ import annotations

from typing import get_args

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ml_connector.core.flow_config import BillsSection, FlowConfig, VendorTerms
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

POLICIES = get_args(BillsSection.model_fields["terms_policy"].annotation)


async def page(admin: Admin, request: Request) -> Response:
    connection = await load_connection(admin, request)
    if connection is None:
        return not_found(admin, request)
    flow = await current_flow(admin.runtime, connection.id)
    return admin.render(
        request, "admin/terms.html", connection=connection, flow=flow, policies=POLICIES
    )


async def _save(
    admin: Admin, request: Request, connection_id: int, config: FlowConfig, what: str
) -> None:
    version = await save_flow(
        admin.runtime,
        connection_id,
        config,
        author=current_user(request) or "admin",
        comment=f"Terms: {what}",
    )
    flash(request, f"Terms saved ({what}) as version {version.version}.", kind="success")


async def change(admin: Admin, request: Request) -> Response:
    connection = await load_connection(admin, request)
    if connection is None:
        return not_found(admin, request)
    back = f"/connections/{connection.id}/terms"
    flow = await current_flow(admin.runtime, connection.id)
    if flow.config is None:
        flash(request, "There is no valid flow configuration to edit yet.", kind="error")
        return redirect(back)
    config = flow.config
    fields = await form_fields(request)
    action = fields.get("action")
    vendor = fields.get("vendor", "").strip()
    terms = [t for t in config.vendors.terms if t.vendor.casefold() != vendor.casefold()]
    try:
        if action == "set":
            terms.append(VendorTerms(vendor=vendor, terms=fields.get("terms", "")))
            updated = revalidate(
                config, vendors=config.vendors.model_copy(update={"terms": tuple(terms)})
            )
            what = f"{vendor} → {fields.get('terms', '').strip()}"
        elif action == "remove":
            updated = revalidate(
                config, vendors=config.vendors.model_copy(update={"terms": tuple(terms)})
            )
            what = f"{vendor} removed"
        elif action == "policy":
            bills = config.bills.model_copy(update={"terms_policy": fields.get("terms_policy", "")})
            updated = revalidate(config, bills=bills)
            what = f"policy {updated.bills.terms_policy}"
        else:
            flash(request, "Unknown action.", kind="error")
            return redirect(back)
    except (InvalidConfigError, ValueError) as exc:
        flash(request, f"Not saved: {exc}", kind="error")
        return redirect(back)
    if updated == config:
        flash(request, "Nothing changed.")
    else:
        await _save(admin, request, connection.id, updated, what)
    return redirect(back)


def routes(admin: Admin) -> list[Route]:
    base = "/connections/{connection_id:int}/terms"
    return [
        Route(base, guard(admin, page), methods=["GET"]),
        Route(base, guard(admin, change), methods=["POST"]),
    ]


__all__ = ["routes"]
