"""Read side of the webhook inbox for reconciliation: what the webhooks told us, since when.

The sweep calls an object "missed by webhook" only when FreshBooks changed it and no
delivery for it reached the inbox after the connector last looked; these queries give it
the deliveries to compare against.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ml_connector.store.inbox import Delivery
from ml_connector.store.schema import webhook_inbox


async def deliveries_since(
    db: AsyncConnection,
    *,
    source: str,
    connection_id: int,
    since: datetime | None,
    limit: int = 50_000,
) -> list[Delivery]:
    """Deliveries from `source` for the connection received at or after `since`, oldest first.

    `since=None` means every delivery still in the inbox (retention bounds it).
    """
    query = (
        sa.select(webhook_inbox)
        .where(webhook_inbox.c.source == source, webhook_inbox.c.connection_id == connection_id)
        .order_by(webhook_inbox.c.received_at, webhook_inbox.c.id)
        .limit(limit)
    )
    if since is not None:
        query = query.where(webhook_inbox.c.received_at >= since)
    return [Delivery.from_row(row) for row in await db.execute(query)]


__all__ = ["deliveries_since"]
