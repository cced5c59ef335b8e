"""A synced firm for the reconciliation tests: harness, setup, backfill, every job drained."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from ml_connector.queue import Registry, Worker
from ml_connector.store.schema import jobs
from ml_connector.sync.backfill import register_backfill_handlers, start_backfill
from ml_connector.sync.handlers import register_sync_handlers
from ml_connector.sync.reconcile import register_reconcile_handlers
from support.harness import Harness


def registry_for(h: Harness) -> Registry:
    registry = Registry()
    register_backfill_handlers(registry, h.runtime)
    register_sync_handlers(registry, h.runtime)
    register_reconcile_handlers(registry, h.runtime)
    return registry


async def drain(h: Harness, registry: Registry, *, rounds: int = 60) -> None:
    """Run jobs until none waits, moving the shared clock to each retry's time."""
    worker = Worker(
        h.engine, registry, clock=h.clock.now, concurrency=4, jitter=lambda: 0.0,
        lease=timedelta(minutes=5),
    )  # fmt: skip
    for _ in range(rounds):
        await worker.run_until_idle()
        async with h.engine.connect() as db:
            next_at = (
                await db.execute(
                    sa.select(sa.func.min(jobs.c.scheduled_at)).where(
                        jobs.c.state.in_(("available", "retryable"))
                    )
                )
            ).scalar_one()
        if next_at is None:
            return
        if next_at.tzinfo is None:
            next_at = next_at.replace(tzinfo=h.clock.now().tzinfo)
        gap = (next_at - h.clock.now()).total_seconds()
        if gap > 0:
            h.clock.advance(gap + 0.001)
    raise AssertionError("jobs kept waiting after every round")


async def synced_firm(h: Harness, registry: Registry) -> None:
    """Connect, set up and backfill: the state a firm is in after its first sync."""
    connection = await h.connect()
    await h.setup()
    async with h.engine.begin() as db:
        await start_backfill(db, connection.id, h.clock.now())
    await drain(h, registry)
