"""Every table of the product, in one `MetaData`: the single source of truth for Alembic.

The job queue's and the rate budget's tables live here too, so that "webhook recorded"
and "work enqueued" commit in one transaction and one migration history covers all.

Timestamps are `UtcDateTime`: aware UTC on the way in and out on both databases (SQLite
has no time zone type and would otherwise hand back naive values).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Dialect

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING)


class UtcDateTime(sa.types.TypeDecorator[datetime]):
    """An aware UTC datetime on every backend; naive values are refused, not guessed."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        # SQLite stores text; dropping the offset keeps every stored value in one format,
        # so comparisons in SQL stay correct lexicographically.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# A 64-bit key everywhere; on SQLite it must be spelled INTEGER to alias the rowid
# (only then does it autoincrement).
BigId = sa.BigInteger().with_variant(sqlite.INTEGER(), "sqlite")


def _id() -> sa.Column[Any]:
    return sa.Column("id", BigId, primary_key=True, autoincrement=True)


def _connection_fk(*, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(
        "connection_id",
        BigId,
        sa.ForeignKey("connections.id", ondelete="CASCADE"),
        nullable=nullable,
    )


connections = sa.Table(
    "connections",
    metadata,
    _id(),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("status_reason", sa.Text, nullable=True),
    sa.Column("freshbooks_account_id", sa.String(64), nullable=True),
    sa.Column("freshbooks_business_id", sa.String(64), nullable=True),
    sa.Column("ramp_business_id", sa.String(64), nullable=True),
    sa.Column("ramp_entity_id", sa.String(64), nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.CheckConstraint(
        "status IN ('pending', 'active', 'needs_reconnect', 'paused', 'disconnected')",
        name="status",
    ),
    sa.UniqueConstraint("name"),
)
sa.Index(None, connections.c.freshbooks_business_id)
sa.Index(None, connections.c.freshbooks_account_id)
sa.Index(None, connections.c.ramp_business_id)

credentials = sa.Table(
    "credentials",
    metadata,
    _connection_fk(),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("ciphertext", sa.Text, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.PrimaryKeyConstraint("connection_id", "kind"),
)

oauth_tokens = sa.Table(
    "oauth_tokens",
    metadata,
    # The token store's key ("freshbooks:12"); one row per key, created on first save.
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("ciphertext", sa.Text, nullable=True),
    sa.Column("expires_at", UtcDateTime, nullable=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("refresh_owner", sa.String(200), nullable=True),
    sa.Column("refresh_lease_until", UtcDateTime, nullable=True),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

links = sa.Table(
    "links",
    metadata,
    _id(),
    _connection_fk(),
    sa.Column("fb_type", sa.String(32), nullable=False),
    sa.Column("fb_id", sa.String(64), nullable=False),
    sa.Column("ramp_type", sa.String(32), nullable=False),
    sa.Column("ramp_id", sa.String(64), nullable=True),
    sa.Column("content_hash", sa.String(64), nullable=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("mapping_version", sa.Integer, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("connection_id", "fb_type", "fb_id", "ramp_type"),
)
sa.Index(None, links.c.connection_id, links.c.ramp_type, links.c.ramp_id)

write_intents = sa.Table(
    "write_intents",
    metadata,
    _id(),
    _connection_fk(),
    sa.Column("fb_type", sa.String(32), nullable=False),
    sa.Column("fb_id", sa.String(64), nullable=False),
    sa.Column("ramp_type", sa.String(32), nullable=False),
    sa.Column("operation", sa.String(32), nullable=False),
    sa.Column("request_digest", sa.String(64), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("ramp_id", sa.String(64), nullable=True),
    sa.Column("job_id", BigId, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("resolved_at", UtcDateTime, nullable=True),
    sa.CheckConstraint("state IN ('pending', 'succeeded', 'failed')", name="state"),
)
# At most one unresolved write per object and operation: the retry after a crash finds it.
sa.Index(
    "uq_write_intents_open",
    write_intents.c.connection_id,
    write_intents.c.fb_type,
    write_intents.c.fb_id,
    write_intents.c.ramp_type,
    write_intents.c.operation,
    unique=True,
    sqlite_where=write_intents.c.state == "pending",
    postgresql_where=write_intents.c.state == "pending",
)

# An object's writes newest first: a vendor create asks which one came before its own.
sa.Index(
    "ix_write_intents_object",
    write_intents.c.connection_id,
    write_intents.c.fb_type,
    write_intents.c.fb_id,
    write_intents.c.ramp_type,
    write_intents.c.operation,
    write_intents.c.id,
)

mapping_versions = sa.Table(
    "mapping_versions",
    metadata,
    _id(),
    _connection_fk(),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("document", sa.JSON, nullable=False),
    sa.Column("author", sa.String(200), nullable=False),
    sa.Column("comment", sa.Text, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("connection_id", "version"),
)

webhook_inbox = sa.Table(
    "webhook_inbox",
    metadata,
    _id(),
    sa.Column("source", sa.String(32), nullable=False),
    _connection_fk(nullable=True),
    sa.Column("dedupe_key", sa.String(200), nullable=False),
    sa.Column("received_at", UtcDateTime, nullable=False),
    sa.Column("headers", sa.JSON, nullable=False),
    sa.Column("body", sa.LargeBinary, nullable=False),
    sa.Column("body_sha256", sa.String(64), nullable=False),
    sa.Column("processed_at", UtcDateTime, nullable=True),
    # Set when retention emptied `body`; `body_sha256` stays, so the audit rows that cite
    # the delivery by digest still name exactly what was received.
    sa.Column("body_purged_at", UtcDateTime, nullable=True),
    sa.UniqueConstraint("source", "dedupe_key"),
)
sa.Index(None, webhook_inbox.c.received_at)

audit_log = sa.Table(
    "audit_log",
    metadata,
    _id(),
    sa.Column("connection_id", BigId, nullable=True),
    # Entries about one object form one hash chain; `seq` orders it.
    sa.Column("chain", sa.String(200), nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("object_type", sa.String(32), nullable=False),
    sa.Column("fb_id", sa.String(64), nullable=True),
    sa.Column("ramp_id", sa.String(64), nullable=True),
    sa.Column("step", sa.String(64), nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("job_id", BigId, nullable=True),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("detail", sa.JSON, nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("entry_hash", sa.String(64), nullable=False),
    sa.UniqueConstraint("chain", "seq"),
)
sa.Index(None, audit_log.c.fb_id)
sa.Index(None, audit_log.c.ramp_id)
sa.Index(None, audit_log.c.at)

audit_checkpoints = sa.Table(
    "audit_checkpoints",
    metadata,
    _id(),
    # Checkpoints form their own hash chain (`seq`, `prev_hash`, `checkpoint_hash`). Each
    # records the head (last seq and entry hash) of every audit chain that moved since the
    # previous one, so deleting a chain's newest entries — or a whole chain — is caught.
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("through_id", BigId, nullable=False),
    sa.Column("chains", sa.Integer, nullable=False),
    sa.Column("entries", sa.BigInteger, nullable=False),
    sa.Column("heads", sa.JSON, nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("checkpoint_hash", sa.String(64), nullable=False),
    sa.UniqueConstraint("seq"),
)

JOB_STATES = (
    "available",
    "running",
    "retryable",
    "completed",
    "dead",
    "attention",
    "cancelled",
)
WAITING_STATES = ("available", "retryable")

jobs = sa.Table(
    "jobs",
    metadata,
    _id(),
    sa.Column("kind", sa.String(100), nullable=False),
    sa.Column("queue", sa.String(64), nullable=False),
    sa.Column("connection_id", BigId, nullable=True),
    sa.Column("args", sa.JSON, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("priority", sa.Integer, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("max_attempts", sa.Integer, nullable=False),
    sa.Column("scheduled_at", UtcDateTime, nullable=False),
    sa.Column("lease_owner", sa.String(200), nullable=True),
    sa.Column("lease_until", UtcDateTime, nullable=True),
    sa.Column("lock_key", sa.String(200), nullable=True),
    sa.Column("unique_key", sa.String(200), nullable=True),
    sa.Column("coalesced", sa.Integer, nullable=False),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("errors", sa.JSON, nullable=False),
    sa.Column("replays", sa.Integer, nullable=False),
    sa.Column("replayed_by", sa.String(200), nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("attempted_at", UtcDateTime, nullable=True),
    sa.Column("finalized_at", UtcDateTime, nullable=True),
    sa.CheckConstraint(
        "state IN (" + ", ".join(f"'{s}'" for s in JOB_STATES) + ")",
        name="state",
    ),
)
_waiting = jobs.c.state.in_(WAITING_STATES)
# At most one waiting job per unique key: a burst of webhooks for one object coalesces.
sa.Index(
    "uq_jobs_unique_key_waiting",
    jobs.c.unique_key,
    unique=True,
    sqlite_where=_waiting,
    postgresql_where=_waiting,
)
# At most one running job per lock key: one object is never processed twice at once.
sa.Index(
    "uq_jobs_lock_key_running",
    jobs.c.lock_key,
    unique=True,
    sqlite_where=jobs.c.state == "running",
    postgresql_where=jobs.c.state == "running",
)
sa.Index("ix_jobs_claim", jobs.c.state, jobs.c.queue, jobs.c.scheduled_at)
# Claims read each connection's next waiting jobs in claim order, and find the connections
# that have any, by seeks in this index rather than by sorting the whole queue.
sa.Index(
    "ix_jobs_waiting_by_connection",
    jobs.c.connection_id,
    jobs.c.priority,
    jobs.c.scheduled_at,
    jobs.c.id,
    sqlite_where=_waiting,
    postgresql_where=_waiting,
)
sa.Index("ix_jobs_kind_state", jobs.c.kind, jobs.c.state)
sa.Index("ix_jobs_lease", jobs.c.state, jobs.c.lease_until)

rate_keys = sa.Table(
    "rate_keys",
    metadata,
    # One row per budget key: the row is locked to serialize bookings across workers.
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("paused_until", UtcDateTime, nullable=True),
)

rate_bookings = sa.Table(
    "rate_bookings",
    metadata,
    _id(),
    sa.Column(
        "key",
        sa.String(200),
        sa.ForeignKey("rate_keys.key", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("booked_at", UtcDateTime, nullable=False),
)
sa.Index(None, rate_bookings.c.key, rate_bookings.c.booked_at)

sync_state = sa.Table(
    "sync_state",
    metadata,
    # Small per-connection documents: backfill runs, sweep watermarks, schedules. One row
    # per (connection, key); writers lock the row to read-modify-write it.
    _connection_fk(),
    sa.Column("key", sa.String(100), nullable=False),
    sa.Column("value", sa.JSON, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.PrimaryKeyConstraint("connection_id", "key"),
)

object_marks = sa.Table(
    "object_marks",
    metadata,
    # The FreshBooks version of each object last handed to the sync pipeline (by the
    # backfill, the sweep, or seen as notified by a webhook): the sweep's baseline.
    _connection_fk(),
    sa.Column("fb_type", sa.String(32), nullable=False),
    sa.Column("fb_id", sa.String(64), nullable=False),
    sa.Column("version", sa.String(100), nullable=False),
    sa.Column("remote_updated_at", UtcDateTime, nullable=True),
    sa.Column("seen_at", UtcDateTime, nullable=False),
    sa.PrimaryKeyConstraint("connection_id", "fb_type", "fb_id"),
)

__all__ = [
    "JOB_STATES",
    "WAITING_STATES",
    "UtcDateTime",
    "audit_checkpoints",
    "audit_log",
    "connections",
    "credentials",
    "jobs",
    "links",
    "mapping_versions",
    "metadata",
    "oauth_tokens",
    "object_marks",
    "rate_bookings",
    "rate_keys",
    "sync_state",
    "webhook_inbox",
    "write_intents",
]
