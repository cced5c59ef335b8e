"""The long-running pieces `serve`, `worker`, `sync` and the demo share.

A worker process is the queue's `Worker` over a registry of every job kind, plus the
`Scheduler` that enqueues periodic sweeps and webhook checks. The registry is composed
here from the three sync-layer registration functions.
"""

from __future__ import annotations

import gc
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import anyio
import uvicorn

from ml_connector.queue import Registry, Worker
from ml_connector.sync.audit_maintenance import ensure_scheduled, register_audit_maintenance
from ml_connector.sync.backfill import register_backfill_handlers
from ml_connector.sync.connect import register_connect_handlers
from ml_connector.sync.handlers import register_sync_handlers
from ml_connector.sync.reconcile import register_reconcile_handlers
from ml_connector.sync.runtime import Runtime
from ml_connector.sync.scheduler import Scheduler

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def build_registry(runtime: Runtime) -> Registry:
    """Every job kind the product runs: object syncs, connect/webhook jobs, backfill,
    sweep, the scheduled reconciliation report and audit maintenance (checkpoints,
    webhook-body retention)."""
    registry = Registry()
    register_sync_handlers(registry, runtime)
    register_connect_handlers(registry, runtime)
    register_backfill_handlers(registry, runtime)
    register_reconcile_handlers(registry, runtime)
    register_audit_maintenance(registry, runtime)
    return registry


@dataclass(frozen=True, kw_only=True)
class WorkerOptions:
    concurrency: int = 4
    poll_interval: float = 1.0
    lease: timedelta = timedelta(minutes=5)
    shutdown_grace: float = 30.0
    scheduler: bool = True
    sweep_every: timedelta = timedelta(minutes=15)
    rescue_every: timedelta = timedelta(seconds=30)


def build_worker(runtime: Runtime, options: WorkerOptions) -> Worker:
    return Worker(
        runtime.engine,
        build_registry(runtime),
        clock=runtime.clock,
        concurrency=options.concurrency,
        poll_interval=options.poll_interval,
        lease=options.lease,
        shutdown_grace=options.shutdown_grace,
        rescue_every=options.rescue_every,
    )


class _QuietServer(uvicorn.Server):
    """uvicorn without its own signal handlers: the process stops web and worker together."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def _stop_on_signals(stop: Callable[[], None], scope: anyio.CancelScope) -> None:
    with anyio.open_signal_receiver(*STOP_SIGNALS) as signals:
        async for _ in signals:
            stop()
            scope.cancel()
            return


async def run_worker(runtime: Runtime, options: WorkerOptions) -> Worker:
    """Serve jobs until SIGINT/SIGTERM; running jobs get the grace period to finish."""
    worker = build_worker(runtime, options)
    scheduler = Scheduler(runtime, sweep_every=options.sweep_every) if options.scheduler else None
    if scheduler is not None:
        # The maintenance job reschedules itself; seeding it again is absorbed.
        await ensure_scheduled(runtime)

    def stop() -> None:
        worker.stop()
        if scheduler is not None:
            scheduler.stop()

    async with anyio.create_task_group() as tg:
        watcher = anyio.CancelScope()

        async def watch() -> None:
            with watcher:
                await _stop_on_signals(stop, watcher)

        tg.start_soon(watch)
        if scheduler is not None:
            tg.start_soon(scheduler.run)
        await worker.run()
        watcher.cancel()
    return worker


async def run_server(
    app: Any,
    *,
    host: str,
    port: int,
    runtime: Runtime | None = None,
    worker_options: WorkerOptions | None = None,
    log_level: str = "info",
) -> None:
    """Serve `app` (and, with a runtime and options, an in-process worker) until a signal."""
    config = uvicorn.Config(
        app, host=host, port=port, log_level=log_level, lifespan="on", access_log=False
    )
    server = _QuietServer(config)
    worker = (
        build_worker(runtime, worker_options)
        if runtime is not None and worker_options is not None
        else None
    )
    scheduler = (
        Scheduler(runtime, sweep_every=worker_options.sweep_every)
        if runtime is not None and worker_options is not None and worker_options.scheduler
        else None
    )

    def stop() -> None:
        server.should_exit = True
        if worker is not None:
            worker.stop()
        if scheduler is not None:
            scheduler.stop()

    async with anyio.create_task_group() as tg:
        watcher = anyio.CancelScope()

        async def watch() -> None:
            with watcher:
                await _stop_on_signals(stop, watcher)

        tg.start_soon(watch)
        if worker is not None:
            tg.start_soon(worker.run)
        if scheduler is not None:
            tg.start_soon(scheduler.run)
        # Everything built so far (modules, app, engine) lives as long as the process:
        # keep it out of the collector's full passes, which otherwise walk it every few
        # thousand allocations and stall whatever requests are in flight.
        gc.collect()
        gc.freeze()
        await server.serve()
        # The server stopped (signal, or it failed to bind): take the rest down with it.
        stop()
        watcher.cancel()


__all__ = ["WorkerOptions", "build_registry", "build_worker", "run_server", "run_worker"]
