"""`ml-connector audit`: one object's story, whole-trail verification, export, upkeep.

`audit OBJECT` (the default subcommand, spelled out as `audit show OBJECT`) prints one
object's chain; `audit verify` checks every chain and checkpoint and names the objects
whose history was touched; `audit export` writes a period for auditors as CSV or JSON
Lines and `audit check-export` re-verifies such a file offline; `audit checkpoint` runs
the periodic upkeep (checkpoint + webhook body retention) by hand.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import IO, Annotated, Any

import typer
from rich.markup import escape
from typer.core import TyperGroup

from ml_connector.cli.context import (
    ConnectionOption,
    JsonOption,
    open_runtime,
    resolve_connection,
    run,
)
from ml_connector.cli.errors import CliError, ExitCode, guard
from ml_connector.cli.output import Output, jsonable
from ml_connector.store import audit as audit_store
from ml_connector.store import audit_export, audit_verify, read
from ml_connector.store.audit import AuditEntry
from ml_connector.sync.audit_maintenance import DEFAULT_BODY_RETENTION, run_maintenance

ALIASES = {
    "bill": "bill",
    "bills": "bill",
    "vendor": "bill_vendor",
    "vendors": "bill_vendor",
    "bill_vendor": "bill_vendor",
    "expense": "expense",
    "expenses": "expense",
    "category": "category",
}


def parse_object(ref: str) -> tuple[str | None, str, bool]:
    """`bill:123` → ("bill", "123", FreshBooks); `ramp:<id>` or a bare id → a Ramp id."""
    kind, sep, ident = ref.partition(":")
    if not sep:
        return None, ref.strip(), False
    kind = kind.strip().lower()
    ident = ident.strip()
    if not ident:
        raise CliError(f"{ref!r} names no object id", code=ExitCode.USAGE)
    if kind == "ramp":
        return None, ident, False
    if kind not in ALIASES:
        raise CliError(
            f"unknown object type {kind!r}",
            code=ExitCode.USAGE,
            hint="use bill:ID, vendor:ID, expense:ID, category:ID or ramp:ID",
        )
    return ALIASES[kind], ident, True


def summarize(detail: Any, width: int = 110) -> str:
    text = json.dumps(jsonable(detail), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return text if len(text) <= width else text[: width - 1] + "…"


class _ShowByDefault(TyperGroup):
    """`audit bill:12` means `audit show bill:12`: the object form predates the subcommands."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["show", *args]
        return super().parse_args(ctx, args)


audit_app = typer.Typer(
    cls=_ShowByDefault,
    name="audit",
    help="The audit trail: one object's story, verification, export for auditors.",
    no_args_is_help=True,
)


@audit_app.command("show")
def audit(
    ctx: typer.Context,
    object_ref: Annotated[
        str,
        typer.Argument(
            metavar="OBJECT", help="bill:ID, vendor:ID, expense:ID (FreshBooks ids) or ramp:ID."
        ),
    ],
    *,
    connection: ConnectionOption = None,
    json_output: JsonOption = False,
) -> None:
    """Every recorded step for one object, oldest first; exit 1 if its chain is broken."""
    out = Output(json_mode=json_output)
    with guard(out.err):
        object_type, ident, is_freshbooks = parse_object(object_ref)

    async def work() -> tuple[list[AuditEntry], dict[str, list[str]]]:
        async with open_runtime(ctx) as runtime:
            connection_id = None
            if connection is not None:
                connection_id = (await resolve_connection(runtime, connection)).id
            async with read(runtime.engine) as db:
                if is_freshbooks:
                    entries = await audit_store.for_fb_object(
                        db, fb_id=ident, object_type=object_type, connection_id=connection_id
                    )
                else:
                    entries = await audit_store.for_ramp_id(
                        db, ramp_id=ident, connection_id=connection_id
                    )
                chains = sorted({e.chain for e in entries})
                problems = {chain: await audit_store.verify_chain(db, chain) for chain in chains}
        return entries, problems

    entries, problems = run(out, work)
    if not entries:
        out.err.print(f"no audit entries for {object_ref}")
        raise typer.Exit(ExitCode.NOT_FOUND)
    intact = not any(problems.values())
    if json_output:
        out.emit_json(
            {
                "object": object_ref,
                "intact": intact,
                "chains": [
                    {
                        "chain": chain,
                        "problems": chain_problems,
                        "entries": [e for e in entries if e.chain == chain],
                    }
                    for chain, chain_problems in problems.items()
                ],
            }
        )
    else:
        for chain, chain_problems in problems.items():
            rows = [e for e in entries if e.chain == chain]
            out.table(
                ["#", "at", "step", "actor", "Ramp id", "job", "detail"],
                [
                    (e.seq, e.at, e.step, e.actor, e.ramp_id, e.job_id, summarize(e.detail))
                    for e in rows
                ],
                title=f"{rows[0].object_type} {rows[0].fb_id or rows[0].ramp_id} ({chain})",
            )
            if chain_problems:
                for problem in chain_problems:
                    out.warn(f"chain {chain}: {problem}")
            else:
                out.note(f"chain intact: {len(rows)} entries, hashes verified")
    if not intact:
        raise typer.Exit(ExitCode.FAILED)


