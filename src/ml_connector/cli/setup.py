"""`ml-connector setup`: prepare Ramp for a connection and save a suggested mapping."""

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
from ml_connector.cli.output import Output
from ml_connector.sync.setup import SetupReport, setup_connection


def setup(
    ctx: typer.Context,
    *,
    connection: ConnectionOption = None,
    accept_suggestions: Annotated[
        bool,
        typer.Option(
            "--accept-suggestions/--exact-only",
            help="Also map categories to adopted GL accounts whose names match confidently.",
        ),
    ] = True,
    json_output: JsonOption = False,
) -> None:
    """Ensure Ramp's accounting connection, GL accounts and fields; save a suggested mapping.

    Safe to run again: what exists is kept, and a mapping someone edited is not replaced.
    """
    out = Output(json_mode=json_output)

    async def work() -> SetupReport:
        async with open_runtime(ctx) as runtime:
            conn = await resolve_connection(runtime, connection)
            return await setup_connection(runtime, conn.id, accept_suggestions=accept_suggestions)

    report = run(out, work)
    if json_output:
        view: dict[str, Any] = {
            "connection_id": report.connection_id,
            "accounting_connection_id": report.accounting_connection_id,
            "accounting_connection_created": report.accounting_connection_created,
            "chart": report.chart,
            "gl_accounts_uploaded": report.gl_accounts_uploaded,
            "gl_accounts_total": report.gl_accounts_total,
            "department_field_created": report.department_field_created,
            "department_options_uploaded": report.department_options_uploaded,
            "entity_id": report.entity_id,
            "vendor_owner_id": report.vendor_owner_id,
            "mapping_version": report.mapping_version,
            "mapping_saved": report.mapping_saved,
            "coverage_complete": report.coverage.complete,
        }
        out.emit_json(view)
    else:
        out.out.file.write(report.render() + "\n")


__all__ = ["setup"]
