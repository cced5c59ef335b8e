"""The admin UI mounted in a bare Starlette app, against both emulators in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx2
import pytest
from admin_env import AdminEnv, build_app

from ml_connector.store.testing import sqlite_database
from support.harness import PUBLIC_URL, Harness


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[AdminEnv]:
    with sqlite_database(tmp_path) as url:
        async with Harness.start(url, scenario="empty", data_dir=tmp_path) as h:
            app = build_app(h)
            async with httpx2.AsyncClient(
                transport=httpx2.ASGITransport(app=app), base_url=PUBLIC_URL
            ) as client:
                yield AdminEnv(h=h, app=app, client=client)


@pytest.fixture
async def signed_in(env: AdminEnv) -> AdminEnv:
    await env.login()
    return env
