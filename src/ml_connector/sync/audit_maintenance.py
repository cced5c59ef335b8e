"""Periodic audit upkeep: checkpoint the chains' heads, purge old raw webhook bodies.

One `audit.maintenance` job does both, then schedules its own next run, so a worker
that registers the handler (`register_audit_maintenance`) and a single seed job
(`ensure_scheduled`, idempotent through the queue's unique key) keep it going forever.
Both steps are safe to repeat: a checkpoint with nothing new is not written, and a
purged body is not purged twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from ml_connector.queue import Enqueued, Job, Lane, Registry, enqueue
from ml_connector.store import audit_checkpoints, inbox
from ml_connector.sync.runtime import Runtime

KIND = "audit.maintenance"
UNIQUE_KEY = KIND
DEFAULT_EVERY = timedelta(hours=1)
DEFAULT_BODY_RETENTION = timedelta(days=30)


@dataclass(frozen=True, kw_only=True)
class MaintenanceReport:
    at: datetime
    checkpoint_seq: int | None
    """The checkpoint written, or None when no chain moved since the last one."""
    checkpoint_hash: str | None
    bodies_purged: int


async def run_maintenance(
    runtime: Runtime, *, body_retention: timedelta = DEFAULT_BODY_RETENTION
) -> MaintenanceReport:
    """Checkpoint, then purge bodies processed more than `body_retention` ago."""
    now = runtime.clock()
    async with runtime.engine.begin() as db:
        checkpoint = await audit_checkpoints.create(db, now=now)
    async with runtime.engine.begin() as db:
        purged = await inbox.purge_bodies(db, processed_before=now - body_retention, now=now)
    return MaintenanceReport(
        at=now,
        checkpoint_seq=None if checkpoint is None else checkpoint.seq,
        checkpoint_hash=None if checkpoint is None else checkpoint.checkpoint_hash,
        bodies_purged=purged,
    )


async def enqueue_maintenance(
    db: AsyncConnection, *, now: datetime, at: datetime | None = None
) -> Enqueued:
    """The next maintenance run (absorbed by one already waiting)."""
    return await enqueue(
        db,
        kind=KIND,
        args={},
        now=now,
        priority=Lane.RECONCILE,
        scheduled_at=at,
        unique_key=UNIQUE_KEY,
        lock_key=UNIQUE_KEY,
    )


async def ensure_scheduled(runtime: Runtime) -> Enqueued:
    """Seed the self-rescheduling job (call at worker start; repeating is harmless)."""
    async with runtime.engine.begin() as db:
        return await enqueue_maintenance(db, now=runtime.clock())


def register_audit_maintenance(
    registry: Registry,
    runtime: Runtime,
    *,
    every: timedelta = DEFAULT_EVERY,
    body_retention: timedelta = DEFAULT_BODY_RETENTION,
) -> None:
    """Register the `audit.maintenance` handler on `registry`."""

    async def handle(job: Job) -> None:
        report = await run_maintenance(runtime, body_retention=body_retention)
        async with runtime.engine.begin() as db:
            await enqueue_maintenance(db, now=report.at, at=report.at + every)

    registry.register(KIND, handle)


__all__ = [
    "DEFAULT_BODY_RETENTION",
    "DEFAULT_EVERY",
    "KIND",
    "MaintenanceReport",
    "enqueue_maintenance",
    "ensure_scheduled",
    "register_audit_maintenance",
    "run_maintenance",
]