def _verify_json(report: audit_verify.VerifyReport) -> dict[str, Any]:
    return {
        "intact": report.intact,
        "chains": report.chains,
        "entries": report.entries,
        "checkpoints": report.checkpoints,
        "checkpointed_heads": report.heads_checked,
        "broken": [
            {
                "chain": chain,
                "object": None if subject is None else jsonable(subject),
                "problems": [p.reason for p in report.problems if p.chain == chain],
            }
            for chain in report.broken_chains
            for subject in [audit_verify.AuditProblem(chain=chain, reason="").subject]
        ],
    }


@audit_app.command("verify")
def verify(
    ctx: typer.Context,
    *,
    connection: ConnectionOption = None,
    json_output: JsonOption = False,
) -> None:
    """Check every chain and checkpoint; exit 1 naming each object whose history changed."""
    out = Output(json_mode=json_output)

    async def work() -> audit_verify.VerifyReport:
        async with open_runtime(ctx) as runtime:
            connection_id = None
            if connection is not None:
                connection_id = (await resolve_connection(runtime, connection)).id
            async with read(runtime.engine) as db:
                return await audit_verify.verify_all(db, connection_id=connection_id)

    report = run(out, work)
    if json_output:
        out.emit_json(_verify_json(report))
    else:
        for problem in report.problems:
            out.err.print(f"[red]broken:[/] {escape(str(problem))}")
        summary = (
            f"{report.chains} chains, {report.entries} entries, {report.checkpoints} checkpoints "
            f"({report.heads_checked} recorded heads) checked"
        )
        if report.intact:
            out.say(f"audit trail intact: {summary}")
        else:
            out.say(f"audit trail BROKEN in {len(report.broken_chains)} object(s): {summary}")
    if not report.intact:
        raise typer.Exit(ExitCode.FAILED)


