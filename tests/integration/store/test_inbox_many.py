"""`inbox.record_many`: many deliveries in one statement, each recorded once, ids in order."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ml_connector.core.clock import FixedClock
from ml_connector.store import inbox
from ml_connector.store.engine import read
from ml_connector.store.schema import webhook_inbox

pytestmark = pytest.mark.anyio


def _delivery(clock: FixedClock, key: str, *, source: str = "freshbooks") -> inbox.NewDelivery:
    return inbox.NewDelivery(
        source=source,
        body=f"name=bill.create&object_id={key}".encode(),
        dedupe_key=key,
        received_at=clock(),
        headers={"Authorization": "Bearer nope", "User-Agent": "FreshBooks"},
        processed_at=clock(),
    )


async def test_record_many_answers_each_delivery_in_order(
    engine: AsyncEngine, clock: FixedClock
) -> None:
    async with engine.begin() as db:
        earlier = await inbox.record(
            db, source="freshbooks", body=b"old", dedupe_key="k2", received_at=clock()
        )
    batch = [
        _delivery(clock, "k1"),
        _delivery(clock, "k2"),  # recorded by an earlier transaction
        _delivery(clock, "k3"),
        _delivery(clock, "k1"),  # repeated within this call: the first one is kept
        _delivery(clock, "k1", source="ramp"),  # same key, other source: a delivery of its own
    ]
    async with engine.begin() as db:
        ids = await inbox.record_many(db, batch)
    assert earlier is not None
    assert ids[1] is None
    assert ids[3] is None
    new = [ids[0], ids[2], ids[4]]
    assert all(i is not None for i in new)
    assert len(set(new)) == 3
    async with read(engine) as db:
        stored = {
            row.id: row
            for row in await db.execute(
                sa.select(
                    webhook_inbox.c.id,
                    webhook_inbox.c.source,
                    webhook_inbox.c.dedupe_key,
                    webhook_inbox.c.headers,
                    webhook_inbox.c.processed_at,
                )
            )
        }
    assert len(stored) == 4
    for position, delivery_id in ((0, ids[0]), (2, ids[2]), (4, ids[4])):
        assert delivery_id is not None
        row = stored[delivery_id]
        assert (row.source, row.dedupe_key) == (batch[position].source, batch[position].dedupe_key)
        assert row.headers == {"user-agent": "FreshBooks"}
        assert row.processed_at is not None


async def test_record_many_of_nothing_writes_nothing(engine: AsyncEngine) -> None:
    async with engine.begin() as db:
        assert await inbox.record_many(db, []) == []
