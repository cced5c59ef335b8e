"""`ml-connector sync`: backfill, sweep or one object now, with progress.

The work is enqueued like any other and run by an in-process worker until it is done
(`--no-wait` leaves it to the running workers). Other workers sharing the database may
take part; progress counts jobs, not which process ran them.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Annotated, Any

import anyio
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ml_connector.cli.context import (
    ConnectionOption,
    JsonOption,
    open_runtime,
    resolve_connection,
    run,
)
from ml_connector.cli.errors import CliError, ExitCode, guard
from ml_connector.cli.output import Output
from ml_connector.cli.plan import parse_syncable
from ml_connector.cli.processes import WorkerOptions, build_worker
from ml_connector.core.model import FreshBooksKind
from ml_connector.queue import FINAL, Job, JobState, get
from ml_connector.store import read
from ml_connector.sync.backfill import BackfillProgress, backfill_progress, start_backfill
from ml_connector.sync.kinds import Kind, Source, enqueue_object_sync
from ml_connector.sync.runtime import Runtime
from ml_connector.sync.sweep import enqueue_sweep, request_full_sweep

POLL_SECONDS = 0.5
_OBJECT_KINDS = {
    FreshBooksKind.VENDOR: Kind.SYNC_VENDOR,
    FreshBooksKind.BILL: Kind.SYNC_BILL,
    FreshBooksKind.EXPENSE: Kind.SYNC_EXPENSE,
}


def sync(
    ctx: typer.Context,
    *,
    connection: ConnectionOption = None,
    sweep: Annotated[
        bool, typer.Option("--sweep", help="Reconcile recent changes instead of a backfill.")
    ] = False,
    full: Annotated[
        bool, typer.Option("--full", help="With --sweep: a full pass, not only recent changes.")
    ] = False,
    object_ref: Annotated[
        str | None,
        typer.Option("--object", help="Sync one object: bill:ID, vendor:ID, expense:ID."),
    ] = None,
    restart: Annotated[
        bool, typer.Option("--restart", help="Start a new backfill run even if one is running.")
    ] = False,
    wait: Annotated[
        bool,
        typer.Option("--wait/--no-wait", help="Run the work here until done, with progress."),
    ] = True,
    concurrency: Annotated[int, typer.Option(min=1, help="Jobs run at the same time.")] = 4,
    json_output: JsonOption = False,
) -> None:
    """Backfill (or resume) a connection now; or --sweep, or one --object.

    Exit 0 when everything synced, 1 when some objects need attention (see `status`).
    """
    out = Output(json_mode=json_output)
    with guard(out.err):
        single = parse_syncable(object_ref) if object_ref else None
        if sum([sweep, single is not None]) > 1:
            raise CliError("choose one of --sweep or --object", code=ExitCode.USAGE)

    async def work() -> dict[str, Any]:
        async with open_runtime(ctx) as runtime:
            conn = await resolve_connection(runtime, connection)
            now = runtime.clock()
            async with runtime.engine.begin() as db:
                if single is not None:
                    fb_kind, fb_id = single
                    queued = await enqueue_object_sync(
                        db, kind=_OBJECT_KINDS[fb_kind], connection_id=conn.id, fb_id=fb_id,
                        source=Source.MANUAL, now=now,
                    )  # fmt: skip
                    job_id: int | None = queued.job_id
                    what = f"{fb_kind.value} {fb_id}"
                elif sweep:
                    enqueue = request_full_sweep if full else enqueue_sweep
                    job_id = (await enqueue(db, connection_id=conn.id, now=now)).job_id
                    what = "full sweep" if full else "sweep"
                else:
                    started = await start_backfill(db, conn.id, now, restart=restart)
                    job_id = None
                    what = f"backfill run {started.run}" + ("" if started.started else " (resumed)")
            result: dict[str, Any] = {"connection": conn.name, "work": what, "waited": wait}
            if not wait:
                return result
            options = WorkerOptions(concurrency=concurrency, poll_interval=0.2, scheduler=False)
            if job_id is None:
                final = await _run_backfill(runtime, conn.id, options, out)
                result["backfill"] = final
                result["failed"] = 0 if final is None else sum(c.failed for c in final.collections)
                result["stalled"] = final is not None and final.status == "stalled"
            else:
                job = await _run_job(runtime, job_id, options, out)
                result["job"] = {"id": job.id, "state": job.state, "reason": job.last_error}
                result["failed"] = 0 if job.state is JobState.COMPLETED else 1
                result["stalled"] = False
            return result

    result = run(out, work)
    if json_output:
        out.emit_json(result)
    else:
        _render(out, result)
    if result.get("stalled") or result.get("failed"):
        raise typer.Exit(ExitCode.FAILED)


async def _run_backfill(
    runtime: Runtime, connection_id: int, options: WorkerOptions, out: Output
) -> BackfillProgress | None:
    worker = build_worker(runtime, options)
    latest: BackfillProgress | None = None
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=out.err,
        transient=out.json_mode,
        disable=out.json_mode,
    ) as bar:
        task = bar.add_task("backfill: listing", total=None)
        async with anyio.create_task_group() as tg:
            tg.start_soon(worker.run)
            while True:
                latest = await backfill_progress(runtime, connection_id)
                if latest is not None:
                    bar.update(
                        task,
                        description=f"backfill: {latest.status}",
                        total=latest.total or None,
                        completed=latest.done,
                    )
                    if latest.finished or latest.status == "stalled":
                        break
                await anyio.sleep(POLL_SECONDS)
            worker.stop()
    return latest


async def _run_job(runtime: Runtime, job_id: int, options: WorkerOptions, out: Output) -> Job:
    worker = build_worker(runtime, options)
    with out.err.status(f"running job {job_id}…") if not out.json_mode else nullcontext():
        async with anyio.create_task_group() as tg:
            tg.start_soon(worker.run)
            while True:
                async with read(runtime.engine) as db:
                    job = await get(db, job_id)
                if job is None or job.state in FINAL:
                    break
                await anyio.sleep(POLL_SECONDS)
            worker.stop()
    if job is None:
        raise CliError(f"job {job_id} disappeared", code=ExitCode.NOT_FOUND)
    return job


def _render(out: Output, result: dict[str, Any]) -> None:
    if not result["waited"]:
        out.say(
            f"enqueued {result['work']} for {result['connection']!r}; running workers will "
            "process it (`ml-connector status` shows progress)"
        )
        return
    backfill: BackfillProgress | None = result.get("backfill")
    if backfill is not None:
        out.table(
            ["collection", "in FreshBooks", "synced", "needs attention", "superseded", "pending"],
            [
                (c.collection, c.total, c.synced, c.failed, c.superseded, c.pending)
                for c in backfill.collections
            ],
            title=f"{result['work']} for {result['connection']!r}: {backfill.status}",
        )
        if backfill.error:
            out.warn(f"the backfill stopped: {backfill.error}")
    job = result.get("job")
    if job is not None:
        out.say(
            f"{result['work']}: {job['state']}" + (f" — {job['reason']}" if job["reason"] else "")
        )
    if result.get("failed"):
        out.warn(
            f"{result['failed']} object(s) need attention: `ml-connector status`, fix, "
            "then `ml-connector replay`"
        )


__all__ = ["sync"]
