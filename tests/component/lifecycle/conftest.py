"""Fixtures of the bill-lifecycle tests: SQLite and PostgreSQL, in-call retries without sleeps."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import stamina
from lifecycle_env import LifecycleEnv

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


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
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


@pytest.fixture
async def env(database_url: str, tmp_path: Path) -> AsyncIterator[LifecycleEnv]:
    async with LifecycleEnv.start(database_url, tmp_path) as env:
        yield env
