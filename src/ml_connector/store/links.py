"""Links between FreshBooks objects and the Ramp objects made from them, and write intents.

A link remembers which Ramp object stands for a FreshBooks object, the hash of the
content last written (so an unchanged object is skipped) and a version bumped on every
write. Write intents make Ramp writes safe to retry: Ramp bills and vendors take no
idempotency key, so the intent is committed *before* the request; a retry that finds a
pending intent must look the object up in Ramp (by `remote_id` / `external_vendor_id`)
before creating it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ml_connector.store.schema import links, write_intents


@dataclass(frozen=True, kw_only=True)
class Link:
    id: int
    connection_id: int
    fb_type: str
    fb_id: str
    ramp_type: str
    ramp_id: str | None
    content_hash: str | None
    version: int
    mapping_version: int | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> Link:
        return cls(**dict(row._mapping))


class IntentState(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True, kw_only=True)
class WriteIntent:
    id: int
    connection_id: int
    fb_type: str
    fb_id: str
    ramp_type: str
    operation: str
    request_digest: str
    state: IntentState
    ramp_id: str | None
    job_id: int | None
    created_at: datetime
    resolved_at: datetime | None

    @classmethod
    def from_row(cls, row: Any) -> WriteIntent:
        values = dict(row._mapping)
        values["state"] = IntentState(values["state"])
        return cls(**values)


async def get(
    db: AsyncConnection, *, connection_id: int, fb_type: str, fb_id: str, ramp_type: str
) -> Link | None:
    row = (
        await db.execute(
            sa.select(links).where(
                links.c.connection_id == connection_id,
                links.c.fb_type == fb_type,
                links.c.fb_id == fb_id,
                links.c.ramp_type == ramp_type,
            )
        )
    ).one_or_none()
    return None if row is None else Link.from_row(row)


async def for_fb_object(
    db: AsyncConnection, *, connection_id: int, fb_type: str, fb_id: str
) -> list[Link]:
    """Every Ramp object made from one FreshBooks object (a vendor has a contact, too)."""
    rows = await db.execute(
        sa.select(links)
        .where(
            links.c.connection_id == connection_id,
            links.c.fb_type == fb_type,
            links.c.fb_id == fb_id,
        )
        .order_by(links.c.ramp_type)
    )
    return [Link.from_row(r) for r in rows]


async def find_by_ramp_id(
    db: AsyncConnection, *, connection_id: int, ramp_type: str, ramp_id: str
) -> Link | None:
    row = (
        await db.execute(
            sa.select(links).where(
                links.c.connection_id == connection_id,
                links.c.ramp_type == ramp_type,
                links.c.ramp_id == ramp_id,
            )
        )
    ).first()
    return None if row is None else Link.from_row(row)


async def upsert(
    db: AsyncConnection,
    *,
    connection_id: int,
    fb_type: str,
    fb_id: str,
    ramp_type: str,
    ramp_id: str | None,
    content_hash: str | None,
    mapping_version: int | None,
    now: datetime,
) -> Link:
    """Record what was written; the version grows by one on every call for the object."""
    key = (
        links.c.connection_id == connection_id,
        links.c.fb_type == fb_type,
        links.c.fb_id == fb_id,
        links.c.ramp_type == ramp_type,
    )
    row = (
        await db.execute(
            links.update()
            .where(*key)
            .values(
                ramp_id=ramp_id,
                content_hash=content_hash,
                mapping_version=mapping_version,
                version=links.c.version + 1,
                updated_at=now,
            )
            .returning(*links.c)
        )
    ).one_or_none()
    if row is None:
        row = (
            await db.execute(
                links.insert()
                .values(
                    connection_id=connection_id,
                    fb_type=fb_type,
                    fb_id=fb_id,
                    ramp_type=ramp_type,
                    ramp_id=ramp_id,
                    content_hash=content_hash,
                    mapping_version=mapping_version,
                    version=1,
                    created_at=now,
                    updated_at=now,
                )
                .returning(*links.c)
            )
        ).one()
    return Link.from_row(row)


async def record_intent(
    db: AsyncConnection,
    *,
    connection_id: int,
    fb_type: str,
    fb_id: str,
    ramp_type: str,
    operation: str,
    request_digest: str,
    now: datetime,
    job_id: int | None = None,
) -> WriteIntent:
    """Commit this before sending a Ramp write; raises if one is already pending.

    A pending intent for the same object and operation means an earlier attempt's
    outcome is unknown: call `pending_intent` first and reconcile it.
    """
    row = (
        await db.execute(
            write_intents.insert()
            .values(
                connection_id=connection_id,
                fb_type=fb_type,
                fb_id=fb_id,
                ramp_type=ramp_type,
                operation=operation,
                request_digest=request_digest,
                state=IntentState.PENDING.value,
                job_id=job_id,
                created_at=now,
            )
            .returning(*write_intents.c)
        )
    ).one()
    return WriteIntent.from_row(row)


def _same_write(
    connection_id: int, fb_type: str, fb_id: str, ramp_type: str, operation: str
) -> tuple[sa.ColumnElement[bool], ...]:
    """The intents of one object and operation (the key of `uq_write_intents_open`)."""
    return (
        write_intents.c.connection_id == connection_id,
        write_intents.c.fb_type == fb_type,
        write_intents.c.fb_id == fb_id,
        write_intents.c.ramp_type == ramp_type,
        write_intents.c.operation == operation,
    )


async def pending_intent(
    db: AsyncConnection,
    *,
    connection_id: int,
    fb_type: str,
    fb_id: str,
    ramp_type: str,
    operation: str,
) -> WriteIntent | None:
    """The unresolved write for this object and operation, if an attempt died mid-way."""
    row = (
        await db.execute(
            sa.select(write_intents).where(
                *_same_write(connection_id, fb_type, fb_id, ramp_type, operation),
                write_intents.c.state == IntentState.PENDING.value,
            )
        )
    ).one_or_none()
    return None if row is None else WriteIntent.from_row(row)


async def previous_intent_id(
    db: AsyncConnection,
    *,
    connection_id: int,
    fb_type: str,
    fb_id: str,
    ramp_type: str,
    operation: str,
    before_id: int,
) -> int | None:
    """The id of the newest intent for this object and operation older than `before_id`.

    Read while `before_id` is the pending one, it names the write that came just before
    it: nothing newer can have been recorded meanwhile (one pending intent per key).
    """
    found: int | None = (
        await db.execute(
            sa.select(write_intents.c.id)
            .where(
                *_same_write(connection_id, fb_type, fb_id, ramp_type, operation),
                write_intents.c.id < before_id,
            )
            .order_by(write_intents.c.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    return found


async def intent_by_id(db: AsyncConnection, intent_id: int) -> WriteIntent | None:
    row = (
        await db.execute(sa.select(write_intents).where(write_intents.c.id == intent_id))
    ).one_or_none()
    return None if row is None else WriteIntent.from_row(row)


async def take_over_intent(
    db: AsyncConnection, intent: WriteIntent, *, job_id: int | None, now: datetime
) -> WriteIntent | None:
    """Make a stale pending intent this job's, or None if another job got there first.

    A compare-and-set on the holder and the time it was taken: of several jobs that
    found the same abandoned intent, exactly one inherits it; the others then see a
    running holder and wait for it. `created_at` becomes the take-over time, so the
    settle period before the next inheritance counts from this holder's start.
    """
    row = (
        await db.execute(
            write_intents.update()
            .where(
                write_intents.c.id == intent.id,
                write_intents.c.state == IntentState.PENDING.value,
                write_intents.c.created_at == intent.created_at,
                write_intents.c.job_id.is_(None)
                if intent.job_id is None
                else write_intents.c.job_id == intent.job_id,
            )
            .values(job_id=job_id, created_at=now)
            .returning(*write_intents.c)
        )
    ).one_or_none()
    return None if row is None else WriteIntent.from_row(row)


async def resolve_intent(
    db: AsyncConnection,
    intent_id: int,
    *,
    succeeded: bool,
    now: datetime,
    ramp_id: str | None = None,
) -> WriteIntent:
    """Close an intent: succeeded (with the Ramp id) or failed (nothing was written)."""
    state = IntentState.SUCCEEDED if succeeded else IntentState.FAILED
    row = (
        await db.execute(
            write_intents.update()
            .where(
                write_intents.c.id == intent_id,
                write_intents.c.state == IntentState.PENDING.value,
            )
            .values(state=state.value, ramp_id=ramp_id, resolved_at=now)
            .returning(*write_intents.c)
        )
    ).one_or_none()
    if row is None:
        raise LookupError(f"write intent {intent_id} is not pending")
    return WriteIntent.from_row(row)


__all__ = [
    "IntentState",
    "Link",
    "WriteIntent",
    "find_by_ramp_id",
    "for_fb_object",
    "get",
    "pending_intent",
    "previous_intent_id",
    "record_intent",
    "resolve_intent",
    "upsert",
]
