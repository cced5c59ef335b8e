"""Shared fixtures for every tier.

Async tests run on anyio's pytest plugin (`@pytest.mark.anyio`), on asyncio only.
"""

from __future__ import annotations

import os

import pytest

_TIERS = ("unit", "component", "integration", "e2e", "contract")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test with its tier, taken from the directory it lives in."""
    for item in items:
        parts = item.path.parts
        for tier in _TIERS:
            if tier in parts:
                item.add_marker(getattr(pytest.mark, tier))


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests must not depend on the host's proxies or on stray MLC_ settings."""
    for name in list(os.environ):
        if name.lower().endswith("_proxy") or (
            name.startswith("MLC_") and name != "MLC_TEST_POSTGRES_URL"
        ):
            monkeypatch.delenv(name, raising=False)
