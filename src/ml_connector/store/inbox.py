"""The webhook inbox: every delivery's raw bytes, recorded before it is acknowledged.

The web handler records the delivery and enqueues its work in one transaction, then
answers 2xx. A redelivery with the same `(source, dedupe_key)` is recorded once:
`record` returns None for it and the handler enqueues nothing new. `record_many` does the
same, in one statement, for deliveries that arrived together (the webhook endpoints'
group commit). A delivery whose whole content moves into a job in that same transaction
is recorded already processed (`processed_at`), which is what `mark_processed` would have
written before the commit.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from ml_connector.store.schema import webhook_inbox

# Headers worth keeping for diagnosis; everything else (cookies, authorization) is dropped.
KEPT_HEADERS = frozenset(
    {
        "content-type",
        "user-agent",
        "x-freshbooks-hmac-sha256",
        "x-ramp-signature",
        "x-ramp-webhook-id",
        "x-ramp-webhook-signature",
        "x-request-id",
    }
)


@dataclass(frozen=True, kw_only=True)
class Delivery:
    id: int
    source: str
    connection_id: int | None
    dedupe_key: str
    received_at: datetime
    headers: dict[str, str]
    body: bytes
    body_sha256: str
    processed_at: datetime | None
    body_purged_at: datetime | None = None
    """When retention emptied `body` (its digest stays in `body_sha256`)."""

    @classmethod
    def from_row(cls, row: Any) -> Delivery:
        values = dict(row._mapping)
        values["body"] = bytes(values["body"])
        return cls(**values)


@dataclass(frozen=True, kw_only=True)
class NewDelivery:
    """One delivery to store: what `record` takes, as a value (for `record_many`)."""

    source: str
    body: bytes
    dedupe_key: str
    received_at: datetime
    headers: Mapping[str, str] | None = None
    connection_id: int | None = None
    processed_at: datetime | None = None

    def row(self) -> dict[str, Any]:
        kept = {k.lower(): v for k, v in (self.headers or {}).items() if k.lower() in KEPT_HEADERS}
        return {
            "source": self.source,
            "connection_id": self.connection_id,
            "dedupe_key": self.dedupe_key,
            "received_at": self.received_at,
            "headers": kept,
            "body": self.body,
            "body_sha256": body_digest(self.body),
            "processed_at": self.processed_at,
        }


# Built once, values bound per call: this insert runs for every webhook, and building the
# construct (and its cache key) anew cost more than executing it on a warm cache.
_RECORD_SQLITE = (
    sqlite.insert(webhook_inbox)
    .on_conflict_do_nothing(index_elements=["source", "dedupe_key"])
    .returning(webhook_inbox.c.id)
)
_RECORD_POSTGRESQL = (
    postgresql.insert(webhook_inbox)
    .on_conflict_do_nothing(index_elements=["source", "dedupe_key"])
    .returning(webhook_inbox.c.id)
)
# A conflicting row returns nothing, so the rows that were inserted name their key.
_RECORD_MANY_SQLITE = _RECORD_SQLITE.returning(webhook_inbox.c.source, webhook_inbox.c.dedupe_key)
_RECORD_MANY_POSTGRESQL = _RECORD_POSTGRESQL.returning(
    webhook_inbox.c.source, webhook_inbox.c.dedupe_key
)


def body_digest(body: bytes) -> str:
    """sha256 of the raw body: the dedupe key for sources without delivery ids."""
    return hashlib.sha256(body).hexdigest()


async def record(
    db: AsyncConnection,
    *,
    source: str,
    body: bytes,
    dedupe_key: str,
    received_at: datetime,
    headers: Mapping[str, str] | None = None,
    connection_id: int | None = None,
    processed_at: datetime | None = None,
) -> int | None:
    """Store a delivery; returns its id, or None if this delivery was already recorded.

    `processed_at` is for a caller that finishes the delivery in this transaction: an
    already-recorded delivery is left as it was, exactly as if `mark_processed` had run
    only for a new one.
    """
    values = NewDelivery(
        source=source,
        body=body,
        dedupe_key=dedupe_key,
        received_at=received_at,
        headers=headers,
        connection_id=connection_id,
        processed_at=processed_at,
    ).row()
    statement = _RECORD_POSTGRESQL if db.dialect.name == "postgresql" else _RECORD_SQLITE
    inserted: int | None = (await db.execute(statement, values)).scalar_one_or_none()
    return inserted


async def record_many(db: AsyncConnection, deliveries: Sequence[NewDelivery]) -> list[int | None]:
    """`record` for each delivery, in order, with one multi-row insert.

    Each gets its id, or None if it was already recorded, by an earlier transaction or by
    an earlier delivery of this same call (the first of a repeated key is the one kept,
    as if they had been recorded one after the other).
    """
    rows: list[dict[str, Any]] = []
    first: dict[tuple[str, str], int] = {}
    for position, delivery in enumerate(deliveries):
        key = (delivery.source, delivery.dedupe_key)
        if key not in first:
            first[key] = position
            rows.append(delivery.row())
    inserted: dict[tuple[str, str], int] = {}
    if rows:
        # executemany: SQLAlchemy batches the rows into multi-row inserts itself, and the
        # statement stays in its compiled cache (a fresh VALUES list compiles every time).
        statement = (
            _RECORD_MANY_POSTGRESQL if db.dialect.name == "postgresql" else _RECORD_MANY_SQLITE
        )
        inserted = {
            (new.source, new.dedupe_key): new.id for new in await db.execute(statement, rows)
        }
    return [
        inserted.get(key) if first[key] == position else None
        for position, key in enumerate((d.source, d.dedupe_key) for d in deliveries)
    ]


async def get(db: AsyncConnection, delivery_id: int) -> Delivery | None:
    row = (
        await db.execute(sa.select(webhook_inbox).where(webhook_inbox.c.id == delivery_id))
    ).one_or_none()
    return None if row is None else Delivery.from_row(row)


async def mark_processed(db: AsyncConnection, delivery_id: int, *, now: datetime) -> bool:
    result = await db.execute(
        webhook_inbox.update()
        .where(webhook_inbox.c.id == delivery_id, webhook_inbox.c.processed_at.is_(None))
        .values(processed_at=now)
    )
    return bool(result.rowcount)


async def recent(
    db: AsyncConnection, *, source: str | None = None, limit: int = 100
) -> list[Delivery]:
    """The newest deliveries first (admin UI)."""
    query = sa.select(webhook_inbox).order_by(webhook_inbox.c.id.desc()).limit(limit)
    if source is not None:
        query = query.where(webhook_inbox.c.source == source)
    return [Delivery.from_row(r) for r in await db.execute(query)]


async def prune(db: AsyncConnection, *, processed_before: datetime) -> int:
    """Delete processed deliveries older than the retention horizon."""
    result = await db.execute(
        webhook_inbox.delete().where(
            webhook_inbox.c.processed_at.is_not(None),
            webhook_inbox.c.processed_at < processed_before,
        )
    )
    return int(result.rowcount)


async def purge_bodies(db: AsyncConnection, *, processed_before: datetime, now: datetime) -> int:
    """Empty the raw bodies of deliveries processed before `processed_before` (retention).

    The row stays, with its digest and times: audit rows cite deliveries by digest, not
    by body, so purging never touches a hash chain, and redelivery dedupe keeps working.
    Unprocessed deliveries keep their bodies whatever their age: they are still work.
    """
    result = await db.execute(
        webhook_inbox.update()
        .where(
            webhook_inbox.c.processed_at.is_not(None),
            webhook_inbox.c.processed_at < processed_before,
            webhook_inbox.c.body_purged_at.is_(None),
        )
        .values(body=b"", body_purged_at=now)
    )
    return int(result.rowcount)


__all__ = [
    "KEPT_HEADERS",
    "Delivery",
    "NewDelivery",
    "body_digest",
    "get",
    "mark_processed",
    "prune",
    "purge_bodies",
    "recent",
    "record",
    "record_many",
]
