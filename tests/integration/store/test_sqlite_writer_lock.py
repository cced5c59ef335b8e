"""SQLite write transactions of one process take turns before `BEGIN IMMEDIATE`.

The turn replaces SQLite's busy handler inside a process (first come, first served, no
back-off naps) and shares its timeout, so a write opened by a task that the current
writer awaits fails after the timeout instead of hanging.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from ml_connector.store import read
from ml_connector.store.engine import POSTGRES_POOL_SIZE, SQLiteEngine, make_engine
from ml_connector.store.testing import sqlite_database


@pytest.fixture
def sqlite_url() -> Iterator[str]:
    with sqlite_database() as url:
        yield url


@asynccontextmanager
async def scratch_engine(url: str, **kwargs: Any) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(url, **kwargs)
    try:
        async with engine.begin() as db:
            await db.execute(sa.text("CREATE TABLE scratch (n INTEGER NOT NULL)"))
        yield engine
    finally:
        await engine.dispose()


def writes_begun(engine: AsyncEngine) -> list[str]:
    """Every `BEGIN IMMEDIATE` sent to SQLite, counted before SQLite may make it wait."""
    begun: list[str] = []

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _count(*args: Any) -> None:
        statement = args[2]
        if statement == "BEGIN IMMEDIATE":
            begun.append(statement)

    return begun


async def insert(engine: AsyncEngine, n: int) -> None:
    async with engine.begin() as db:
        await db.execute(sa.text("INSERT INTO scratch (n) VALUES (:n)"), {"n": n})


async def rows(engine: AsyncEngine) -> list[int]:
    async with read(engine) as db:
        return list((await db.execute(sa.text("SELECT n FROM scratch ORDER BY rowid"))).scalars())


@pytest.mark.anyio
async def test_writers_wait_their_turn_in_arrival_order_and_readers_do_not_wait(
    sqlite_url: str,
) -> None:
    async with scratch_engine(sqlite_url) as engine:
        assert isinstance(engine, SQLiteEngine)
        begun = writes_begun(engine)
        holding, release = anyio.Event(), anyio.Event()

        async def first() -> None:
            async with engine.begin() as db:
                await db.execute(sa.text("INSERT INTO scratch (n) VALUES (0)"))
                holding.set()
                await release.wait()

        with anyio.fail_after(20):
            async with anyio.create_task_group() as tg:
                tg.start_soon(first)
                await holding.wait()
                try:
                    for n in range(1, 6):
                        tg.start_soon(insert, engine, n)
                        await anyio.sleep(0.01)  # arrive in order
                    waiting_in_sqlite = len(begun) - 1
                    read_while_held = await rows(engine)
                finally:
                    release.set()
        # Five writers waited, none of them inside SQLite; a reader passed the queue.
        assert waiting_in_sqlite == 0
        assert read_while_held == []
        assert await rows(engine) == [0, 1, 2, 3, 4, 5]
        assert len(begun) == 6


@pytest.mark.anyio
async def test_a_write_nested_in_a_task_the_writer_awaits_fails_instead_of_hanging(
    sqlite_url: str,
) -> None:
    async with scratch_engine(sqlite_url, busy_timeout_ms=200) as engine:
        errors: list[OperationalError] = []

        async def nested() -> None:
            try:
                await insert(engine, 2)
            except OperationalError as exc:
                errors.append(exc)

        with anyio.fail_after(20):
            async with engine.begin() as db:
                await db.execute(sa.text("INSERT INTO scratch (n) VALUES (1)"))
                async with anyio.create_task_group() as tg:
                    tg.start_soon(nested)
            # The turn that timed out was never taken: the next writer gets one at once.
            await insert(engine, 3)
        assert [str(e.orig) for e in errors] == [
            "database is locked: no turn to write within 0.2 s"
        ]
        assert await rows(engine) == [1, 3]


@pytest.mark.anyio
async def test_a_failed_write_gives_its_turn_back(sqlite_url: str) -> None:
    async with scratch_engine(sqlite_url, busy_timeout_ms=200) as engine:

        async def fail() -> None:
            async with engine.begin() as db:
                await db.execute(sa.text("INSERT INTO scratch (n) VALUES (1)"))
                raise RuntimeError("boom")

        with pytest.raises(RuntimeError, match="boom"):
            await fail()
        with anyio.fail_after(20):
            await insert(engine, 2)
        assert await rows(engine) == [2]


def test_one_engine_serves_successive_event_loops(sqlite_url: str) -> None:
    # An asyncio.Lock belongs to the loop it first waited in; each loop gets its own.
    engine = make_engine(sqlite_url)

    async def write(n: int) -> None:
        try:
            if n == 1:
                async with engine.begin() as db:
                    await db.execute(sa.text("CREATE TABLE scratch (n INTEGER NOT NULL)"))
            await asyncio.gather(*(insert(engine, n) for _ in range(3)))
        finally:
            await engine.dispose()

    asyncio.run(write(1))
    asyncio.run(write(2))

    async def count() -> list[int]:
        try:
            return await rows(engine)
        finally:
            await engine.dispose()

    assert asyncio.run(count()) == [1, 1, 1, 2, 2, 2]


def test_postgresql_engines_take_no_turns_and_keep_their_connections() -> None:
    # Nothing connects here: the port is closed and no statement runs.
    engine = make_engine("postgresql+psycopg://mlc@127.0.0.1:1/none")
    assert not isinstance(engine, SQLiteEngine)
    pool: Any = engine.sync_engine.pool
    assert pool.size() == POSTGRES_POOL_SIZE
    assert pool._max_overflow == 0
