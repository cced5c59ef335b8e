"""Helpers shared by the sweep/backfill/scheduler component tests."""

from __future__ import annotations

from ml_connector.queue import Job, Registry, Worker, list_jobs
from ml_connector.store import read
from ml_connector.sync.backfill import register_backfill_handlers
from ml_connector.sync.kinds import OBJECT_KINDS
from support.harness import Harness


def backfill_registry(h: Harness) -> Registry:
    """Only BACKFILL and SWEEP: the object syncs they enqueue stay in the queue to inspect."""
    registry = Registry()
    register_backfill_handlers(registry, h.runtime)
    return registry


def worker(h: Harness, registry: Registry, *, concurrency: int = 2) -> Worker:
    return Worker(
        h.engine, registry, clock=h.clock.now, concurrency=concurrency, jitter=lambda: 0.0
    )


async def object_jobs(h: Harness, *, kind: str | None = None) -> list[Job]:
    """Every object-sync job of the harness's connection, oldest first."""
    assert h.connection is not None
    async with read(h.engine) as db:
        jobs = await list_jobs(db, connection_id=h.connection.id, kind=kind, limit=100_000)
    wanted = {k.value for k in OBJECT_KINDS}
    return sorted((j for j in jobs if j.kind in wanted), key=lambda j: j.id)
