"""Mapping-change impact in the admin UI: preview the affected objects, then confirm.

`Preview impact` on the GL editor or the whole-file editor posts the proposed mapping
here; the page lists how many synced objects it changes and, per object, each Ramp field
before and after, plus what the re-push will do (or why it will be parked). Confirming
saves the exact text previewed, against the version previewed (a save in between makes
it refuse), and re-pushes those objects.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ml_connector.core.errors import ConnectorError
from ml_connector.core.flow_config import dump_flow_config
from ml_connector.sync.impact import StaleMappingError, apply_mapping_change, preview_impact
from ml_connector.web.admin import live
from ml_connector.web.admin.connections import load_connection, not_found
from ml_connector.web.admin.context import Admin, current_user, flash, form_fields, redirect
from ml_connector.web.admin.flow import InvalidConfigError, current_flow, parse_text, revalidate


async def preview(admin: Admin, request: Request) -> Response:
    """Compute the impact of the posted GL form or whole file, without saving anything."""
    # Imported here: `mappings` imports this module for its routes.
    from ml_connector.web.admin.mappings import merge_gl

    connection = await load_connection(admin, request)
    if connection is None:
        return not_found(admin, request)
    back = f"/connections/{connection.id}/mappings"
    flow = await current_flow(admin.runtime, connection.id)
    fields = await form_fields(request)
    try:
        if "document" in fields:
            config = parse_text(fields["document"])
        else:
            if flow.config is None:
                raise InvalidConfigError("there is no valid flow configuration to edit yet")
            categories = await live.freshbooks_categories(admin.runtime, connection)
            accounts = await live.ramp_gl_accounts(admin.runtime, connection)
            if categories.value is None or accounts.value is None:
                raise InvalidConfigError(categories.error or accounts.error or "lookup failed")
            gl = merge_gl(flow.config.gl, categories.value, accounts.value, fields)
            config = revalidate(flow.config, gl=gl)
        text = dump_flow_config(config)
        report = await preview_impact(admin.runtime, connection.id, text)
    except InvalidConfigError as exc:
        flash(request, f"Not previewed: {exc}", kind="error")
        return redirect(back)
    except ConnectorError as exc:
        flash(request, f"Could not compute the impact: {exc}", kind="error")
        return redirect(back)
    return admin.render(
        request,
        "admin/mapping_impact.html",
        connection=connection,
        report=report,
        text=text,
        comment=(fields.get("comment") or "").strip()[:500],
        unchanged=flow.config == config,
    )


async def apply(admin: Admin, request: Request) -> Response:
    """Save the previewed text and re-push what it changes."""
    connection = await load_connection(admin, request)
    if connection is None:
        return not_found(admin, request)
    back = f"/connections/{connection.id}/mappings"
    fields = await form_fields(request)
    expected = fields.get("expected_version", "")
    try:
        parse_text(fields.get("document", ""))
        applied = await apply_mapping_change(
            admin.runtime,
            connection.id,
            fields.get("document", ""),
            author=current_user(request) or "admin",
            comment=fields.get("comment") or "Mapping change confirmed after its impact preview",
            expected_version=int(expected) if expected.isdigit() else None,
        )
    except (InvalidConfigError, StaleMappingError) as exc:
        flash(request, f"Not saved: {exc}", kind="error")
        return redirect(back)
    except ConnectorError as exc:
        flash(request, f"Not saved: could not compute the impact: {exc}", kind="error")
        return redirect(back)
    count = applied.report.count
    flash(
        request,
        f"Flow configuration saved as version {applied.version.version}; "
        f"re-pushing {count} synced object(s) it changes.",
        kind="success",
    )
    return redirect(back)


__all__ = ["apply", "preview"]
