"""The product's web app and connect handlers on both emulators, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from webhook_env import WebhookEnv

from ml_connector.queue import Registry, Worker
from ml_connector.sync.connect import register_connect_handlers
from ml_connector.web.app import create_app
from ml_connector.web.deps import AppDeps
from support.harness import Harness


@pytest.fixture
async def env(database_url: str, tmp_path: Path) -> AsyncIterator[WebhookEnv]:
    async with Harness.start(database_url, scenario="empty", data_dir=tmp_path) as h:
        connection = await h.connect()
        app = create_app(AppDeps(h.runtime))
        h.route_webhooks_to(app)
        registry = Registry()
        register_connect_handlers(registry, h.runtime)
        worker = Worker(h.engine, registry, clock=h.clock.now, poll_interval=0.01)
        yield WebhookEnv(h=h, app=app, worker=worker, connection=connection)
