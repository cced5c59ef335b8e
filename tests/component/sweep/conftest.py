"""Fixtures for the backfill/sweep/scheduler component tests: the harness on SQLite and
PostgreSQL, and helpers to run only the jobs a test is about."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from ml_connector.store.testing import (
    PostgresUnavailableError,
    postgres_database,
    postgres_required,
    sqlite_database,
)
from support.harness import Harness


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


@pytest.fixture
async def empty_firm(database_url: str, tmp_path: Path) -> AsyncIterator[Harness]:
    """An empty FreshBooks and Ramp, connected; webhooks reach nobody."""
    async with Harness.start(database_url, scenario="empty", data_dir=tmp_path) as h:
        await h.connect()
        yield h
