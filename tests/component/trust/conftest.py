"""Fixtures of the trust tests (impact, audit, freshness): SQLite and PostgreSQL, no sleeps."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import stamina


@pytest.fixture(autouse=True)
def _stamina_testing() -> Iterator[None]:
    with stamina.set_testing(True, attempts=3):
        yield
