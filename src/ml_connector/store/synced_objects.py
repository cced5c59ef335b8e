"""Every object of a connection that reached Ramp: what a mapping change may affect."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ml_connector.store.links import Link
from ml_connector.store.schema import links


async def synced_links(db: AsyncConnection, connection_id: int) -> list[Link]:
    """Links with a Ramp id, oldest first (several per object when its Ramp kind changed)."""
    rows = await db.execute(
        sa.select(links)
        .where(links.c.connection_id == connection_id, links.c.ramp_id.is_not(None))
        .order_by(links.c.id)
    )
    return [Link.from_row(r) for r in rows]


__all__ = ["synced_links"]
