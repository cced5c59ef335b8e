"""The webhook endpoints with live hooks, shared by every hypothesis example of a module.

Hypothesis runs synchronous test functions, so the product app, its database and both
emulators live on an event loop in a blocking portal (one per module, per database);
each example calls into it. The connection's webhooks are registered for real (the
FreshBooks verifier handshake, the Ramp subscription secret), so examples can sign
hostile content with the genuine keys.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest
import sqlalchemy as sa
from anyio.from_thread import BlockingPortal, start_blocking_portal
from starlette.applications import Starlette

from ml_connector.queue import Registry, Worker
from ml_connector.store import read
from ml_connector.store.connections import Connection
from ml_connector.store.schema import jobs, webhook_inbox
from ml_connector.store.testing import (
    PostgresUnavailableError,
    postgres_database,
    postgres_required,
    sqlite_database,
)
from ml_connector.sync import webhook_secrets
from ml_connector.sync.connect import enqueue_register_webhooks, register_connect_handlers
from ml_connector.web.app import create_app
from ml_connector.web.deps import AppDeps
from support.harness import PUBLIC_URL, Harness


@dataclass(frozen=True)
class Snapshot:
    inbox: int
    jobs: int
    inbox_bodies: tuple[bytes, ...]


@dataclass
class HookEnv:
    h: Harness
    app: Starlette
    connection: Connection
    verifier: str
    ramp_secret: str
    portal: BlockingPortal | None = None

    @classmethod
    @asynccontextmanager
    async def start(cls, database_url: str, tmp: Path) -> AsyncIterator[HookEnv]:
        async with Harness.start(database_url, scenario="empty", data_dir=tmp) as h:
            connection = await h.connect()
            app = create_app(AppDeps(h.runtime))
            h.route_webhooks_to(app)
            registry = Registry()
            register_connect_handlers(registry, h.runtime)
            worker = Worker(h.engine, registry, clock=h.clock.now, poll_interval=0.01)
            async with h.engine.begin() as db:
                await enqueue_register_webhooks(db, connection_id=connection.id, now=h.clock.now())
            await worker.run_until_idle()
            await h.freshbooks.webhooks.drain()
            await h.ramp.webhooks.drain()
            await worker.run_until_idle()
            account = connection.freshbooks_account_id
            callbacks = h.freshbooks.callbacks.of_account(account)
            assert callbacks, "webhook registration failed"
            assert all(c.verified for c in callbacks)
            async with read(h.engine) as db:
                secrets = await webhook_secrets.ramp_secrets(db, h.runtime.cipher, connection.id)
            assert secrets, "no Ramp webhook secret was stored"
            yield cls(h, app, connection, callbacks[0].verifier, next(iter(secrets.values())))

    async def post(self, path: str, content: bytes, headers: dict[str, str]) -> httpx2.Response:
        transport = httpx2.ASGITransport(app=self.app)
        async with httpx2.AsyncClient(transport=transport, base_url=PUBLIC_URL) as http:
            return await http.post(path, content=content, headers=headers)

    async def snapshot(self) -> Snapshot:
        async with read(self.h.engine) as db:
            inbox = (await db.execute(sa.select(webhook_inbox.c.body))).scalars().all()
            count = (await db.execute(sa.select(sa.func.count()).select_from(jobs))).scalar_one()
        return Snapshot(len(inbox), int(count), tuple(bytes(b) for b in inbox))

    async def new_jobs(self, after: int) -> list[tuple[str, dict[str, object]]]:
        async with read(self.h.engine) as db:
            rows = await db.execute(
                sa.select(jobs.c.kind, jobs.c.args).order_by(jobs.c.id).offset(after)
            )
            return [(r.kind, dict(r.args)) for r in rows]

    # Synchronous faces for hypothesis examples.

    def send(self, path: str, content: bytes, headers: dict[str, str]) -> httpx2.Response:
        assert self.portal is not None
        return self.portal.call(self.post, path, content, headers)

    def state(self) -> Snapshot:
        assert self.portal is not None
        return self.portal.call(self.snapshot)

    def jobs_since(self, before: Snapshot) -> list[tuple[str, dict[str, object]]]:
        assert self.portal is not None
        return self.portal.call(self.new_jobs, before.jobs)


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def hooks(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HookEnv]:
    tmp = tmp_path_factory.mktemp("fuzz")
    with ExitStack() as stack:
        if request.param == "sqlite":
            url = stack.enter_context(sqlite_database(tmp))
        else:
            try:
                url = stack.enter_context(postgres_database(prefix="mlc_fuzz"))
            except PostgresUnavailableError as exc:
                if postgres_required():
                    pytest.fail(f"CI=true requires PostgreSQL: {exc}")
                pytest.skip(f"PostgreSQL tier skipped: {exc}")
        portal = stack.enter_context(start_blocking_portal(backend="asyncio"))
        env = stack.enter_context(portal.wrap_async_context_manager(HookEnv.start(url, tmp)))
        env.portal = portal
        yield env
