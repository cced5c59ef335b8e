"""/healthz and /metrics describe the shared database."""

from __future__ import annotations

import httpx2
import pytest
from webhook_env import WebhookEnv

from ml_connector.store import make_engine
from ml_connector.sync.runtime import Runtime
from ml_connector.web.app import create_app
from ml_connector.web.deps import AppDeps

pytestmark = pytest.mark.anyio


async def test_healthz_reports_database_migrations_and_queue(env: WebhookEnv) -> None:
    await env.register()
    async with env.client() as http:
        answer = await http.get("/healthz")
    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == "ok"
    assert body["migrations"] == "current"
    assert body["queue"]["by_state"]["completed"] >= 6
    assert answer.headers["x-request-id"]


async def test_healthz_is_503_when_the_database_is_unreachable(env: WebhookEnv) -> None:
    # A refused TCP port: fails at once, with no driver thread left behind (an aiosqlite
    # connect that fails can post its result after the test's event loop has closed).
    engine = make_engine("postgresql+psycopg://mlc@127.0.0.1:1/unreachable")
    try:
        app = create_app(AppDeps(Runtime.build(engine, env.h.settings, clock=env.h.clock.now)))
        async with httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=app), base_url="https://connector.test"
        ) as http:
            answer = await http.get("/healthz")
    finally:
        await engine.dispose()
    assert answer.status_code == 503
    assert answer.json()["database"].startswith("unreachable")


async def test_metrics_expose_webhook_acks_queue_depth_and_token_horizon(env: WebhookEnv) -> None:
    await env.register()
    async with env.client() as http:
        await http.post(f"/webhooks/freshbooks/{env.connection.id}", content=b"name=bill.create")
        answer = await http.get("/metrics")
    assert answer.status_code == 200
    text = answer.text
    assert 'mlc_webhook_acks_total{outcome="bad_signature",source="freshbooks"}' in text
    assert 'mlc_webhook_acks_total{outcome="handshake",source="ramp"}' in text
    assert 'mlc_queue_jobs{state="completed"}' in text
    line = next(
        ln
        for ln in text.splitlines()
        if ln.startswith(
            f'mlc_token_expiry_seconds{{connection_id="{env.connection.id}",system="freshbooks"}}'
        )
    )
    assert float(line.split()[-1]) > 0
