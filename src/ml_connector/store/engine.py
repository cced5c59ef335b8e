"""Async engines for the two supported databases, and the transaction helpers.

SQLite (the embedded default): WAL so readers never wait for the writer, a busy timeout
well under a webhook's 10 s budget, foreign keys on, and SQLAlchemy in charge of `BEGIN`
(the SQLite dialect docs' recipe for aiosqlite) so that a write transaction takes the
write lock up front with `BEGIN IMMEDIATE` instead of failing on a lock upgrade halfway.
PostgreSQL (scale-out): psycopg 3.

`engine.begin()` is a write transaction on both; `read()` opens a deferred one for pages
and reports that only read.

On SQLite, the write transactions of one process also take turns in the process
(`engine.begin()` waits for an asyncio lock before `BEGIN IMMEDIATE`). SQLite's busy
handler does not queue: a waiting writer sleeps and polls with growing back-off (up to
100 ms a nap), so under concurrent webhooks the lock went to whoever polled at the right
moment and the unlucky waited seconds. The in-process turn is first come, first served
and is handed over the moment the previous writer commits; the busy timeout still
arbitrates between processes (a worker and a server on one file).
"""

from __future__ import annotations

import asyncio
import sqlite3
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

BUSY_TIMEOUT_MS = 5000
POSTGRES_POOL_SIZE = 15
"""Connections one process keeps to PostgreSQL (SQLAlchemy's default cap, 5 + 10)."""
_READ_ONLY = "mlc_read_only"


def async_url(url: str | URL) -> URL:
    """The URL with the async driver we support for its database."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite")
    if backend in {"postgresql", "postgres"}:
        return parsed.set(drivername="postgresql+psycopg")
    raise ValueError(f"unsupported database {backend!r}: use sqlite or postgresql")


def sync_url(url: str | URL) -> URL:
    """The URL with the synchronous driver (migrations and CLI maintenance)."""
    parsed = async_url(url)
    if parsed.get_backend_name() == "sqlite":
        return parsed.set(drivername="sqlite")
    return parsed


class _WriterTurns:
    """One write transaction at a time per event loop, for one SQLite engine.

    A lock per loop, not one for the engine: an `asyncio.Lock` belongs to the loop that
    first waits on it, and one engine may outlive a loop (`asyncio.run` twice in tests).
    """

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            lock = self._locks[loop] = asyncio.Lock()
        try:
            # The wait shares the busy timeout's budget, so a writer still gives up (and a
            # webhook answers 503) within it; and a write transaction opened by a task
            # that the lock holder awaits fails after it instead of hanging for good.
            async with asyncio.timeout(self.timeout_s):
                await lock.acquire()
        except TimeoutError:
            raise OperationalError(
                "BEGIN IMMEDIATE",
                None,
                sqlite3.OperationalError(
                    f"database is locked: no turn to write within {self.timeout_s:g} s"
                ),
            ) from None
        try:
            yield
        finally:
            lock.release()


_TURNS: weakref.WeakKeyDictionary[Engine, _WriterTurns] = weakref.WeakKeyDictionary()


class SQLiteEngine(AsyncEngine):
    """An `AsyncEngine` whose `begin()` waits for this process's turn to write.

    The turn lives beside the sync engine (`_TURNS`), not on this proxy: SQLAlchemy may
    rebuild the proxy from the sync engine alone.
    """

    __slots__ = ()

    @classmethod
    def _regenerate_proxy_for_target(cls, target: Engine, **_: Any) -> SQLiteEngine:
        return cls(target)

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        turns = _TURNS.get(self.sync_engine)
        if turns is None:
            async with super().begin() as conn:
                yield conn
            return
        async with turns.turn(), super().begin() as conn:
            yield conn


def make_engine(
    url: str | URL, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS, **kwargs: Any
) -> AsyncEngine:
    """An `AsyncEngine` for `url` (sqlite or postgresql; the driver is chosen here)."""
    target = async_url(url)
    if target.get_backend_name() == "sqlite":
        sync_engine = create_async_engine(target, **kwargs).sync_engine
        configure_sqlite(sync_engine, busy_timeout_ms=busy_timeout_ms)
        _TURNS[sync_engine] = _WriterTurns(busy_timeout_ms / 1000)
        return SQLiteEngine(sync_engine)
    kwargs.setdefault("pool_pre_ping", True)
    # SQLAlchemy's default (5 kept + 10 overflow) closes an overflow connection as soon
    # as it is returned, so a burst of webhooks paid a PostgreSQL backend start per
    # transaction beyond the fifth. The same cap of 15, all kept, costs no reconnects.
    if "poolclass" not in kwargs:
        kwargs.setdefault("pool_size", POSTGRES_POOL_SIZE)
        kwargs.setdefault("max_overflow", 0)
    return create_async_engine(target, **kwargs)


def configure_sqlite(sync_engine: Any, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> None:
    """Install the pragmas and explicit `BEGIN` on a (sync side of an) SQLite engine."""

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # The driver must not open transactions itself; `_on_begin` does.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get(_READ_ONLY):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


@asynccontextmanager
async def read(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A read-only transaction: on SQLite it does not take the write lock."""
    async with engine.connect() as conn:
        await conn.execution_options(**{_READ_ONLY: True})
        async with conn.begin():
            yield conn


def is_postgresql(conn: AsyncConnection) -> bool:
    return conn.dialect.name == "postgresql"


__all__ = [
    "BUSY_TIMEOUT_MS",
    "POSTGRES_POOL_SIZE",
    "SQLiteEngine",
    "async_url",
    "configure_sqlite",
    "is_postgresql",
    "make_engine",
    "read",
    "sync_url",
]
