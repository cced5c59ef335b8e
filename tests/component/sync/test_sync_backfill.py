"""The services-firm backfill on SQLite and PostgreSQL: every bill once, vendors once,
expenses coded or by policy."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from sync_flow_support import SyncWorld

from ml_connector.core.vendors import canonical_vendor_key
from ml_connector.store import audit, read
from ml_connector.sync.kinds import Kind
from ml_connector_emulators.scenarios import services_firm_roster

pytestmark = pytest.mark.anyio


async def test_services_firm_backfill(database_url: str, tmp_path: Path) -> None:
    async with SyncWorld.start(
        database_url, tmp_path, scenario="services-firm", no_match="review", non_card="review"
    ) as w:
        books = w.books
        profile_of = {
            name: (p.name, *p.aliases)
            for p in services_firm_roster().vendors
            for name in (p.name, *p.aliases)
        }
        for vendor_id in books.vendors:
            await w.enqueue(Kind.SYNC_VENDOR, vendor_id)
        for bill_id in books.bills:
            await w.enqueue(Kind.SYNC_BILL, bill_id)
        for expense_id in books.expenses:
            await w.enqueue(Kind.SYNC_EXPENSE, expense_id)
        await w.drain(rounds=60, concurrency=4)

        states = await w.job_states()
        by_state = Counter((kind, state) for kind, state, _ in states.values())
        assert not [s for s in states.values() if s[1] in ("dead", "available", "retryable")]
        business = w.ramp_business
        counters = w.h.ramp.counters
        assert counters.duplicate_bills_by_remote_id == 0
        assert counters.duplicate_vendors_by_name == 0
        assert w.h.freshbooks.counters.refresh_token_reuses == 0

        # Every active or archived bill appears once; deleted ones never synced are skipped.
        live = {b.id: b for b in books.bills.values() if b.vis_state != 1}
        ramp_by_fb = {b.remote_id.rsplit(":", 1)[1]: b for b in business.bills.values()}
        synced = {int(k) for k in ramp_by_fb}
        attention = {int(job_fb) for job_fb in await _fb_ids_in_state(w, "sync.bill", "attention")}
        assert synced | attention == set(live), by_state
        assert len(synced) > 0.9 * len(live)
        # Totals reconcile to the cent, and each bill's vendor is the one its name maps to.
        for fb_id in synced:
            fb_bill = books.bills[fb_id]
            ramp_bill = ramp_by_fb[str(fb_id)]
            total = sum(line.amount_minor for line in ramp_bill.line_items)
            rendered = books.render("bills", fb_bill)
            assert Decimal(total) / 100 == Decimal(rendered["total_amount"]["amount"])
            # The bill's Ramp vendor is the supplier its FreshBooks vendor (or alias) names.
            supplier = profile_of[books.vendors[fb_bill.vendorid].vendor_name]
            assert business.vendors[ramp_bill.vendor_id].name in supplier
        # One Ramp vendor per supplier despite the near-duplicates entered in FreshBooks.
        assert counters.vendors_created == len(business.vendors)
        keys = Counter(canonical_vendor_key(v.name) for v in business.vendors.values())
        assert set(keys.values()) == {1}, keys
        per_supplier = Counter(profile_of[v.name] for v in business.vendors.values())
        # Never two Ramp vendors for one supplier: short forms ("Zoom", "AWS", "ConEd")
        # of a vendor already in Ramp wait in review instead of becoming near-duplicates.
        assert set(per_supplier.values()) == {1}, per_supplier
        vendor_reviews = await _fb_ids_in_state(w, "sync.vendor", "attention")
        assert len(business.vendors) + len(vendor_reviews) >= len(per_supplier)
        assert len(business.vendors) < len(books.vendors)

        # Card expenses are coded; the ambiguous twin and the non-card ones wait in review.
        coded = [
            t for t in business.transactions.values()
            if t.line_items and t.line_items[0].selections and t.memo
        ]  # fmt: skip
        expense_states = Counter(
            state for kind, state, _ in states.values() if kind == "sync.expense"
        )
        assert expense_states["completed"] >= len(coded) > 100
        assert expense_states["attention"] >= 1
        async with read(w.h.engine) as db:
            some_bill = next(iter(synced))
            entries = await audit.for_fb_object(db, fb_id=str(some_bill), object_type="bill")
            assert await audit.verify_chain(db, entries[0].chain) == []


async def _fb_ids_in_state(w: SyncWorld, kind: str, state: str) -> list[str]:
    import sqlalchemy as sa

    from ml_connector.store.schema import jobs

    async with w.h.engine.connect() as db:
        rows = await db.execute(sa.select(jobs.c.args).where(jobs.c.kind == kind,
                                                             jobs.c.state == state))  # fmt: skip
        return [r.args["fb_id"] for r in rows]
