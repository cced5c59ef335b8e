"""A cash expense whose vendor is not in Ramp yet waits while vendor syncs still run,
instead of being parked for review (a backfill creates vendors first)."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest
from sync_flow_support import SyncWorld

from ml_connector.queue import Registry, Worker
from ml_connector.sync.executor import SyncDeps
from ml_connector.sync.expenses import sync_expense
from ml_connector.sync.kinds import Kind
from ml_connector.sync.planning import Caches

pytestmark = pytest.mark.anyio

VENDOR = "Harbor Print Co"


def seed(w: SyncWorld) -> tuple[int, int]:
    books = w.books
    vendor = books.create(
        "bill_vendors",
        {"vendor_name": VENDOR, "currency_code": "USD", "country": "US",
         "primary_contact_email": "ap@harbor.example", "primary_contact_first_name": "Ana",
         "primary_contact_last_name": "Ruiz"},
    )  # fmt: skip
    expense = books.create(
        "expenses",
        {"categoryid": books.category_named("Office Supplies").id,
         "amount": {"amount": "42.00", "code": "USD"}, "date": "2026-10-05",
         "vendor": VENDOR, "notes": "Stationery. Paid with: cash"},
    )  # fmt: skip
    return int(vendor.id), int(expense.id)


async def test_the_expense_retries_until_the_vendor_sync_has_run(
    database_url: str, tmp_path: Path
) -> None:
    async with SyncWorld.start(database_url, tmp_path) as w:
        vendor_id, expense_id = seed(w)
        vendor_job = await w.enqueue(Kind.SYNC_VENDOR, vendor_id)
        expense_job = await w.enqueue(Kind.SYNC_EXPENSE, expense_id)
        # Only expenses run at first: the vendor's sync is still waiting.
        expenses_only = Registry()
        deps = SyncDeps(runtime=w.runtime, caches=Caches.build(w.h.clock.now))
        expenses_only.register(Kind.SYNC_EXPENSE.value, partial(sync_expense, deps))
        await Worker(
            w.h.engine, expenses_only, clock=w.h.clock.now, jitter=lambda: 0.0
        ).run_until_idle()
        states = await w.job_states()
        assert states[expense_job][1] == "retryable"
        assert "vendor syncs are still running" in (states[expense_job][2] or "")
        assert states[vendor_job][1] == "available"

        await w.drain()
        states = await w.job_states()
        assert states[vendor_job][1] == "completed"
        assert states[expense_job][1] == "completed"
        paid = [
            b for b in w.ramp_business.bills.values() if f":expense:{expense_id}" in b.remote_id
        ]
        assert len(paid) == 1


async def test_with_no_vendor_sync_left_the_expense_goes_to_review(
    database_url: str, tmp_path: Path
) -> None:
    async with SyncWorld.start(database_url, tmp_path) as w:
        _vendor_id, expense_id = seed(w)
        expense_job = await w.enqueue(Kind.SYNC_EXPENSE, expense_id)
        await w.drain()
        _kind, state, error = (await w.job_states())[expense_job]
        assert state == "attention"
        assert VENDOR in (error or "")
