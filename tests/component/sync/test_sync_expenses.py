"""Expenses: the card charge is coded once, non-card ones follow policy; plans write nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sync_flow_support import SyncWorld, gl_id
from test_sync_bills import seed_bill, seed_vendor

from ml_connector.core.actions import CodeTransaction, CreateBill, CreateVendor, SetMemo
from ml_connector.sync.kinds import Kind
from ml_connector.sync.planning import plan_object
from ml_connector_emulators.ramp.models import Transaction

pytestmark = pytest.mark.anyio


def seed_card_charge(w: SyncWorld, amount: str, day: int, merchant: str = "UBER *TRIP") -> str:
    business = w.ramp_business
    user = next(iter(business.users.values()))
    entity = next(iter(business.entities.values()))
    tx = Transaction(
        id=w.h.ramp.new_id(), amount=Decimal(amount), currency="USD",
        user_transaction_time=datetime(2026, 10, day, 15, 0, tzinfo=UTC),
        merchant_id=w.h.ramp.new_id(), merchant_name=merchant, user_id=user.id,
        card_id=None, entity_id=entity.id, department_id=None, location_id=None,
    )  # fmt: skip
    business.transactions[tx.id] = tx
    return tx.id


def seed_expense(w: SyncWorld, amount: str, day: int, paid: str = "company card") -> int:
    body = {
        "categoryid": w.books.category_named("Car & Truck Expenses").id,
        "amount": {"amount": amount, "code": "USD"}, "date": f"2026-10-{day:02d}",
        "vendor": "Uber", "notes": f"Ride to client. Paid with: {paid}",
    }  # fmt: skip
    return int(w.books.create("expenses", body).id)


async def test_card_expense_is_coded_once_and_never_twice(
    database_url: str, tmp_path: Path
) -> None:
    async with SyncWorld.start(database_url, tmp_path, no_match="review") as w:
        tx_id = seed_card_charge(w, "23.40", 14)
        first = seed_expense(w, "23.40", 14)
        second = seed_expense(w, "23.40", 15)  # the same charge would fit it too
        jobs = [
            await w.enqueue(Kind.SYNC_EXPENSE, first),
            await w.enqueue(Kind.SYNC_EXPENSE, second),
        ]
        await w.drain(concurrency=2)
        states = await w.job_states()
        assert sorted(states[j][1] for j in jobs) == ["attention", "completed"]
        tx = w.ramp_business.transactions[tx_id]
        category = w.books.category_named("Car & Truck Expenses").id
        assert [s.option_external_id for s in tx.line_items[0].selections] == [gl_id(category)]
        assert tx.memo is not None
        assert tx.memo.startswith("FreshBooks expense")
        (parked,) = [j for j in jobs if states[j][1] == "attention"]
        assert "no unclaimed Ramp card transaction" in (states[parked][2] or "")


async def test_cash_expense_becomes_a_manually_paid_bill(sqlite_url: str, tmp_path: Path) -> None:
    async with SyncWorld.start(sqlite_url, tmp_path) as w:
        vendor = seed_vendor(w, "Uber")
        await w.enqueue(Kind.SYNC_VENDOR, vendor.id)
        await w.drain()
        expense = seed_expense(w, "31.05", 12, paid="cash")
        await w.enqueue(Kind.SYNC_EXPENSE, expense)
        await w.drain()
        (bill,) = w.ramp_business.bills.values()
        assert bill.status == "PAID"
        assert bill.payment_method == "PAID_MANUALLY"
        assert sum(line.amount_minor for line in bill.line_items) == 3105
        await w.enqueue(Kind.SYNC_EXPENSE, expense)
        await w.drain()
        assert w.h.ramp.counters.bills_created == 1


async def test_plan_object_is_a_dry_run(sqlite_url: str, tmp_path: Path) -> None:
    async with SyncWorld.start(sqlite_url, tmp_path) as w:
        vendor = seed_vendor(w)
        bill = seed_bill(w, vendor.id)
        tx_id = seed_card_charge(w, "23.40", 14)
        expense = seed_expense(w, "23.40", 14)
        bill_plan = await plan_object(w.runtime, w.connection.id, "bill", str(bill.id))
        assert [type(a) for a in bill_plan] == [CreateVendor, CreateBill]
        expense_plan = await plan_object(w.runtime, w.connection.id, "expense", str(expense))
        assert [type(a) for a in expense_plan] == [CodeTransaction, SetMemo]
        assert expense_plan[0].ramp_transaction_id == tx_id  # type: ignore[union-attr]
        assert w.h.ramp.counters.vendors_created == 0
        assert w.h.ramp.counters.bills_created == 0
        assert not w.ramp_business.transactions[tx_id].line_items
