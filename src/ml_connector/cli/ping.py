"""`ml-connector ping`: "see if we fit" — read-only checks of both systems."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ml_connector.cli.context import (
    ConnectionOption,
    JsonOption,
    open_runtime,
    resolve_connection,
    run,
)
from ml_connector.cli.errors import ExitCode
from ml_connector.cli.output import Output
from ml_connector.core.ping import Verdict
from ml_connector.sync.ping import PingReport, ping_connection

_STYLE = {
    Verdict.PASS: "[green]pass[/]",
    Verdict.WARN: "[yellow]warn[/]",
    Verdict.FAIL: "[bold red]fail[/]",
    Verdict.SKIP: "[dim]skip[/]",
}


def ping(
    ctx: typer.Context,
    *,
    connection: ConnectionOption = None,
    json_output: JsonOption = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit 1 on warnings too, not only failures.")
    ] = False,
) -> None:
    """Check both systems read-only: identity, access, scopes, GL accounts, mapping coverage.

    Exit 0 when nothing failed, 1 when a check failed (or warned, with --strict).
    """
    out = Output(json_mode=json_output)

    async def work() -> PingReport:
        async with open_runtime(ctx) as runtime:
            conn = await resolve_connection(runtime, connection)
            return await ping_connection(runtime, conn)

    report = run(out, work)
    if json_output:
        out.emit_json(
            {"connection": report.connection, "verdict": report.verdict, "checks": report.checks}
        )
    else:
        render(out, report)
    if report.verdict is Verdict.FAIL or (strict and report.verdict is Verdict.WARN):
        raise typer.Exit(ExitCode.FAILED)


def render(out: Output, report: PingReport) -> None:
    table = Table(
        title=f"ping: {report.connection}", title_justify="left", show_edge=False, pad_edge=False
    )
    for column in ("", "check", "ms", "result", "what to do"):
        table.add_column(column, overflow="fold")
    for check in report.checks:
        table.add_row(
            _STYLE[check.verdict],
            escape(check.title),
            "" if check.latency_ms is None else f"{check.latency_ms:g}",
            escape(check.detail),
            escape(check.fix) if check.verdict is not Verdict.PASS else "",
        )
    out.out.print(table)
    out.out.print(f"verdict: {_STYLE[report.verdict]}")


__all__ = ["ping"]