def parse_day(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CliError(
            f"{option} {value!r} is not a date (YYYY-MM-DD)", code=ExitCode.USAGE
        ) from None


def export_window(start: str, end: str) -> tuple[datetime, datetime]:
    """`--from`/`--to` days (both inclusive) as the UTC instants [start, end)."""
    first = parse_day(start, "--from")
    last = parse_day(end, "--to")
    if last < first:
        raise CliError("--to is before --from", code=ExitCode.USAGE)
    return (
        datetime.combine(first, time.min, tzinfo=UTC),
        datetime.combine(last + timedelta(days=1), time.min, tzinfo=UTC),
    )


FORMATS = ("csv", "jsonl")


def _format_for(path: str, given: str | None) -> str:
    if given is not None:
        if given not in FORMATS:
            raise CliError(f"--format must be one of {', '.join(FORMATS)}", code=ExitCode.USAGE)
        return given
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix in FORMATS:
        return suffix
    if suffix in {"json", "ndjson"}:
        return "jsonl"
    raise CliError(
        f"cannot tell the format of {path!r}", code=ExitCode.USAGE, hint="pass --format csv|jsonl"
    )


FormatOption = Annotated[
    str | None,
    typer.Option("--format", help="csv or jsonl (default: from the file's extension)."),
]


@audit_app.command("export")
def export(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(metavar="FILE", help="Where to write ('-': stdout).")],
    *,
    start: Annotated[str, typer.Option("--from", help="First day (YYYY-MM-DD, UTC).")],
    end: Annotated[str, typer.Option("--to", help="Last day, inclusive (YYYY-MM-DD, UTC).")],
    fmt: FormatOption = None,
    connection: ConnectionOption = None,
) -> None:
    """Write a period's audit trail (every field and hash) as CSV or JSON Lines."""
    out = Output(json_mode=file == "-")
    with guard(out.err):
        window = export_window(start, end)
        chosen = _format_for(file, fmt) if file != "-" else (fmt or "jsonl")
        if chosen not in FORMATS:
            raise CliError(f"--format must be one of {', '.join(FORMATS)}", code=ExitCode.USAGE)

    async def work() -> list[AuditEntry]:
        async with open_runtime(ctx) as runtime:
            connection_id = None
            if connection is not None:
                connection_id = (await resolve_connection(runtime, connection)).id
            async with read(runtime.engine) as db:
                return [
                    e
                    async for e in audit_export.period(
                        db, start=window[0], end=window[1], connection_id=connection_id
                    )
                ]

    entries = run(out, work)
    writer = audit_export.write_csv if chosen == "csv" else audit_export.write_jsonl
    if file == "-":
        count = writer(entries, sys.stdout)
    else:
        with Path(file).open("w", encoding="utf-8", newline="") as handle:
            count = writer(entries, handle)
    out.note(
        f"exported {count} entries from {start} to {end} as {chosen}"
        + ("" if file == "-" else f" to {file}")
    )


def _read_export(handle: IO[str], fmt: str) -> list[AuditEntry]:
    reader = audit_export.read_csv if fmt == "csv" else audit_export.read_jsonl
    return list(reader(handle))


@audit_app.command("check-export")
def check_export(
    file: Annotated[Path, typer.Argument(metavar="FILE", exists=True, dir_okay=False)],
    *,
    fmt: FormatOption = None,
    json_output: JsonOption = False,
) -> None:
    """Re-verify an exported file offline: every hash and every in-period link."""
    out = Output(json_mode=json_output)
    with guard(out.err):
        chosen = _format_for(str(file), fmt)
        try:
            with file.open(encoding="utf-8", newline="") as handle:
                entries = _read_export(handle, chosen)
        except audit_export.ExportFormatError as exc:
            raise CliError(f"{file}: {exc}") from None
    problems = audit_export.check_export(entries)
    chains = {e.chain for e in entries}
    if json_output:
        out.emit_json(
            {
                "intact": not problems,
                "entries": len(entries),
                "chains": len(chains),
                "problems": [{"chain": p.chain, "problem": p.reason} for p in problems],
            }
        )
    else:
        for problem in problems:
            out.err.print(f"[red]broken:[/] {escape(str(problem))}")
        verdict = "intact" if not problems else "BROKEN"
        out.say(f"export {verdict}: {len(entries)} entries in {len(chains)} chains")
    if problems:
        raise typer.Exit(ExitCode.FAILED)


@audit_app.command("checkpoint")
def checkpoint(
    ctx: typer.Context,
    *,
    body_retention_days: Annotated[
        int,
        typer.Option(
            "--webhook-body-days",
            min=1,
            help="Also empty raw webhook bodies processed more than this many days ago.",
        ),
    ] = DEFAULT_BODY_RETENTION.days,
    json_output: JsonOption = False,
) -> None:
    """Checkpoint every chain's head now and apply webhook-body retention (the periodic job)."""
    out = Output(json_mode=json_output)

    async def work() -> Any:
        async with open_runtime(ctx) as runtime:
            return await run_maintenance(
                runtime, body_retention=timedelta(days=body_retention_days)
            )

    report = run(out, work)
    if json_output:
        out.emit_json(report)
        return
    if report.checkpoint_seq is None:
        out.say("no chain moved since the last checkpoint; none written")
    else:
        out.say(f"checkpoint {report.checkpoint_seq} written: {report.checkpoint_hash}")
        out.note("publish this hash outside the database to anchor the trail")
    out.say(f"{report.bodies_purged} webhook bodies purged (digests kept)")


__all__ = ["audit", "audit_app", "parse_object"]
