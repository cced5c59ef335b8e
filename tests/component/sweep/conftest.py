"""Fixtures for the backfill/sweep/scheduler component tests: the harness on SQLite and
PostgreSQL, and helpers to run only the jobs a test is about."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from support.harness import Harness


@pytest.fixture
async def empty_firm(database_url: str, tmp_path: Path) -> AsyncIterator[Harness]:
    """An empty FreshBooks and Ramp, connected; webhooks reach nobody."""
    async with Harness.start(database_url, scenario="empty", data_dir=tmp_path) as h:
        await h.connect()
        yield h
