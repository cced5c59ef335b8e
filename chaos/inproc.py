"""The connector and both emulators in one process, on one frozen clock.

Built on the component tier's `SyncWorld` (a connection authorized through the real
consent page, GL accounts uploaded, a flow config saved) plus what production adds
around it: the full job registry of a worker process, the web app receiving both
emulators' webhooks, webhook registration with FreshBooks' verifier handshake, the
backfill and the reconciliation sweep. Time only moves when nothing is due: to the
next retry, or to the next delayed webhook.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sync_flow_support import SyncWorld

from ml_connector.cli.processes import build_registry
from ml_connector.queue import WAITING, JobState, Worker, list_jobs
from ml_connector.queue import get as get_job
from ml_connector.store import read
from ml_connector.sync.backfill import backfill_progress, start_backfill
from ml_connector.sync.connect import enqueue_register_webhooks
from ml_connector.sync.sweep import request_full_sweep
from ml_connector.web.app import create_app
from ml_connector.web.deps import AppDeps
from ml_connector_emulators.ramp.models import Transaction

MAX_ROUNDS = 5000
SWEEP_GRACE = timedelta(minutes=3)
"""Past the sweep's grace period, so a change whose webhook never came counts as missed."""

VENDOR_NAMES = (
    "Harbor Print Co", "Lumen Electric", "Quartz Legal LLP", "Maple Courier",
    "Birch Catering", "Atlas Software", "Cobalt Staffing", "Juniper Travel",
    "Osprey Cleaning", "Tidewater Insurance", "Granite Plumbing", "Saffron Events",
)  # fmt: skip


