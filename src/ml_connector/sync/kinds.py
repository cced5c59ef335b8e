"""The job kinds the sync layer runs, and how each is keyed in the queue.

One place decides the queue keys, so every producer (webhook endpoint, sweep, backfill,
replay, CLI) enqueues the same object the same way and bursts coalesce:

- `unique_key` = kind + connection + object: a second enqueue while one waits is absorbed.
- `lock_key` = connection + FreshBooks object: one object is never processed by two
  workers at once, whichever producer enqueued it.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from ml_connector.queue import Enqueued, Lane, NewJob, enqueue_job


class Kind(StrEnum):
    """Job kinds. Args are JSON objects; every kind carries `connection_id`."""

    SYNC_VENDOR = "sync.vendor"
    """args: connection_id, fb_id, source — a FreshBooks bill vendor → Ramp vendor."""
    SYNC_BILL = "sync.bill"
    """args: connection_id, fb_id, source — a FreshBooks bill → Ramp bill (create/update/archive)."""
    SYNC_EXPENSE = "sync.expense"
    """args: connection_id, fb_id, source — match + code a card transaction, or policy."""
    SYNC_CATEGORY = "sync.category"
    """args: connection_id, fb_id, source — re-evaluate what a category change affects."""
    SWEEP = "sync.sweep"
    """args: connection_id — reconcile recent changes the webhooks may have missed."""
    BACKFILL = "sync.backfill"
    """args: connection_id, resource, checkpoint — resumable initial load, page by page."""
    REGISTER_WEBHOOKS = "connect.register_webhooks"
    """args: connection_id — ensure FreshBooks callbacks and Ramp subscriptions exist."""
    FRESHBOOKS_VERIFY_CALLBACK = "freshbooks.verify_callback"
    """args: connection_id, callback_id — send the stored verifier back (handshake)."""
    RAMP_VERIFY_WEBHOOK = "ramp.verify_webhook"
    """args: connection_id, inbox_id — answer a Ramp subscription challenge."""
    RAMP_EVENT = "ramp.event"
    """args: connection_id, inbox_id — record what Ramp did (bill paid…) in the audit trail."""
    RECONCILE = "sync.reconcile"
    """args: connection_id, start, end — the reconciliation report of a period (read-only)."""


class Source(StrEnum):
    """Why an object sync was enqueued (kept in args and the audit trail)."""

    WEBHOOK = "webhook"
    SWEEP = "sweep"
    BACKFILL = "backfill"
    REPLAY = "replay"
    MANUAL = "manual"
    DEPENDENCY = "dependency"


OBJECT_KINDS: dict[Kind, str] = {
    Kind.SYNC_VENDOR: "bill_vendor",
    Kind.SYNC_BILL: "bill",
    Kind.SYNC_EXPENSE: "expense",
    Kind.SYNC_CATEGORY: "category",
}
"""Job kind → FreshBooks object type it syncs."""

_LANES = {
    Source.WEBHOOK: Lane.LIVE,
    Source.MANUAL: Lane.LIVE,
    Source.DEPENDENCY: Lane.LIVE,
    Source.REPLAY: Lane.LIVE,
    Source.SWEEP: Lane.RECONCILE,
    Source.BACKFILL: Lane.BACKFILL,
}


def object_lock_key(connection_id: int, fb_type: str, fb_id: str) -> str:
    return f"{connection_id}:{fb_type}:{fb_id}"


def object_sync_job(
    *,
    kind: Kind,
    connection_id: int,
    fb_id: str | int,
    source: Source,
    extra: dict[str, Any] | None = None,
) -> NewJob:
    """The queue entry that syncs one FreshBooks object (for `enqueue`/`enqueue_many`)."""
    fb_type = OBJECT_KINDS[kind]
    object_id = str(fb_id)
    return NewJob(
        kind=kind.value,
        args={
            "connection_id": connection_id,
            "fb_id": object_id,
            "source": source.value,
            **(extra or {}),
        },
        connection_id=connection_id,
        priority=_LANES[source],
        lock_key=object_lock_key(connection_id, fb_type, object_id),
        unique_key=f"{kind.value}:{connection_id}:{object_id}",
    )


async def enqueue_object_sync(
    db: AsyncConnection,
    *,
    kind: Kind,
    connection_id: int,
    fb_id: str | int,
    source: Source,
    now: datetime,
    extra: dict[str, Any] | None = None,
) -> Enqueued:
    """Enqueue the sync of one FreshBooks object inside the caller's transaction."""
    job = object_sync_job(
        kind=kind, connection_id=connection_id, fb_id=fb_id, source=source, extra=extra
    )
    return await enqueue_job(db, job, now=now)


__all__ = [
    "OBJECT_KINDS",
    "Kind",
    "Source",
    "enqueue_object_sync",
    "object_lock_key",
    "object_sync_job",
]
