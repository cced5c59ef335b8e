"""The append-only audit trail, hash-chained per object.

Every step for a bill, vendor or expense — delivery received, fetched, mapped, Ramp
request and response, outcome — is one row. Rows about one object form a chain:
`entry_hash = sha256(prev_hash + canonical JSON of the row)`, so editing or deleting
history breaks the chain and `verify_chain` says where. Details are stripped of secrets
before they are stored, whatever the caller passed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ml_connector.store.schema import audit_log

GENESIS = "0" * 64
REDACTED = "[redacted]"
# Substrings of detail keys whose values never reach the audit trail.
_SECRET_MARKERS = (
    "authorization",
    "token",
    "secret",
    "password",
    "verifier",
    "cookie",
    "api_key",
    "apikey",
    "signature",
    "code_verifier",
)


def redact(value: Any) -> Any:
    """A copy of `value` with every secret-looking key's value replaced."""
    if isinstance(value, Mapping):
        return {
            str(k): (REDACTED if _is_secret_key(str(k)) else redact(v)) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value


def _is_secret_key(key: str) -> bool:
    lowered = key.lower()
    return any(marker in lowered for marker in _SECRET_MARKERS)


def digest(payload: bytes | str | Any) -> str:
    """sha256 of a request or response body (bytes, text or JSON-able value)."""
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    elif not isinstance(payload, bytes):
        payload = _canonical(payload).encode("utf-8")
    return hashlib.sha256(payload).hexdigest()


def chain_of(
    connection_id: int | None, object_type: str, fb_id: str | None, ramp_id: str | None
) -> str:
    """The chain an object's rows belong to: its FreshBooks id when known, else Ramp's."""
    if fb_id is not None:
        return f"{connection_id or 0}:{object_type}:fb:{fb_id}"
    if ramp_id is not None:
        return f"{connection_id or 0}:{object_type}:ramp:{ramp_id}"
    raise ValueError("an audit entry needs a FreshBooks id or a Ramp id")


@dataclass(frozen=True, kw_only=True)
class AuditEntry:
    id: int
    connection_id: int | None
    chain: str
    seq: int
    object_type: str
    fb_id: str | None
    ramp_id: str | None
    step: str
    actor: str
    job_id: int | None
    at: datetime
    detail: Any
    prev_hash: str
    entry_hash: str

    @classmethod
    def from_row(cls, row: Any) -> AuditEntry:
        return cls(**dict(row._mapping))


def entry_hash(prev_hash: str, fields: Mapping[str, Any]) -> str:
    """The chained hash of one row: what a verifier recomputes."""
    body = dict(fields)
    body["at"] = body["at"].isoformat()
    return hashlib.sha256((prev_hash + _canonical(body)).encode("utf-8")).hexdigest()


_HASHED = (
    "connection_id",
    "chain",
    "seq",
    "object_type",
    "fb_id",
    "ramp_id",
    "step",
    "actor",
    "job_id",
    "at",
    "detail",
)


@dataclass(frozen=True, kw_only=True)
class NewEntry:
    """One step to append: what `append` takes, as a value (for `append_many`)."""

    object_type: str
    step: str
    at: datetime
    actor: str
    connection_id: int | None = None
    fb_id: str | None = None
    ramp_id: str | None = None
    job_id: int | None = None
    detail: Mapping[str, Any] | None = None

    @property
    def chain(self) -> str:
        return chain_of(self.connection_id, self.object_type, self.fb_id, self.ramp_id)


async def append(
    db: AsyncConnection,
    *,
    object_type: str,
    step: str,
    at: datetime,
    actor: str,
    connection_id: int | None = None,
    fb_id: str | None = None,
    ramp_id: str | None = None,
    job_id: int | None = None,
    detail: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Append one step to the object's chain (inside the caller's transaction)."""
    entry = NewEntry(
        object_type=object_type,
        step=step,
        at=at,
        actor=actor,
        connection_id=connection_id,
        fb_id=fb_id,
        ramp_id=ramp_id,
        job_id=job_id,
        detail=detail,
    )
    chain = entry.chain
    await _lock_chains(db, [chain])
    seq, prev = (await _heads(db, [chain])).get(chain, (0, GENESIS))
    fields = _fields(entry, chain, seq + 1, prev)
    row = (await db.execute(audit_log.insert().values(**fields).returning(*audit_log.c))).one()
    return AuditEntry.from_row(row)


async def append_many(db: AsyncConnection, entries: Sequence[NewEntry]) -> None:
    """Append steps to their chains in order, in one insert (inside the caller's transaction).

    The same rows `append` would write one at a time, chained in the order given: one
    head lookup for all the chains and one multi-row insert instead of a lookup and an
    insert per row. A backfill page queues a hundred objects this way.
    """
    if not entries:
        return
    chains = sorted({entry.chain for entry in entries})
    await _lock_chains(db, chains)
    heads = await _heads(db, chains)
    rows = []
    for entry in entries:
        chain = entry.chain
        seq, prev = heads.get(chain, (0, GENESIS))
        fields = _fields(entry, chain, seq + 1, prev)
        heads[chain] = (seq + 1, fields["entry_hash"])
        rows.append(fields)
    await db.execute(audit_log.insert(), rows)


async def _lock_chains(db: AsyncConnection, chains: Sequence[str]) -> None:
    """Serialize appends to these chains across transactions (PostgreSQL).

    SQLite's single write lock does it there. Locks are taken in one statement, in
    sorted chain order, so two batches over overlapping chains cannot deadlock.
    """
    if db.dialect.name != "postgresql":
        return
    await db.execute(
        sa.select(
            *(sa.func.pg_advisory_xact_lock(sa.func.hashtextextended(chain, 0)) for chain in chains)
        )
    )


_HEAD_BATCH = 500


async def _heads(db: AsyncConnection, chains: Sequence[str]) -> dict[str, tuple[int, str]]:
    """Each chain's last (seq, entry_hash); chains with no rows yet are absent."""
    heads: dict[str, tuple[int, str]] = {}
    newer = audit_log.alias("newer")
    for start in range(0, len(chains), _HEAD_BATCH):
        batch = list(chains[start : start + _HEAD_BATCH])
        head = sa.select(audit_log.c.chain, audit_log.c.seq, audit_log.c.entry_hash)
        if len(batch) == 1:
            # One chain: walk its (chain, seq) index backwards.
            query = (
                head.where(audit_log.c.chain == batch[0]).order_by(audit_log.c.seq.desc()).limit(1)
            )
        else:
            query = head.where(
                audit_log.c.chain.in_(batch),
                ~sa.exists().where(
                    newer.c.chain == audit_log.c.chain, newer.c.seq > audit_log.c.seq
                ),
            )
        for row in await db.execute(query):
            heads[row.chain] = (row.seq, row.entry_hash)
    return heads


def _fields(entry: NewEntry, chain: str, seq: int, prev: str) -> dict[str, Any]:
    # Round-trip through JSON so the hash covers exactly what the database stores.
    clean = json.loads(_canonical(redact(dict(entry.detail or {}))))
    fields = {
        "connection_id": entry.connection_id,
        "chain": chain,
        "seq": seq,
        "object_type": entry.object_type,
        "fb_id": entry.fb_id,
        "ramp_id": entry.ramp_id,
        "step": entry.step,
        "actor": entry.actor,
        "job_id": entry.job_id,
        "at": entry.at,
        "detail": clean,
    }
    return fields | {"prev_hash": prev, "entry_hash": entry_hash(prev, fields)}


async def for_fb_object(
    db: AsyncConnection,
    *,
    fb_id: str,
    object_type: str | None = None,
    connection_id: int | None = None,
) -> list[AuditEntry]:
    """Every entry of the chains that mention this FreshBooks id, in order."""
    return await _chains_mentioning(db, audit_log.c.fb_id == fb_id, object_type, connection_id)


async def for_ramp_id(
    db: AsyncConnection,
    *,
    ramp_id: str,
    object_type: str | None = None,
    connection_id: int | None = None,
) -> list[AuditEntry]:
    """Every entry of the chains that mention this Ramp id (the whole story, not one row)."""
    return await _chains_mentioning(db, audit_log.c.ramp_id == ramp_id, object_type, connection_id)


async def between(
    db: AsyncConnection,
    *,
    start: datetime,
    end: datetime,
    connection_id: int | None = None,
    limit: int = 1000,
) -> list[AuditEntry]:
    """Entries with `start <= at < end`, oldest first."""
    query = (
        sa.select(audit_log)
        .where(audit_log.c.at >= start, audit_log.c.at < end)
        .order_by(audit_log.c.at, audit_log.c.id)
        .limit(limit)
    )
    if connection_id is not None:
        query = query.where(audit_log.c.connection_id == connection_id)
    return [AuditEntry.from_row(r) for r in await db.execute(query)]


def expected_hash(entry: AuditEntry) -> str:
    """The hash `entry` must carry, recomputed from its fields and its `prev_hash`."""
    return entry_hash(entry.prev_hash, {name: getattr(entry, name) for name in _HASHED})


@dataclass(frozen=True, kw_only=True)
class ChainName:
    """Whom a chain is about, read from the chain key itself.

    A verifier can name the object even when every row of its chain was deleted.
    """

    connection_id: int | None
    object_type: str
    fb_id: str | None
    ramp_id: str | None

    def __str__(self) -> str:
        ident = (
            f"FreshBooks id {self.fb_id}" if self.fb_id is not None else f"Ramp id {self.ramp_id}"
        )
        where = f" (connection {self.connection_id})" if self.connection_id else ""
        return f"{self.object_type} {ident}{where}"


def parse_chain(chain: str) -> ChainName:
    """The inverse of `chain_of`; ids may contain ':' themselves."""
    connection, object_type, side, ident = chain.split(":", 3)
    return ChainName(
        connection_id=int(connection) or None,
        object_type=object_type,
        fb_id=ident if side == "fb" else None,
        ramp_id=ident if side == "ramp" else None,
    )


async def verify_chain(db: AsyncConnection, chain: str) -> list[str]:
    """Problems found in one chain (empty when intact): gaps, edits, broken links."""
    rows = [
        AuditEntry.from_row(r)
        for r in await db.execute(
            sa.select(audit_log).where(audit_log.c.chain == chain).order_by(audit_log.c.seq)
        )
    ]
    problems: list[str] = []
    prev = GENESIS
    for expected_seq, entry in enumerate(rows, start=1):
        if entry.seq != expected_seq:
            problems.append(f"entry {expected_seq} is missing (found {entry.seq})")
        if entry.prev_hash != prev:
            problems.append(f"entry {entry.seq} does not follow the previous entry")
        fields = {name: getattr(entry, name) for name in _HASHED}
        if entry_hash(entry.prev_hash, fields) != entry.entry_hash:
            problems.append(f"entry {entry.seq} was altered after it was written")
        prev = entry.entry_hash
    return problems


async def _chains_mentioning(
    db: AsyncConnection,
    predicate: sa.ColumnElement[bool],
    object_type: str | None,
    connection_id: int | None,
) -> list[AuditEntry]:
    chains = sa.select(audit_log.c.chain).where(predicate)
    if object_type is not None:
        chains = chains.where(audit_log.c.object_type == object_type)
    if connection_id is not None:
        chains = chains.where(audit_log.c.connection_id == connection_id)
    query = (
        sa.select(audit_log)
        .where(audit_log.c.chain.in_(chains.distinct().scalar_subquery()))
        .order_by(audit_log.c.chain, audit_log.c.seq)
    )
    return [AuditEntry.from_row(r) for r in await db.execute(query)]


def canonical(value: Any) -> str:
    """The JSON text every audit hash is computed over (sorted keys, no spaces)."""
    return _canonical(value)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False)


__all__ = [
    "GENESIS",
    "REDACTED",
    "AuditEntry",
    "ChainName",
    "NewEntry",
    "append",
    "append_many",
    "between",
    "canonical",
    "chain_of",
    "digest",
    "entry_hash",
    "expected_hash",
    "for_fb_object",
    "for_ramp_id",
    "parse_chain",
    "redact",
    "verify_chain",
]
