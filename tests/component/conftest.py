"""Databases for every component suite: `database_url` (SQLite and PostgreSQL), `sqlite_url`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.databases import BOTH, database


@pytest.fixture(params=BOTH)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Both databases: for the tests that must hold on each."""
    yield from database(request.param, tmp_path)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> Iterator[str]:
    """SQLite only: for tests whose logic does not depend on the engine."""
    yield from database("sqlite", tmp_path)
