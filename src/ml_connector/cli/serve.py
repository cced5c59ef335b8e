"""`ml-connector serve` (web + in-process worker) and `ml-connector worker`."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer

from ml_connector.cli.context import open_runtime, run
from ml_connector.cli.output import Output
from ml_connector.cli.processes import WorkerOptions, run_server, run_worker
from ml_connector.cli.web_loader import web_app_builder
from ml_connector.logging import configure_logging

Concurrency = Annotated[int, typer.Option(min=1, help="Jobs run at the same time.")]
Poll = Annotated[float, typer.Option(min=0.01, help="Seconds between polls when idle.")]
Lease = Annotated[int, typer.Option(min=5, help="Seconds a claimed job stays leased.")]
NoScheduler = Annotated[
    bool, typer.Option("--no-scheduler", help="Do not enqueue periodic sweeps here.")
]
SweepMinutes = Annotated[int, typer.Option(min=1, help="Minutes between sweeps per connection.")]
RescueSeconds = Annotated[
    int, typer.Option(min=1, help="Seconds between checks for jobs of vanished workers.")
]
JsonLogs = Annotated[
    bool | None, typer.Option("--json-logs/--console-logs", help="Log format (default: auto).")
]


def serve(
    ctx: typer.Context,
    *,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    worker: Annotated[
        bool,
        typer.Option(
            "--worker/--no-worker",
            help="Run a worker in this process (the one-machine default).",
        ),
    ] = True,
    concurrency: Concurrency = 4,
    poll_interval: Poll = 1.0,
    lease: Lease = 300,
    no_scheduler: NoScheduler = False,
    sweep_minutes: SweepMinutes = 15,
    json_logs: JsonLogs = None,
) -> None:
    """Serve webhooks, the admin UI, /healthz and /metrics (and run jobs) until stopped."""
    build_app = web_app_builder()
    configure_logging(json=json_logs)
    out = Output()
    options = WorkerOptions(
        concurrency=concurrency,
        poll_interval=poll_interval,
        lease=timedelta(seconds=lease),
        scheduler=not no_scheduler,
        sweep_every=timedelta(minutes=sweep_minutes),
    )

    async def work() -> None:
        async with open_runtime(ctx) as runtime:
            app = build_app(runtime)
            out.note(
                f"serving http://{host}:{port} (public URL {runtime.settings.public_url})"
                + (" with an in-process worker" if worker else "")
            )
            await run_server(
                app,
                host=host,
                port=port,
                runtime=runtime,
                worker_options=options if worker else None,
            )

    run(out, work)


def worker(
    ctx: typer.Context,
    *,
    concurrency: Concurrency = 4,
    poll_interval: Poll = 1.0,
    lease: Lease = 300,
    rescue_seconds: RescueSeconds = 30,
    no_scheduler: NoScheduler = False,
    sweep_minutes: SweepMinutes = 15,
    json_logs: JsonLogs = None,
) -> None:
    """Run jobs from the shared database until SIGINT/SIGTERM (any number may run)."""
    configure_logging(json=json_logs)
    out = Output()
    options = WorkerOptions(
        concurrency=concurrency,
        poll_interval=poll_interval,
        lease=timedelta(seconds=lease),
        scheduler=not no_scheduler,
        sweep_every=timedelta(minutes=sweep_minutes),
        rescue_every=timedelta(seconds=rescue_seconds),
    )

    async def work() -> int:
        async with open_runtime(ctx) as runtime:
            done = await run_worker(runtime, options)
        return done.processed

    processed = run(out, work)
    out.note(f"worker stopped after {processed} job attempt(s)")


__all__ = ["serve", "worker"]
