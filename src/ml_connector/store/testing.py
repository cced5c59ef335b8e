"""Test support shipped with the store: throwaway databases on SQLite and PostgreSQL.

Used by the integration suites (and anyone testing on top of the store): each yields a
migrated database URL and removes the database afterwards.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from ml_connector.store import migrate
from ml_connector.store.schema import metadata

POSTGRES_URL_ENV = "MLC_TEST_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


class PostgresUnavailableError(RuntimeError):
    """The test PostgreSQL server cannot be reached."""


def postgres_admin_url() -> str:
    return os.environ.get(POSTGRES_URL_ENV, DEFAULT_POSTGRES_URL)


def postgres_required() -> bool:
    """In CI the PostgreSQL tier is mandatory: an unreachable server is a failure."""
    return os.environ.get("CI", "").lower() == "true"


@contextmanager
def sqlite_database(directory: Path | None = None) -> Iterator[str]:
    """A migrated SQLite file in a temporary directory."""
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'test.db'}"
        migrate.upgrade(url)
        yield url


@contextmanager
def postgres_database(prefix: str = "mlc_test") -> Iterator[str]:
    """A freshly created, migrated PostgreSQL database, dropped afterwards."""
    admin = make_url(postgres_admin_url()).set(drivername="postgresql+psycopg")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as exc:
        engine.dispose()
        raise PostgresUnavailableError(
            f"PostgreSQL at {admin.render_as_string(hide_password=True)} is unreachable "
            f"(set {POSTGRES_URL_ENV})"
        ) from exc
    url = admin.set(database=name).render_as_string(hide_password=False)
    try:
        migrate.upgrade(url)
        yield url
    finally:
        with engine.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        engine.dispose()


async def truncate_all(engine: AsyncEngine) -> None:
    """Empty every table (between tests sharing one migrated database)."""
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
            await conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
        else:
            for table in reversed(metadata.sorted_tables):
                await conn.execute(table.delete())


__all__ = [
    "DEFAULT_POSTGRES_URL",
    "POSTGRES_URL_ENV",
    "PostgresUnavailableError",
    "postgres_admin_url",
    "postgres_database",
    "postgres_required",
    "sqlite_database",
    "truncate_all",
]
