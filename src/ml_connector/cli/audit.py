"""`ml-connector audit OBJECT`: one object's whole story, with its hash chain checked."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

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
from ml_connector.store import read
from ml_connector.store.audit import AuditEntry

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


__all__ = ["audit", "parse_object"]
