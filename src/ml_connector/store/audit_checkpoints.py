"""Periodic checkpoints over every audit chain: what makes deleting history detectable.

A chain's own links catch an edited row and a row missing from the middle, but not its
newest rows deleted, nor a whole chain deleted: what is left still verifies. A
checkpoint records the head (last `seq` and its `entry_hash`) of every chain that moved
since the previous checkpoint; `audit_verify` then demands that each recorded head still
be there with the same hash. Checkpoints are hash-chained among themselves, so removing
or editing one breaks that chain; publishing the newest `checkpoint_hash` outside the
database (a ticket, an email to the auditor) anchors all of it.

Heads are stored as deltas (only chains that moved), so a checkpoint costs what changed,
not what exists. Rows written after the newest checkpoint are protected by their chain
links only, which is why checkpoints are taken periodically.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ml_connector.store.audit import GENESIS, canonical
from ml_connector.store.schema import audit_checkpoints, audit_log

Heads = dict[str, tuple[int, str]]
"""chain → (seq, entry_hash) of its newest entry."""


@dataclass(frozen=True, kw_only=True)
class Checkpoint:
    id: int
    seq: int
    created_at: datetime
    through_id: int
    chains: int
    entries: int
    heads: Heads
    prev_hash: str
    checkpoint_hash: str

    @classmethod
    def from_row(cls, row: Any) -> Checkpoint:
        values = dict(row._mapping)
        values["heads"] = {chain: (int(h[0]), str(h[1])) for chain, h in values["heads"].items()}
        return cls(**values)


def checkpoint_hash(prev_hash: str, body: dict[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical(body)).encode("utf-8")).hexdigest()


def _body(
    *,
    seq: int,
    created_at: datetime,
    through_id: int,
    chains: int,
    entries: int,
    heads: Heads,
) -> dict[str, Any]:
    return {
        "seq": seq,
        "created_at": created_at.isoformat(),
        "through_id": through_id,
        "chains": chains,
        "entries": entries,
        "heads": {chain: [seq_, hash_] for chain, (seq_, hash_) in heads.items()},
    }


def expected_checkpoint_hash(checkpoint: Checkpoint) -> str:
    """The hash `checkpoint` must carry, recomputed from its fields."""
    body = _body(
        seq=checkpoint.seq,
        created_at=checkpoint.created_at,
        through_id=checkpoint.through_id,
        chains=checkpoint.chains,
        entries=checkpoint.entries,
        heads=checkpoint.heads,
    )
    return checkpoint_hash(checkpoint.prev_hash, body)


async def all_checkpoints(db: AsyncConnection) -> list[Checkpoint]:
    """Every checkpoint, oldest first."""
    rows = await db.execute(sa.select(audit_checkpoints).order_by(audit_checkpoints.c.seq))
    return [Checkpoint.from_row(r) for r in rows]


async def latest(db: AsyncConnection) -> Checkpoint | None:
    row = (
        await db.execute(
            sa.select(audit_checkpoints).order_by(audit_checkpoints.c.seq.desc()).limit(1)
        )
    ).one_or_none()
    return None if row is None else Checkpoint.from_row(row)


def fold(checkpoints: list[Checkpoint]) -> Heads:
    """The newest recorded head of every chain, across all checkpoints."""
    heads: Heads = {}
    for checkpoint in checkpoints:
        heads.update(checkpoint.heads)
    return heads


async def current_heads(db: AsyncConnection, *, through_id: int) -> Heads:
    """Every chain's newest entry among rows with `id <= through_id`."""
    newest = (
        sa.select(audit_log.c.chain, sa.func.max(audit_log.c.seq).label("seq"))
        .where(audit_log.c.id <= through_id)
        .group_by(audit_log.c.chain)
        .subquery()
    )
    rows = await db.execute(
        sa.select(audit_log.c.chain, audit_log.c.seq, audit_log.c.entry_hash).join(
            newest, sa.and_(audit_log.c.chain == newest.c.chain, audit_log.c.seq == newest.c.seq)
        )
    )
    return {r.chain: (int(r.seq), str(r.entry_hash)) for r in rows}


async def create(db: AsyncConnection, *, now: datetime) -> Checkpoint | None:
    """Record the heads that moved since the last checkpoint (in the caller's write txn).

    Returns None when no chain moved: an empty checkpoint would prove nothing new. The
    heads recorded are what the database holds now; a tampered chain is not "repaired"
    by a later checkpoint, because verification checks every head any checkpoint
    recorded, not only the newest.
    """
    if db.dialect.name == "postgresql":
        # One checkpoint writer at a time across processes; SQLite's write lock does it there.
        await db.execute(
            sa.select(
                sa.func.pg_advisory_xact_lock(sa.func.hashtextextended("audit_checkpoints", 0))
            )
        )
    previous = await all_checkpoints(db)
    through_id = (await db.execute(sa.select(sa.func.max(audit_log.c.id)))).scalar_one()
    if through_id is None:
        return None
    heads = await current_heads(db, through_id=int(through_id))
    known = fold(previous)
    moved = {chain: head for chain, head in heads.items() if known.get(chain) != head}
    if not moved and previous:
        return None
    entries = (
        await db.execute(
            sa.select(sa.func.count()).select_from(audit_log).where(audit_log.c.id <= through_id)
        )
    ).scalar_one()
    now = now.astimezone(UTC)  # hashed as text: one spelling, as the database returns it
    seq = previous[-1].seq + 1 if previous else 1
    prev_hash = previous[-1].checkpoint_hash if previous else GENESIS
    values: dict[str, Any] = {
        "seq": seq,
        "created_at": now,
        "through_id": int(through_id),
        "chains": len(heads),
        "entries": int(entries),
    }
    body = _body(**values, heads=moved)
    row = (
        await db.execute(
            audit_checkpoints.insert()
            .values(
                **values,
                heads=body["heads"],
                prev_hash=prev_hash,
                checkpoint_hash=checkpoint_hash(prev_hash, body),
            )
            .returning(*audit_checkpoints.c)
        )
    ).one()
    return Checkpoint.from_row(row)


__all__ = [
    "Checkpoint",
    "Heads",
    "all_checkpoints",
    "checkpoint_hash",
    "create",
    "current_heads",
    "expected_checkpoint_hash",
    "fold",
    "latest",
]
