"""`ml-connector replay`: put dead or needs-attention jobs back in the queue."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import typer

from ml_connector.cli.actor import cli_actor
from ml_connector.cli.context import (
    ConnectionOption,
    JsonOption,
    open_runtime,
    resolve_connection,
    run,
)
from ml_connector.cli.errors import CliError, ExitCode
from ml_connector.cli.output import Output
from ml_connector.queue import JobState, list_jobs
from ml_connector.queue import replay as replay_jobs
from ml_connector.store import read

REPLAYABLE = {"dead": JobState.DEAD, "attention": JobState.ATTENTION}
BULK_LIMIT = 10_000


def replay(
    ctx: typer.Context,
    job_ids: Annotated[
        list[int] | None, typer.Argument(metavar="[JOB]...", help="Job ids (see `status`).")
    ] = None,
    *,
    kind: Annotated[str | None, typer.Option(help="Every replayable job of this kind.")] = None,
    connection: ConnectionOption = None,
    state: Annotated[
        list[str] | None,
        typer.Option(help="Which finished jobs: dead, attention (default: both)."),
    ] = None,
    mapping: Annotated[
        str, typer.Option(help="Mapping to use: 'current' (newest) or 'original'.")
    ] = "current",
    all_jobs: Annotated[
        bool, typer.Option("--all", help="Every replayable job (with the filters given).")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List, do not replay.")] = False,
    json_output: JsonOption = False,
) -> None:
    """Replay jobs by id, or in bulk by --kind / --connection / --all."""
    out = Output(json_mode=json_output)
    if mapping not in ("current", "original"):
        raise typer.BadParameter("use 'current' or 'original'", param_hint="--mapping")
    unknown = [s for s in state or () if s not in REPLAYABLE]
    if unknown:
        raise typer.BadParameter(f"unknown state {unknown[0]!r}: use dead or attention")
    states = [REPLAYABLE[s] for s in state] if state else list(REPLAYABLE.values())
    chosen_mapping: Literal["current", "original"] = (
        "original" if mapping == "original" else "current"
    )

    async def work() -> dict[str, Any]:
        if not job_ids and kind is None and connection is None and not all_jobs:
            raise CliError(
                "say which jobs to replay",
                code=ExitCode.USAGE,
                hint="give job ids, --kind KIND, --connection NAME, or --all",
            )
        async with open_runtime(ctx) as runtime:
            connection_id = None
            if connection is not None:
                connection_id = (await resolve_connection(runtime, connection)).id
            async with read(runtime.engine) as db:
                candidates = await list_jobs(
                    db, states=states, kind=kind, connection_id=connection_id, limit=BULK_LIMIT
                )
            if job_ids:
                wanted = set(job_ids)
                candidates = [j for j in candidates if j.id in wanted]
                missing = sorted(wanted - {j.id for j in candidates})
                if missing and not candidates:
                    raise CliError(
                        f"no replayable job among {', '.join(map(str, missing))}",
                        code=ExitCode.NOT_FOUND,
                        hint="only dead or needs-attention jobs can be replayed; see `status`",
                    )
            else:
                missing = []
            listed = [
                {"job_id": j.id, "kind": j.kind, "state": j.state, "reason": j.last_error}
                for j in sorted(candidates, key=lambda j: j.id)
            ]
            if dry_run or not candidates:
                return {"replayed": [], "would_replay": listed, "not_replayable": missing}
            async with runtime.engine.begin() as db:
                done = await replay_jobs(
                    db,
                    now=runtime.clock(),
                    actor=cli_actor(),
                    job_ids=[j.id for j in candidates],
                    states=states,
                    mapping=chosen_mapping,
                )
        return {"replayed": done, "would_replay": [], "not_replayable": missing}

    result = run(out, work)
    if json_output:
        out.emit_json(result)
    elif dry_run:
        out.table(
            ["job", "kind", "state", "reason"],
            [(j["job_id"], j["kind"], j["state"], j["reason"]) for j in result["would_replay"]],
            title=f"{len(result['would_replay'])} job(s) would be replayed",
        )
    else:
        out.say(f"replayed {len(result['replayed'])} job(s) with the {mapping} mapping")
    for job_id in result["not_replayable"]:
        out.warn(f"job {job_id} is not dead or waiting for attention; left alone")


__all__ = ["replay"]
