"""Throwaway databases for the component and e2e tiers: SQLite always, PostgreSQL too.

PostgreSQL is skipped only outside CI: with `CI=true` an unreachable server fails the
test instead of quietly skipping it into green.
"""

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

BOTH = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
"""`params` for a fixture that runs a test on each database."""


def database(kind: str, directory: Path | None = None) -> Iterator[str]:
    """Yield the URL of a migrated, empty database of `kind`; remove it afterwards."""
    if kind == "sqlite":
        with sqlite_database(directory) as url:
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


__all__ = ["BOTH", "database"]
