"""Helpers for the admin UI tests: the app in a bare Starlette, a signed-in client."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx2
from starlette.applications import Starlette

from ml_connector.core.retry import DeadLetter, NeedsAttention
from ml_connector.queue import claim, fail
from ml_connector.sync.kinds import Kind, Source, enqueue_object_sync
from ml_connector.web.admin import mount
from ml_connector.web.deps import AppDeps
from support.harness import Harness

ADMIN_USER = "admin"
ADMIN_PASSWORD = "test-admin-password"  # what the harness configures
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


@dataclass
class AdminEnv:
    h: Harness
    app: Starlette
    client: httpx2.AsyncClient

    async def token(self, path: str = "/login") -> str:
        page = await self.client.get(path)
        return csrf_from(page.text)

    async def login(self) -> None:
        token = await self.token("/login")
        answer = await self.client.post(
            "/login",
            data={"username": ADMIN_USER, "password": ADMIN_PASSWORD, "csrf_token": token},
        )
        assert answer.status_code == 303, answer.text
        assert answer.headers["location"] == "/"

    async def post(
        self, path: str, data: dict[str, Any], *, token_from: str = "/"
    ) -> httpx2.Response:
        token = await self.token(token_from)
        return await self.client.post(path, data={**data, "csrf_token": token})

    async def dead_job(self, connection_id: int, *, attention: bool = False) -> int:
        now = self.h.clock.now()
        async with self.h.engine.begin() as db:
            job = await enqueue_object_sync(
                db, kind=Kind.SYNC_VENDOR, connection_id=connection_id, fb_id="77",
                source=Source.WEBHOOK, now=now,
            )  # fmt: skip
        async with self.h.engine.begin() as db:
            [claimed] = await claim(db, owner="test", now=now, lease=timedelta(minutes=1))
            decision = (
                NeedsAttention(reason="two Ramp vendors match 'Acme'", code="vendor.ambiguous")
                if attention
                else DeadLetter(reason="Ramp said no")
            )
            await fail(
                db, claimed.id, owner="test", decision=decision,
                error="two Ramp vendors match 'Acme'" if attention else "Ramp said no", now=now,
            )  # fmt: skip
        return job.job_id


def build_app(h: Harness) -> Starlette:
    routes, middleware = mount(AppDeps(runtime=h.runtime))
    return Starlette(routes=routes, middleware=middleware)
