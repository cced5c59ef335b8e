"""Bills and their vendors reach Ramp once, with the right content, on both databases."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sync_flow_support import SyncWorld, gl_id

from ml_connector.store import audit, read
from ml_connector.store import links as links_store
from ml_connector.sync.kinds import Kind

pytestmark = pytest.mark.anyio


def seed_vendor(w: SyncWorld, name: str = "Acme, Inc.", **extra: Any) -> Any:
    body = {"vendor_name": name, "primary_contact_email": "billing@acme.example",
            "country": "US", "province": "NY", "currency_code": "USD", **extra}  # fmt: skip
    return w.books.create("bill_vendors", body)


def seed_bill(w: SyncWorld, vendor_id: int, number: str = "ACME-1001", **extra: Any) -> Any:
    office = w.books.category_named("Office Supplies")
    shipping = w.books.category_named("Shipping")
    body = {
        "vendorid": vendor_id, "bill_number": number, "issue_date": "2026-10-01",
        "due_offset_days": 30, "currency_code": "USD", "language": "en",
        "lines": [
            {"categoryid": office.id, "description": "Copy paper", "quantity": 3,
             "unit_cost": {"amount": "12.50", "code": "USD"}},
            {"categoryid": shipping.id, "description": "Freight", "quantity": 1,
             "unit_cost": {"amount": "9.99", "code": "USD"}},
        ],
        **extra,
    }  # fmt: skip
    return w.books.create("bills", body)


async def test_bill_creates_vendor_and_bill_with_lines_terms_and_trail(
    database_url: str, tmp_path: Path
) -> None:
    async with SyncWorld.start(database_url, tmp_path) as w:
        vendor = seed_vendor(w)
        bill = seed_bill(w, vendor.id)
        await w.enqueue(Kind.SYNC_BILL, bill.id)
        await w.drain()

        states = await w.job_states()
        assert [s[1] for s in states.values()] == ["completed"], states
        business = w.ramp_business
        assert w.h.ramp.counters.vendors_created == 1
        assert w.h.ramp.counters.bills_created == 1
        (ramp_bill,) = business.bills.values()
        (ramp_vendor,) = business.vendors.values()
        assert ramp_vendor.name == "Acme, Inc."
        assert ramp_bill.vendor_id == ramp_vendor.id
        assert ramp_bill.invoice_number == "ACME-1001"
        assert ramp_bill.due_at.isoformat()[:10] == "2026-10-31"
        assert ramp_bill.remote_id.endswith(f":bill:{bill.id}")
        amounts = [line.amount_minor for line in ramp_bill.line_items]
        assert sum(amounts) == 4749  # 3 × 12.50 + 9.99, in cents, to the cent
        codes = [line.selections[0].option_external_id for line in ramp_bill.line_items]
        office = w.books.category_named("Office Supplies").id
        shipping = w.books.category_named("Shipping").id
        assert codes == [gl_id(office), gl_id(shipping)]

        async with read(w.h.engine) as db:
            link = await links_store.get(
                db, connection_id=w.connection.id, fb_type="bill", fb_id=str(bill.id),
                ramp_type="bill",
            )  # fmt: skip
            assert link is not None
            assert link.ramp_id == ramp_bill.id
            entries = await audit.for_fb_object(db, fb_id=str(bill.id), object_type="bill")
            steps = [e.step for e in entries]
            assert steps == ["received", "fetched", "mapped", "ramp.request", "ramp.response",
                             "outcome"]  # fmt: skip
            assert entries[2].detail["mapping_version"] == 1
            assert any("GL [explicit]" in x for a in entries[2].detail["actions"]
                       for x in a["explanation"])  # fmt: skip
            assert entries[-1].detail["result"] == "synced"
            assert await audit.verify_chain(db, entries[0].chain) == []
            by_ramp = await audit.for_ramp_id(db, ramp_id=ramp_bill.id)
            assert {e.chain for e in by_ramp} == {entries[0].chain}
            vendor_steps = [e.step for e in await audit.for_fb_object(
                db, fb_id=str(vendor.id), object_type="vendor")]  # fmt: skip
            assert vendor_steps == ["ramp.request", "ramp.response"]

        # Re-running an unchanged bill writes nothing.
        await w.enqueue(Kind.SYNC_BILL, bill.id)
        await w.drain()
        assert w.h.ramp.counters.bills_created == 1
        assert len(business.bills) == 1


async def test_update_then_delete_archives_and_paid_bill_is_paid_manually(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with SyncWorld.start(sqlite_url, tmp_path) as w:
        vendor = seed_vendor(w)
        bill = seed_bill(w, vendor.id)
        paid = seed_bill(w, vendor.id, number="ACME-1002")
        w.books.create("bill_payments", {
            "billid": paid.id, "amount": {"amount": "47.49", "code": "USD"},
            "paid_date": "2026-10-05", "payment_type": "Check",
        })  # fmt: skip
        await w.enqueue(Kind.SYNC_BILL, bill.id)
        await w.enqueue(Kind.SYNC_BILL, paid.id)
        await w.drain()
        business = w.ramp_business
        by_remote = {b.remote_id.rsplit(":", 1)[1]: b for b in business.bills.values()}
        assert by_remote[str(paid.id)].status == "PAID"
        assert by_remote[str(paid.id)].payment_method == "PAID_MANUALLY"
        assert by_remote[str(bill.id)].status == "OPEN"

        w.books.update("bills", bill.id, {"bill_number": "ACME-1001-R"})
        await w.enqueue(Kind.SYNC_BILL, bill.id)
        await w.drain()
        assert by_remote[str(bill.id)].invoice_number == "ACME-1001-R"
        assert w.h.ramp.counters.bills_created == 2

        w.books.update("bills", bill.id, {"vis_state": 1})
        await w.enqueue(Kind.SYNC_BILL, bill.id)
        await w.drain()
        assert by_remote[str(bill.id)].archived_at is not None
        assert all(s[1] == "completed" for s in (await w.job_states()).values())


async def test_inactive_gl_account_parks_the_bill_with_a_specific_reason(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with SyncWorld.start(sqlite_url, tmp_path) as w:
        shipping = gl_id(w.books.category_named("Shipping").id)
        ramp = await w.runtime.ramp_client(w.connection)
        try:
            (account,) = [a async for a in ramp.accounting.gl_accounts.list(remote_id=shipping)]
            await ramp.accounting.gl_accounts.delete(account.ramp_id)
        finally:
            await ramp.aclose()
        vendor = seed_vendor(w)
        bill = seed_bill(w, vendor.id)
        job = await w.enqueue(Kind.SYNC_BILL, bill.id)
        await w.drain()
        _, state, error = (await w.job_states())[job]
        assert state == "attention"
        assert error is not None
        assert shipping in error
        assert "inactive" in error
        assert w.h.ramp.counters.bills_created == 0
        async with read(w.h.engine) as db:
            entries = await audit.for_fb_object(db, fb_id=str(bill.id), object_type="bill")
        assert entries[-1].step == "outcome"
        assert entries[-1].detail["result"] == "needs_attention"
        assert entries[-1].detail["code"] == "bill.invalid"
