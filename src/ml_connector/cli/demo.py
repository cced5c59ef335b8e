"""`ml-connector demo`: the whole flow against the emulators, in one process, on SQLite."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import anyio
import typer
import uvicorn

from ml_connector.cli.context import JsonOption
from ml_connector.cli.errors import ExitCode, guard
from ml_connector.cli.output import Output
from ml_connector.cli.processes import WorkerOptions, run_server
from ml_connector.cli.web_loader import web_app_builder
from ml_connector.logging import configure_logging
from ml_connector.sync.demo import DemoSummary, DemoWorld, continue_in_real_time, run_demo

DELIVERY_INTERVAL = 1.0


def demo(
    *,
    serve: Annotated[
        bool, typer.Option("--serve", help="Keep running afterwards, for a browser.")
    ] = False,
    json_output: JsonOption = False,
    data_dir: Annotated[
        Path, typer.Option(help="Where the demo database goes (recreated each run).")
    ] = Path("./data/demo"),
    scenario: Annotated[
        str, typer.Option(help="Seed data: services-firm or empty.")
    ] = "services-firm",
    port: Annotated[int, typer.Option(help="With --serve: the connector's port.")] = 8000,
    freshbooks_port: Annotated[int, typer.Option(help="With --serve: FreshBooks emulator.")] = 8101,
    ramp_port: Annotated[int, typer.Option(help="With --serve: Ramp emulator.")] = 8102,
) -> None:
    """Connect, set up, register webhooks, backfill, then live changes — and report.

    Both emulators and the connector run in this process; the FreshBooks consent page is
    approved by the demo itself. Exit 0 when nothing was lost or duplicated.
    """
    out = Output(json_mode=json_output)
    configure_logging(json=True, level="ERROR" if not serve else "WARNING")
    build_web = web_app_builder()
    public_url = f"http://127.0.0.1:{port}"

    async def work() -> tuple[DemoWorld, DemoSummary]:
        return await run_demo(
            data_dir, build_web, out.say if not json_output else out.note,
            scenario=scenario, public_url=public_url,
        )  # fmt: skip

    with guard(out.err):
        world, summary = anyio.run(work)
    if json_output:
        out.emit_json({"ok": summary.ok, **_plain(summary)})
    else:
        render(out, summary)
    if not serve:
        if not summary.ok:
            raise typer.Exit(ExitCode.FAILED)
        return
    out.say("")
    out.say(f"serving the connector at {public_url}/ (user admin, password {world.admin_password})")
    out.say(
        f"FreshBooks emulator at http://127.0.0.1:{freshbooks_port}, Ramp emulator at "
        f"http://127.0.0.1:{ramp_port} — changes made there reach the connector by webhook. "
        "Ctrl-C stops."
    )
    with guard(out.err):
        anyio.run(_serve, world, port, freshbooks_port, ramp_port)


async def _serve(world: DemoWorld, port: int, freshbooks_port: int, ramp_port: int) -> None:
    continue_in_real_time(world)
    emulators = [
        uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=p, log_level="warning"))
        for app, p in ((world.freshbooks_app, freshbooks_port), (world.ramp_app, ramp_port))
    ]
    for server in emulators:
        server.install_signal_handlers = False  # type: ignore[attr-defined]

    async def deliver() -> None:
        while True:
            await world.deliver_webhooks()
            await anyio.sleep(DELIVERY_INTERVAL)

    async with anyio.create_task_group() as tg:
        for server in emulators:
            tg.start_soon(server.serve)
        tg.start_soon(deliver)
        await run_server(
            world.web_app,
            host="127.0.0.1",
            port=port,
            runtime=world.runtime,
            worker_options=WorkerOptions(poll_interval=0.2, scheduler=True),
            log_level="warning",
        )
        for server in emulators:
            server.should_exit = True
        tg.cancel_scope.cancel()


def _plain(summary: DemoSummary) -> dict[str, Any]:
    return {
        name: getattr(summary, name)
        for name in (
            "connection", "database", "steps", "setup", "backfill", "live", "jobs",
            "needs_attention", "counters", "timelines", "reconciliation", "problems",
        )
    }  # fmt: skip


def render(out: Output, summary: DemoSummary) -> None:
    out.say("")
    if summary.backfill:
        out.table(
            ["collection", "in FreshBooks", "synced", "needs attention", "superseded"],
            [
                (
                    b["collection"],
                    b["in_freshbooks"],
                    b["synced"],
                    b["needs_attention"],
                    b["superseded"],
                )
                for b in summary.backfill
            ],
            title="Backfill",
        )
    c = summary.counters
    out.say("")
    out.table(
        ["what", "count"],
        [
            ("Ramp bills created", c.get("ramp_bills_created")),
            ("Ramp vendors created", c.get("ramp_vendors_created")),
            ("duplicate bills / vendors in Ramp", f"{c.get('ramp_duplicate_bills')} / {c.get('ramp_duplicate_vendors')}"),
            ("Ramp 429s absorbed", c.get("ramp_rate_limited")),
            ("FreshBooks token refreshes (reuses)", f"{c.get('freshbooks_refreshes')} ({c.get('freshbooks_refresh_token_reuses')})"),
            *((f"jobs {state}", n) for state, n in summary.jobs.items()),
        ],
        title="Counts",
    )  # fmt: skip
    for timeline in summary.timelines:
        out.say("")
        out.table(
            ["#", "at", "step", "actor", "Ramp id"],
            [(e["seq"], e["at"], e["step"], e["actor"], e["ramp_id"]) for e in timeline["entries"]],
            title=f"Audit timeline of {timeline['object']}"
            + (" (chain intact)" if timeline["intact"] else " (CHAIN BROKEN)"),
        )
    if summary.needs_attention:
        out.say("")
        out.table(
            ["job", "kind", "object", "reason"],
            [(a["job_id"], a["kind"], a["object"], a["reason"]) for a in summary.needs_attention],
            title="Waiting for a person (by design: ambiguous or incomplete data is never guessed)",
        )
    if summary.reconciliation:
        out.say("")
        out.table(
            ["kind", "in FreshBooks", "in Ramp", "waiting for review", "skipped", "duplicates", "reconciles"],
            [
                (r["kind"], r["in_freshbooks"], r["in_ramp"], r["waiting_for_review"],
                 r["skipped"], r["duplicates"], "yes" if r["balanced"] else "NO")
                for r in summary.reconciliation
            ],
            title="Reconciliation: in FreshBooks = in Ramp + waiting for review + skipped",
        )  # fmt: skip
        for r in summary.reconciliation:
            out.say(r["equation"])
            for reason, n in r["skipped_reasons"].items():
                out.say(f"  skipped {n}: {reason}")
            for fb_id, why in r["unaccounted"].items():
                out.warn(f"  unaccounted {r['kind']} {fb_id}: {why}")
            for detail in r["duplicate_details"]:
                out.warn(f"  duplicate: {detail}")
    out.say("")
    if summary.ok:
        out.say("demo finished: nothing lost, nothing duplicated", style="bold green")
    else:
        for problem in summary.problems:
            out.warn(problem)


__all__ = ["demo"]
