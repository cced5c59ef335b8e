"""The whole product on both emulators: web app, every job handler, one shared clock.

`LifecycleEnv.start` connects a firm through the real consent page, runs the product's
accounting setup and serves `ml_connector.web.server.build_app` to both emulators'
webhook deliveries. `settle()` delivers, runs jobs and moves the shared clock to the next
retry or delivery until nothing is left to do — time never passes by itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import sqlalchemy as sa

from ml_connector.cli.processes import build_registry
from ml_connector.queue import Worker
from ml_connector.store import audit, read
from ml_connector.store import links as links_store
from ml_connector.store.audit import AuditEntry
from ml_connector.store.connections import Connection
from ml_connector.store.schema import jobs
from ml_connector.sync.backfill import start_backfill
from ml_connector.sync.connect import enqueue_register_webhooks
from ml_connector.sync.sweep import enqueue_sweep
from ml_connector.web.deps import AppDeps
from ml_connector.web.server import build_app
from support.harness import FRESHBOOKS_API, Harness

SETTLED = 5 * 60
"""Seconds that let a FreshBooks change age past the sweep's grace period."""


@dataclass
class LifecycleEnv:
    h: Harness
    connection: Connection
    worker: Worker

    @classmethod
    @asynccontextmanager
    async def start(cls, database_url: str, tmp_path: Path) -> AsyncIterator[LifecycleEnv]:
        async with Harness.start(database_url, scenario="empty", data_dir=tmp_path) as h:
            connection = await h.connect()
            await h.setup()
            h.route_webhooks_to(build_app(AppDeps(h.runtime)))
            worker = Worker(
                h.engine, build_registry(h.runtime), clock=h.clock.now, concurrency=2,
                jitter=lambda: 0.0, lease=timedelta(minutes=5),
            )  # fmt: skip
            yield cls(h, connection, worker)

    @property
    def account_id(self) -> str:
        assert self.connection.freshbooks_account_id is not None
        return self.connection.freshbooks_account_id

    # --- driving ---------------------------------------------------------------------

    async def register_webhooks(self) -> None:
        """Register both systems' callbacks, answer the handshakes, verify: hooks live."""
        async with self.h.engine.begin() as db:
            await enqueue_register_webhooks(
                db, connection_id=self.connection.id, now=self.h.clock.now()
            )
        await self.settle()

    async def backfill(self) -> None:
        """The initial load (nothing to copy in an empty firm); sweeps wait for it."""
        async with self.h.engine.begin() as db:
            await start_backfill(db, self.connection.id, self.h.clock.now())
        await self.settle()

    async def sweep(self) -> None:
        """Let changes age past the grace period, then sweep and run what it enqueued."""
        self.h.clock.advance(SETTLED)
        async with self.h.engine.begin() as db:
            await enqueue_sweep(db, connection_id=self.connection.id, now=self.h.clock.now())
        await self.settle()

    async def settle(self, rounds: int = 40) -> None:
        """Deliver webhooks and run jobs, moving the clock to the next due time, until quiet."""
        for _ in range(rounds):
            await self.h.freshbooks.webhooks.drain()
            await self.h.ramp.webhooks.drain()
            await self.worker.run_until_idle()
            due = await self._next_due()
            if due is None:
                return
            gap = (due - self.h.clock.now()).total_seconds()
            self.h.clock.advance(max(gap, 0.0) + 0.001)
        raise AssertionError("jobs or deliveries kept coming after every round")

    async def _next_due(self) -> datetime | None:
        moments: list[datetime] = [d.due_at for d in self.h.freshbooks.webhooks.pending]
        moments += [
            d.next_attempt_at for d in self.h.ramp.webhooks.deliveries if d.state == "pending"
        ]
        async with self.h.engine.connect() as db:
            at = (
                await db.execute(
                    sa.select(sa.func.min(jobs.c.scheduled_at)).where(
                        jobs.c.state.in_(("available", "retryable"))
                    )
                )
            ).scalar_one()
        if at is not None:
            moments.append(at if at.tzinfo else at.replace(tzinfo=self.h.clock.now().tzinfo))
        return min(moments) if moments else None

    async def freshbooks(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """A change made as a FreshBooks user would (it emits FreshBooks' webhooks)."""
        async with httpx2.AsyncClient(
            transport=self.h.freshbooks_transport, base_url=FRESHBOOKS_API
        ) as http:
            answer = await http.request(
                method, f"/_sandbox/accounts/{self.account_id}/{path}", json=body
            )
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()["response"]["result"]
        return result

    # --- looking ---------------------------------------------------------------------

    def ramp_bills(self, fb_id: str) -> list[Any]:
        """Every Ramp bill (archived or not) made from FreshBooks bill `fb_id`, oldest first."""
        business = self.h.ramp.test_business
        found = [
            b
            for b in business.bills.values()
            if b.remote_id is not None and b.remote_id.endswith(f":bill:{fb_id}")
        ]
        return sorted(found, key=lambda b: b.created_at)

    async def linked_ramp_bill(self, fb_id: str) -> str | None:
        async with read(self.h.engine) as db:
            rows = await links_store.for_fb_object(
                db, connection_id=self.connection.id, fb_type="bill", fb_id=fb_id
            )
        return next((r.ramp_id for r in rows if r.ramp_type == "bill"), None)

    async def trail(self, fb_id: str) -> list[AuditEntry]:
        async with read(self.h.engine) as db:
            return await audit.for_fb_object(
                db, fb_id=fb_id, object_type="bill", connection_id=self.connection.id
            )

    async def broken_chains(self, entries: list[AuditEntry]) -> list[str]:
        async with read(self.h.engine) as db:
            problems: list[str] = []
            for chain in {e.chain for e in entries}:
                problems += await audit.verify_chain(db, chain)
        return problems

    async def bill_jobs(self, fb_id: str) -> list[tuple[str, str | None]]:
        """(state, last_error) of every bill-sync job of `fb_id`, oldest first."""
        async with self.h.engine.connect() as db:
            rows = await db.execute(
                sa.select(jobs.c.args, jobs.c.state, jobs.c.last_error)
                .where(jobs.c.kind == "sync.bill")
                .order_by(jobs.c.id)
            )
            return [(r.state, r.last_error) for r in rows if str(r.args["fb_id"]) == fb_id]
