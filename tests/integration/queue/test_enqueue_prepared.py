"""Coalescing enqueue keeps working once psycopg prepares the statement (PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ml_connector.queue import enqueue

NOW = datetime(2026, 11, 2, tzinfo=UTC)


@pytest.mark.anyio
async def test_many_unique_enqueues_on_one_connection(engine: AsyncEngine) -> None:
    async with engine.begin() as db:
        # psycopg prepares a statement after 5 executions; go well past that.
        for n in range(25):
            first = await enqueue(db, kind="k", args={}, now=NOW, unique_key=f"u{n}")
            again = await enqueue(db, kind="k", args={}, now=NOW, unique_key=f"u{n}")
            assert not first.coalesced
            assert again.coalesced
            assert again.job_id == first.job_id
