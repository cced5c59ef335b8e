"""Async engines for the two supported databases, and the transaction helpers.

SQLite (the embedded default): WAL so readers never wait for the writer, a busy timeout
well under a webhook's 10 s budget, foreign keys on, and SQLAlchemy in charge of `BEGIN`
(the SQLite dialect docs' recipe for aiosqlite) so that a write transaction takes the
write lock up front with `BEGIN IMMEDIATE` instead of failing on a lock upgrade halfway.
PostgreSQL (scale-out): psycopg 3.

`engine.begin()` is a write transaction on both; `read()` opens a deferred one for pages
and reports that only read.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

BUSY_TIMEOUT_MS = 5000
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


def make_engine(url: str | URL, **kwargs: Any) -> AsyncEngine:
    """An `AsyncEngine` for `url` (sqlite or postgresql; the driver is chosen here)."""
    target = async_url(url)
    if target.get_backend_name() == "sqlite":
        engine = create_async_engine(target, **kwargs)
        configure_sqlite(engine.sync_engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(target, **kwargs)


def configure_sqlite(sync_engine: Any) -> None:
    """Install the pragmas and explicit `BEGIN` on a (sync side of an) SQLite engine."""

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # The driver must not open transactions itself; `_on_begin` does.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
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
    "async_url",
    "configure_sqlite",
    "is_postgresql",
    "make_engine",
    "read",
    "sync_url",
]
