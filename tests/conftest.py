"""Shared fixtures for every tier.

Async tests run on anyio's pytest plugin (`@pytest.mark.anyio`), on asyncio only.
"""

from __future__ import annotations

import os

import pytest


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
