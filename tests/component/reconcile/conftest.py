"""Fixtures of the reconciliation tests: SQLite and PostgreSQL, retries without sleeps."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import stamina

from ml_connector.store.testing import (
    PostgresUnavailableError,
    postgres_database,
    postgres_required,
    sqlite_database,
)


@pytest.fixture(autouse=True)
def _stamina_testing() -> Iterator[None]:
    with stamina.set_testing(True, attempts=3):
        yield


def _database(kind: str, tmp_path: Path) -> Iterator[str]:
    if kind == "sqlite":
        with sqlite_database(tmp_path) as url:
            yield url
        return
    with ExitStack() as stack:
        try:
            url = stack.enter_context(postgres_database())
        except PostgresUnavailableError as exc:
            if postgres_required():
                pytest.fail(f"CI=true requires PostgreSQL: {exc}")
            pytest.skip(f"PostgreSQL tier skipped: {exc}")
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from _database(request.param, tmp_path)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> Iterator[str]:
    yield from _database("sqlite", tmp_path)
