"""Connections: one FreshBooks business linked to one Ramp business and entity.

Functions take the caller's `AsyncConnection` (named `db` here, to keep it apart from
the product's "connection") so that several writes share one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ml_connector.store.schema import connections, oauth_tokens
from ml_connector.store.tokens import token_key


class ConnectionStatus(StrEnum):
    PENDING = "pending"
    """Created; one side or both are not authorized yet."""
    ACTIVE = "active"
    NEEDS_RECONNECT = "needs_reconnect"
    """FreshBooks refused the refresh token: a user must authorize again."""
    PAUSED = "paused"
    """An operator stopped syncing; nothing is lost, jobs wait."""
    DISCONNECTED = "disconnected"


@dataclass(frozen=True, kw_only=True)
class Connection:
    id: int
    name: str
    status: ConnectionStatus
    status_reason: str | None
    freshbooks_account_id: str | None
    freshbooks_business_id: str | None
    ramp_business_id: str | None
    ramp_entity_id: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> Connection:
        m = row._mapping
        return cls(
            id=m["id"],
            name=m["name"],
            status=ConnectionStatus(m["status"]),
            status_reason=m["status_reason"],
            freshbooks_account_id=m["freshbooks_account_id"],
            freshbooks_business_id=m["freshbooks_business_id"],
            ramp_business_id=m["ramp_business_id"],
            ramp_entity_id=m["ramp_entity_id"],
            created_at=m["created_at"],
            updated_at=m["updated_at"],
        )


class ConnectionNotFoundError(LookupError):
    """No connection has this id."""


async def create(
    db: AsyncConnection,
    *,
    name: str,
    now: datetime,
    freshbooks_account_id: str | None = None,
    freshbooks_business_id: str | None = None,
    ramp_business_id: str | None = None,
    ramp_entity_id: str | None = None,
    status: ConnectionStatus = ConnectionStatus.PENDING,
) -> Connection:
    """Insert a connection; `name` is unique (it is how operators refer to it)."""
    row = (
        await db.execute(
            connections.insert()
            .values(
                name=name,
                status=status.value,
                freshbooks_account_id=freshbooks_account_id,
                freshbooks_business_id=freshbooks_business_id,
                ramp_business_id=ramp_business_id,
                ramp_entity_id=ramp_entity_id,
                created_at=now,
                updated_at=now,
            )
            .returning(*connections.c)
        )
    ).one()
    return Connection.from_row(row)


async def get(db: AsyncConnection, connection_id: int) -> Connection:
    row = (
        await db.execute(sa.select(connections).where(connections.c.id == connection_id))
    ).one_or_none()
    if row is None:
        raise ConnectionNotFoundError(f"no connection {connection_id}")
    return Connection.from_row(row)


async def find_by_name(db: AsyncConnection, name: str) -> Connection | None:
    row = (await db.execute(sa.select(connections).where(connections.c.name == name))).one_or_none()
    return None if row is None else Connection.from_row(row)


async def find_by_freshbooks(
    db: AsyncConnection, *, account_id: str | None = None, business_id: str | None = None
) -> list[Connection]:
    """Connections for a FreshBooks account or business (webhooks name both)."""
    if account_id is None and business_id is None:
        raise ValueError("give account_id or business_id")
    query = sa.select(connections).order_by(connections.c.id)
    if account_id is not None:
        query = query.where(connections.c.freshbooks_account_id == account_id)
    if business_id is not None:
        query = query.where(connections.c.freshbooks_business_id == business_id)
    return [Connection.from_row(r) for r in await db.execute(query)]


async def find_by_ramp_business(db: AsyncConnection, business_id: str) -> list[Connection]:
    query = (
        sa.select(connections)
        .where(connections.c.ramp_business_id == business_id)
        .order_by(connections.c.id)
    )
    return [Connection.from_row(r) for r in await db.execute(query)]


async def list_all(db: AsyncConnection) -> list[Connection]:
    return [
        Connection.from_row(r)
        for r in await db.execute(sa.select(connections).order_by(connections.c.id))
    ]


async def update(
    db: AsyncConnection,
    connection_id: int,
    *,
    now: datetime,
    **fields: str | None,
) -> Connection:
    """Change any of the identity fields (`name`, `freshbooks_*`, `ramp_*`)."""
    allowed = {
        "name",
        "freshbooks_account_id",
        "freshbooks_business_id",
        "ramp_business_id",
        "ramp_entity_id",
    }
    unknown = set(fields) - allowed
    if unknown:
        raise ValueError(f"cannot update {sorted(unknown)}")
    row = (
        await db.execute(
            connections.update()
            .where(connections.c.id == connection_id)
            .values(**fields, updated_at=now)
            .returning(*connections.c)
        )
    ).one_or_none()
    if row is None:
        raise ConnectionNotFoundError(f"no connection {connection_id}")
    return Connection.from_row(row)


async def set_status(
    db: AsyncConnection,
    connection_id: int,
    status: ConnectionStatus,
    *,
    now: datetime,
    reason: str | None = None,
) -> Connection:
    """Record a status change with the reason shown to the accounting team."""
    row = (
        await db.execute(
            connections.update()
            .where(connections.c.id == connection_id)
            .values(status=status.value, status_reason=reason, updated_at=now)
            .returning(*connections.c)
        )
    ).one_or_none()
    if row is None:
        raise ConnectionNotFoundError(f"no connection {connection_id}")
    return Connection.from_row(row)


async def lock(db: AsyncConnection, connection_id: int) -> Connection:
    """Read the connection and lock its row until the transaction ends.

    Serializes per-connection writes such as "next mapping version" on PostgreSQL; on
    SQLite the write transaction already holds the database lock.
    """
    row = (
        await db.execute(
            sa.select(connections).where(connections.c.id == connection_id).with_for_update()
        )
    ).one_or_none()
    if row is None:
        raise ConnectionNotFoundError(f"no connection {connection_id}")
    return Connection.from_row(row)


async def delete(db: AsyncConnection, connection_id: int) -> bool:
    """Remove a connection, its tokens and (by cascade) its credentials, links and mappings."""
    keys = [token_key(system, connection_id) for system in ("freshbooks", "ramp")]
    await db.execute(oauth_tokens.delete().where(oauth_tokens.c.key.in_(keys)))
    result = await db.execute(connections.delete().where(connections.c.id == connection_id))
    return bool(result.rowcount)


__all__ = [
    "Connection",
    "ConnectionNotFoundError",
    "ConnectionStatus",
    "create",
    "delete",
    "find_by_freshbooks",
    "find_by_name",
    "find_by_ramp_business",
    "get",
    "list_all",
    "lock",
    "set_status",
    "update",
]