@dataclass
class InProcess:
    w: SyncWorld
    worker: Worker
    app: Any
    card_expenses: set[int]

    @classmethod
    @asynccontextmanager
    async def start(cls, database_url: str, tmp: Path, **expenses: Any) -> AsyncIterator[InProcess]:
        async with SyncWorld.start(database_url, tmp, **expenses) as w:
            app = create_app(AppDeps(w.runtime))
            w.h.route_webhooks_to(app)
            worker = Worker(
                w.h.engine, build_registry(w.runtime), clock=w.h.clock.now, concurrency=4,
                jitter=lambda: 0.0, lease=timedelta(minutes=5), poll_interval=0.01,
            )  # fmt: skip
            yield cls(w, worker, app, set())

    # --- the firm's data ----------------------------------------------------------------

    @property
    def books(self) -> Any:
        return self.w.books

    @property
    def ramp(self) -> Any:
        return self.w.ramp_business

    def seed_vendors(self, count: int) -> list[int]:
        ids = []
        for n in range(count):
            vendor = self.books.create(
                "bill_vendors",
                {"vendor_name": VENDOR_NAMES[n], "currency_code": "USD", "country": "US",
                 "province": "NY", "primary_contact_email": f"ap{n}@supplier{n}.example"},
            )  # fmt: skip
            ids.append(vendor.id)
        return ids

    def seed_bill(self, vendor_id: int, n: int, cents: int) -> int:
        categories = sorted(self.books.categories)
        bill = self.books.create(
            "bills",
            {"vendorid": vendor_id, "bill_number": f"INV-{n:04d}", "issue_date": "2026-10-01",
             "due_offset_days": 30, "currency_code": "USD",
             "lines": [{"categoryid": categories[n % len(categories)], "quantity": 1,
                        "unit_cost": {"amount": f"{cents // 100}.{cents % 100:02d}",
                                      "code": "USD"}}]},
        )  # fmt: skip
        return int(bill.id)

    def edit_bill(self, bill_id: int, cents: int) -> None:
        bill = self.books.bills[bill_id]
        line = bill.lines[0]
        self.books.update(
            "bills", bill_id,
            {"lines": [{"categoryid": line.categoryid, "quantity": 2,
                        "unit_cost": {"amount": f"{cents // 100}.{cents % 100:02d}",
                                      "code": "USD"}}]},
        )  # fmt: skip

    def delete_bill(self, bill_id: int) -> None:
        self.books.update("bills", bill_id, {"vis_state": 1})

    def seed_card_expense(self, n: int, cents: int) -> int:
        """A card charge in Ramp and the FreshBooks expense that records it."""
        amount = Decimal(cents) / 100
        day = 1 + n % 27
        user = next(iter(self.ramp.users.values()))
        entity = next(iter(self.ramp.entities.values()))
        tx = Transaction(
            id=self.w.h.ramp.new_id(), amount=amount, currency="USD",
            user_transaction_time=datetime(2026, 10, day, 15, 0, tzinfo=UTC),
            merchant_id=self.w.h.ramp.new_id(), merchant_name=f"MERCHANT {n}",
            user_id=user.id, card_id=None, entity_id=entity.id, department_id=None,
            location_id=None,
        )  # fmt: skip
        self.ramp.transactions[tx.id] = tx
        expense = self.books.create(
            "expenses",
            {"categoryid": self.books.category_named("Car & Truck Expenses").id,
             "amount": {"amount": str(amount), "code": "USD"}, "date": f"2026-10-{day:02d}",
             "vendor": f"Merchant {n}", "notes": f"Client visit {n}. Paid with: company card"},
        )  # fmt: skip
        self.card_expenses.add(int(expense.id))
        return int(expense.id)

    def seed_cash_expense(self, n: int, cents: int) -> int:
        amount = Decimal(cents) / 100
        expense = self.books.create(
            "expenses",
            {"categoryid": self.books.category_named("Office Supplies").id,
             "amount": {"amount": str(amount), "code": "USD"}, "date": f"2026-10-{1 + n % 27:02d}",
             "vendor": VENDOR_NAMES[0], "notes": f"Stationery {n}. Paid with: cash"},
        )  # fmt: skip
        return int(expense.id)

    # --- the connector's side -----------------------------------------------------------

    @property
    def connection_id(self) -> int:
        return self.w.connection.id

    def now(self) -> datetime:
        return self.w.h.clock.now()

    async def register_webhooks(self) -> None:
        async with self.w.h.engine.begin() as db:
            await enqueue_register_webhooks(db, connection_id=self.connection_id, now=self.now())
        await self.settle()

    async def backfill(
        self,
        each_round: Callable[[int], Awaitable[None]] | None = None,
        max_jobs: int | None = None,
    ) -> None:
        async with self.w.h.engine.begin() as db:
            await start_backfill(db, self.connection_id, self.now())
        await self.settle(each_round, max_jobs)
        progress = await backfill_progress(self.w.runtime, self.connection_id)
        if progress is None or not progress.finished:
            raise RuntimeError(f"the backfill did not finish: {progress}")

    async def sweep(self) -> list[str]:
        """Let the grace period pass, then a full reconciliation sweep, run to the end;
        returns the problem if the sweep itself did not complete."""
        self.w.h.clock.advance(SWEEP_GRACE.total_seconds())
        async with self.w.h.engine.begin() as db:
            queued = await request_full_sweep(db, connection_id=self.connection_id, now=self.now())
        await self.settle()
        async with read(self.w.h.engine) as db:
            job = await get_job(db, queued.job_id)
        if job is None or job.state is not JobState.COMPLETED:
            if job is None:
                return ["the reconciliation sweep job vanished"]
            return [f"the reconciliation sweep ended {job.state.value}: {job.last_error}"]
        return []

    async def deliver(self) -> int:
        freshbooks = await self.w.h.freshbooks.webhooks.drain()
        ramp = await self.w.h.ramp.webhooks.drain()
        return len(freshbooks) + len(ramp)

    def _next_webhook_due(self) -> datetime | None:
        due = [d.due_at for d in self.w.h.freshbooks.webhooks.pending]
        due += [
            d.next_attempt_at for d in self.w.h.ramp.webhooks.deliveries if d.state == "pending"
        ]
        return min(due) if due else None

    async def settle(
        self,
        each_round: Callable[[int], Awaitable[None]] | None = None,
        max_jobs: int | None = None,
    ) -> int:
        """Deliver webhooks and run jobs until nothing waits; returns the rounds taken.

        `each_round` runs before every round (a campaign arms its faults there); with
        `max_jobs`, a round runs at most that many jobs, so faults land mid-run.
        """
        for round_no in range(MAX_ROUNDS):
            if each_round is not None:
                await each_round(round_no)
            moved = await self.deliver()
            moved += await self.worker.run_until_idle(max_jobs=max_jobs)
            moved += await self.deliver()
            async with read(self.w.h.engine) as db:
                waiting = await list_jobs(db, states=WAITING, limit=10_000)
            webhook_due = self._next_webhook_due()
            if not waiting and webhook_due is None:
                return round_no
            if moved:
                continue
            now = self.now()
            moments = [j.scheduled_at for j in waiting]
            moments = [m if m.tzinfo else m.replace(tzinfo=UTC) for m in moments]
            if webhook_due is not None:
                moments.append(webhook_due)
            gap = max((min(moments) - now).total_seconds(), 0.0)
            self.w.h.clock.advance(gap + 0.001)
        raise RuntimeError("the queue did not settle")


__all__ = ["VENDOR_NAMES", "InProcess"]
