"""What every campaign is given: its seed, a scratch directory and a database to use."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from ml_connector.store import migrate
from ml_connector.store.testing import postgres_admin_url, sqlite_database

SQLITE = "sqlite"
POSTGRESQL = "postgresql"


@dataclass(frozen=True)
class Context:
    seed: int
    tmp: Path
    database: str  # SQLITE | POSTGRESQL
    scale: float = 1.0
    """Multiplies object counts and cycles (a quick look: 0.5; never below the brief's
    floors, e.g. 20 kills)."""

    def rng(self, salt: str) -> random.Random:
        """One independent, seeded stream per use, so adding a draw elsewhere changes
        nothing here."""
        return random.Random(f"{self.seed}:{salt}")  # noqa: S311 - reproducible faults, not secrets

    def count(self, base: int, floor: int = 1) -> int:
        return max(floor, round(base * self.scale))

    @contextmanager
    def database_url(self, name: str, kind: str | None = None) -> Iterator[str]:
        """A fresh, migrated database for one campaign, removed afterwards."""
        kind = kind or self.database
        if kind == POSTGRESQL:
            with _postgres(f"mlc_chaos_{name.replace('-', '_')}") as url:
                yield url
            return
        directory = self.tmp / name
        directory.mkdir(parents=True, exist_ok=True)
        with sqlite_database(directory) as url:
            yield url


def _admin(statement: str) -> None:
    # A fresh, unpooled connection each time: the restart campaign kills every
    # connection the server had, and a pooled one would fail the clean-up.
    admin = make_url(postgres_admin_url()).set(drivername="postgresql+psycopg")
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(statement)
    finally:
        engine.dispose()


@contextmanager
def _postgres(prefix: str) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database on the test server, dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    _admin(f'CREATE DATABASE "{name}"')
    admin = make_url(postgres_admin_url()).set(drivername="postgresql+psycopg")
    url = admin.set(database=name).render_as_string(hide_password=False)
    try:
        migrate.upgrade(url)
        yield url
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


__all__ = ["POSTGRESQL", "SQLITE", "Context"]
