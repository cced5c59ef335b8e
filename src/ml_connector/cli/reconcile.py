"""`ml-connector reconcile`: the month-end report of FreshBooks against Ramp, and heal.

Read-only unless `--heal` is given; heal first prints the dry-run diff of each re-push and
asks (or takes `--yes`). Bills edited in Ramp by hand are listed and never re-pushed.
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from ml_connector.cli.actor import cli_actor
from ml_connector.cli.context import (
    ConnectionOption,
    JsonOption,
    open_runtime,
    resolve_connection,
    run,
)
from ml_connector.cli.errors import CliError, ExitCode, guard
from ml_connector.cli.output import Output
from ml_connector.cli.plan import action_view
from ml_connector.core.reconcile import Period, Report, report_document
from ml_connector.sync.reconcile import (
    HealOutcome,
    HealPreview,
    default_period,
    heal,
    preview_heal,
    run_report,
    store_report,
)

CSV_COLUMNS = (
    "status",
    "fb_id",
    "ramp_id",
    "vendor",
    "issued_at",
    "currency",
    "freshbooks_amount",
    "ramp_amount",
    "healable",
    "reason",
    "differences",
    "audit",
)


def choose_period(period: str | None, start: str | None, end: str | None, today: date) -> Period:
    """`--period YYYY-MM`, or `--from` and `--to` (ISO dates); default the month being closed."""
    try:
        if period is not None:
            if start is not None or end is not None:
                raise CliError("give --period or --from/--to, not both", code=ExitCode.USAGE)
            return Period.month(period)
        if start is not None or end is not None:
            if start is None or end is None:
                raise CliError("--from and --to go together", code=ExitCode.USAGE)
            return Period(date.fromisoformat(start), date.fromisoformat(end))
    except ValueError as exc:
        raise CliError(str(exc), code=ExitCode.USAGE, hint="e.g. --period 2026-10") from exc
    return default_period(today)


def write_csv(path: Path, document: dict[str, Any]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for entry in document["entries"]:
            row = {k: entry.get(k) for k in CSV_COLUMNS}
            row["differences"] = "; ".join(
                f"{d['field']}: FreshBooks {d['freshbooks']} / Ramp {d['ramp']}"
                for d in entry["differences"]
            )
            writer.writerow(row)


def render(out: Output, report: Report, document: dict[str, Any]) -> None:
    out.say(f"Reconciliation of {report.period.label} (bills by issue date)")
    counts = document["counts"]
    out.say(", ".join(f"{n} {status.replace('_', ' ')}" for status, n in counts.items()))
    rows = [
        (
            e["status"], e["fb_id"], e["ramp_id"], e["vendor"], e["currency"],
            e["freshbooks_amount"], e["ramp_amount"], "yes" if e["healable"] else "", e["reason"],
        )
        for e in document["entries"]
    ]  # fmt: skip
    if rows:
        out.table(
            ("status", "FreshBooks", "Ramp", "vendor", "cur", "FreshBooks amt", "Ramp amt",
             "heal", "why"),
            rows, title="Differences and objects waiting for review",
        )  # fmt: skip
    disagree = [t for t in report.totals if not t.agrees]
    out.table(
        ("dimension", "key", "cur", "FreshBooks n", "FreshBooks", "Ramp n", "Ramp", "Δ"),
        [
            (t.dimension, t.label, t.currency, t.freshbooks_count, t.freshbooks_amount,
             t.ramp_count, t.ramp_amount, t.difference)
            for t in report.totals if t.dimension == "month" or not t.agrees
        ],
        title="Totals (per month, and every row that disagrees)",
    )  # fmt: skip
    verdict = (
        "no differences" if not report.differences else f"{len(report.differences)} difference(s)"
    )
    out.say(
        f"{verdict}; {len(disagree)} total row(s) disagree; audit: `ml-connector audit bill:ID`"
    )


def reconcile(
    ctx: typer.Context,
    *,
    connection: ConnectionOption = None,
    period: Annotated[str | None, typer.Option(help="A month: YYYY-MM.")] = None,
    start: Annotated[
        str | None, typer.Option("--from", help="First issue date (YYYY-MM-DD).")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last issue date (YYYY-MM-DD).")] = None,
    csv_file: Annotated[
        Path | None, typer.Option("--csv", help="Also write the differences to this CSV file.")
    ] = None,
    do_heal: Annotated[
        bool, typer.Option("--heal", help="Re-push FreshBooks-side differences (after a dry run).")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="With --heal: do not ask.")] = False,
    json_output: JsonOption = False,
) -> None:
    """FreshBooks vs Ramp for a period: counts and totals, orphans, drift, reviews.

    Read-only unless --heal: heal re-pushes what changed in FreshBooks (showing the dry-run
    diff first) and leaves bills edited in Ramp by hand flagged, never overwritten.
    """
    out = Output(json_mode=json_output)

    async def work() -> tuple[Report, dict[str, Any], list[HealPreview], HealOutcome | None]:
        async with open_runtime(ctx) as runtime:
            conn = await resolve_connection(runtime, connection)
            chosen = choose_period(period, start, end, runtime.clock().date())
            report = await run_report(runtime, conn.id, chosen)
            document = await store_report(runtime, conn.id, report, source=cli_actor())
            if not do_heal:
                return report, document, [], None
            previews = await preview_heal(runtime, conn.id, report)
            _show_previews(out, previews)
            if not previews:
                return report, document, previews, None
            if not yes and (json_output or not typer.confirm(f"Re-push {len(previews)} bill(s)?")):
                raise CliError("heal not confirmed; nothing was re-pushed", hint="add --yes")
            outcome = await heal(
                runtime, conn.id, chosen, [p.fb_id for p in previews], requested_by=cli_actor()
            )
            return report, document, previews, outcome

    with guard(out.err):
        report, document, previews, outcome = run(out, work)
        if csv_file is not None:
            write_csv(csv_file, document)
    if json_output:
        payload = dict(report_document(report))
        if do_heal:
            payload["heal"] = {
                "preview": [
                    {"fb_id": p.fb_id, "reason": p.reason,
                     "actions": [action_view(a) for a in p.actions]}
                    for p in previews
                ],
                "enqueued": [] if outcome is None else [
                    {"fb_id": f, "job_id": j} for f, j in outcome.enqueued
                ],
                "refused": [] if outcome is None else [
                    {"fb_id": f, "reason": r} for f, r in outcome.refused
                ],
            }  # fmt: skip
        out.emit_json(payload)
        return
    render(out, report, document)
    if outcome is not None:
        for fb_id, job_id in outcome.enqueued:
            out.say(f"re-push of FreshBooks bill {fb_id} queued (job {job_id})")
        for fb_id, why in outcome.refused:
            out.say(f"not re-pushed: FreshBooks bill {fb_id}: {why}")


def _show_previews(out: Output, previews: list[HealPreview]) -> None:
    if not previews:
        out.say("Nothing to heal: no FreshBooks-side differences.")
        return
    out.say("Heal would re-push (dry run):")
    for preview in previews:
        out.say(f"  FreshBooks bill {preview.fb_id}: {preview.reason}")
        for action in preview.actions:
            view = action_view(action)
            request = view.get("request")
            head = f"{request['method']} {request['path']}" if request else view["action"]
            out.say(f"    {view['action']:<16} {head} — {action.reason}")


__all__ = ["choose_period", "reconcile", "write_csv"]
