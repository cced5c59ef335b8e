"""Test support for the sync handlers: a connection with a flow config, and a worker loop.

`SyncWorld.start(database_url)` gives the harness's emulators, a connection authorized on
both sides, GL accounts uploaded to Ramp (one per FreshBooks category, plus a sales-tax
account) and a flow configuration saved as the connection's mapping. Time never passes by
itself: the product's rate budget and the worker's retries move the shared emulator clock.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ml_connector.clients.ramp.models import GLAccountUpload
from ml_connector.core.flow_config import (
    ConnectionSection,
    ExpensesSection,
    FlowConfig,
    GLMappingEntry,
    GLSection,
    VendorsSection,
    dump_flow_config,
)
from ml_connector.core.flow_config.models import BillsSection
from ml_connector.queue import Registry, Worker
from ml_connector.store import DbRateLimiter
from ml_connector.store import mappings as mappings_store
from ml_connector.store.connections import Connection
from ml_connector.store.schema import jobs
from ml_connector.sync.handlers import register_sync_handlers
from ml_connector.sync.kinds import Kind, Source, enqueue_object_sync
from ml_connector.sync.runtime import Runtime
from support.harness import Harness

TAX_GL = "2200"


def gl_id(category_id: int | str) -> str:
    return f"GL-{category_id}"


@dataclass
class SyncWorld:
    h: Harness
    runtime: Runtime
    connection: Connection
    registry: Registry
    config: FlowConfig

    @property
    def ramp_business(self) -> Any:
        return self.h.ramp.test_business

    @property
    def books(self) -> Any:
        return self.h.freshbooks.primary.books

    @classmethod
    @asynccontextmanager
    async def start(
        cls, database_url: str, tmp_path: Path, *, scenario: str = "empty", **expenses: Any
    ) -> AsyncIterator[SyncWorld]:
        async with Harness.start(database_url, scenario=scenario, data_dir=tmp_path) as h:
            connection = await h.connect()

            async def advance(seconds: float) -> None:
                # The budget is full at this instant: let the shared clock move on.
                h.clock.advance(max(seconds, 0.001))

            runtime = dataclasses.replace(
                h.runtime,
                rate_limiter=DbRateLimiter(h.engine, clock=h.clock.now, sleep=advance),
            )
            config = await _configure(h, runtime, connection, expenses)
            registry = Registry()
            register_sync_handlers(registry, runtime)
            yield cls(h, runtime, connection, registry, config)

    def worker(self, concurrency: int = 4) -> Worker:
        return Worker(
            self.h.engine, self.registry, clock=self.h.clock.now, concurrency=concurrency,
            jitter=lambda: 0.0, lease=timedelta(minutes=5),
        )  # fmt: skip

    async def enqueue(self, kind: Kind, fb_id: int | str, source: Source = Source.BACKFILL) -> int:
        async with self.h.engine.begin() as db:
            queued = await enqueue_object_sync(
                db, kind=kind, connection_id=self.connection.id, fb_id=fb_id, source=source,
                now=self.h.clock.now(),
            )  # fmt: skip
        return queued.job_id

    async def drain(self, *, rounds: int = 40, concurrency: int = 4) -> None:
        """Run jobs until none is waiting, moving the clock to each retry's time."""
        worker = self.worker(concurrency)
        for _ in range(rounds):
            await worker.run_until_idle()
            async with self.h.engine.connect() as db:
                next_at = (
                    await db.execute(
                        sa.select(sa.func.min(jobs.c.scheduled_at)).where(
                            jobs.c.state.in_(("available", "retryable"))
                        )
                    )
                ).scalar_one()
            if next_at is None:
                return
            if next_at.tzinfo is None:
                next_at = next_at.replace(tzinfo=self.h.clock.now().tzinfo)
            gap = (next_at - self.h.clock.now()).total_seconds()
            if gap > 0:
                self.h.clock.advance(gap + 0.001)
        raise AssertionError("jobs kept waiting after every round")

    async def job_states(self) -> dict[int, tuple[str, str, str | None]]:
        async with self.h.engine.connect() as db:
            rows = await db.execute(
                sa.select(jobs.c.id, jobs.c.kind, jobs.c.state, jobs.c.last_error)
            )
            return {r.id: (r.kind, r.state, r.last_error) for r in rows}


async def _configure(
    h: Harness, runtime: Runtime, connection: Connection, expenses: dict[str, Any]
) -> FlowConfig:
    books = h.freshbooks.primary.books
    ramp = await runtime.ramp_client(connection)
    try:
        await ramp.accounting.ensure_connection()
        uploads = [
            GLAccountUpload(id=gl_id(c.id), name=c.name, classification="EXPENSE")
            for c in books.categories.values()
        ]
        uploads.append(
            GLAccountUpload(
                id=TAX_GL, name="Sales Tax Payable", classification="LIABILITY", code=TAX_GL
            )
        )
        await ramp.accounting.gl_accounts.upload(uploads)
        entities = [e async for e in ramp.entities.list()]
        entity = entities[0]
        owners = [u async for u in ramp.users.list() if u.role == "BUSINESS_OWNER"]
        owner = owners[0]
    finally:
        await ramp.aclose()
    config = FlowConfig(
        version=1,
        connection=ConnectionSection(
            name=connection.name,
            freshbooks_account_id=connection.freshbooks_account_id or "",
            ramp_entity_id=entity.id,
            ramp_vendor_owner_id=owner.id,
        ),
        bills=BillsSection(default_tax_gl_account=TAX_GL, terms_policy="keep"),
        vendors=VendorsSection(default_country="US", default_state="NY",
                               fallback_contact_email="ap@northbeam.example"),
        gl=GLSection(mappings=tuple(
            GLMappingEntry(category_id=str(c.id), gl_account=gl_id(c.id))
            for c in books.categories.values()
        )),
        expenses=ExpensesSection(**expenses),
    )  # fmt: skip
    async with h.engine.begin() as db:
        await mappings_store.save(
            db, connection_id=connection.id, text=dump_flow_config(config),
            document=config.model_dump(mode="json"), author="test", now=h.clock.now(),
        )  # fmt: skip
    return config
