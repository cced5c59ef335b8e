"""A connected harness with the connect handlers, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from ml_connector.store.testing import (
    PostgresUnavailableError,
    postgres_database,
    postgres_required,
    sqlite_database,
)


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
