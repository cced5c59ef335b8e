"""A backfill plans each object from the page that listed it, and falls back to a fetch
whenever that listing may be out of date (`sync.snapshots`)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import pytest
from sweep_helpers import object_jobs, worker
from test_sweep import backfilled, new_vendor_and_bill

from ml_connector.queue import Registry
from ml_connector.store import audit, read
from ml_connector.sync.backfill import register_backfill_handlers, start_backfill
from ml_connector.sync.executor import SyncDeps
from ml_connector.sync.handlers import register_sync_handlers
from ml_connector.sync.kinds import Kind, Source, enqueue_object_sync
from ml_connector.sync.planning import REVIEW_MAX_AGE, Caches
from ml_connector.sync.ramp_state import RampStateCache
from ml_connector.sync.snapshots import SNAPSHOT_ARG
from ml_connector.sync.vendors import sync_vendor
from support.harness import Harness

pytestmark = pytest.mark.anyio

GET_BILL = "GET /accounting/account/{account_id}/bills/bills/{resource_id}"
GET_VENDOR = "GET /accounting/account/{account_id}/bill_vendors/bill_vendors/{resource_id}"
LIST_BILLS = "GET /accounting/account/{account_id}/bills/bills"


def full_registry(h: Harness) -> Registry:
    registry = Registry()
    register_backfill_handlers(registry, h.runtime)
    register_sync_handlers(registry, h.runtime)
    return registry


async def fetched_via(h: Harness, object_type: str) -> Counter[str]:
    assert h.connection is not None
    async with read(h.engine) as db:
        rows = await audit.between(
            db, start=datetime.min.replace(tzinfo=UTC), end=datetime.max.replace(tzinfo=UTC),
            connection_id=h.connection.id, limit=1_000_000,
        )  # fmt: skip
    return Counter(
        r.detail.get("via") for r in rows if r.step == "fetched" and r.object_type == object_type
    )


async def test_a_backfill_fetches_no_bill_or_vendor_twice(sqlite_url: str, tmp_path: Path) -> None:
    async with Harness.start(sqlite_url, scenario="services-firm", data_dir=tmp_path) as h:
        connection = await h.connect()
        await h.setup()
        books = h.freshbooks.primary.books
        vendors_with_bills = {b.vendorid for b in books.bills.values() if b.vis_state != 1}
        before = Counter(h.freshbooks.counters.requests)
        run = worker(h, full_registry(h), concurrency=4)
        async with h.engine.begin() as db:
            await start_backfill(db, connection.id, h.clock.now())
        await run.run_until_idle()
        for _ in range(6):  # bills that waited for their vendor's write retry after backoff
            h.clock.advance(10 * 60)
            await run.run_until_idle()
        calls = Counter(h.freshbooks.counters.requests) - before

        jobs = await object_jobs(h, kind=Kind.SYNC_BILL.value)
        assert all(SNAPSHOT_ARG in j.args for j in jobs)
        # Nothing changed while it ran: every attempt, retries included, planned from the
        # listing, and FreshBooks was never asked for one bill or vendor.
        assert calls[GET_BILL] == 0
        assert calls[GET_VENDOR] == 0
        via = await fetched_via(h, "bill")
        assert set(via) == {"listing"}
        assert via["listing"] >= len(jobs)
        # Vendors' usual terms: one listing per vendor, not one per bill.
        pages = -(-len(jobs) // 100)
        assert calls[LIST_BILLS] <= len(vendors_with_bills) + 2 * pages + 2
        ramp_bills = h.ramp.test_business.bills.values()
        remote_ids = Counter(b.remote_id for b in ramp_bills)
        assert remote_ids
        assert set(remote_ids.values()) == {1}


async def test_a_change_announced_while_the_job_waits_is_fetched_not_taken_from_the_listing(
    database_url: str, tmp_path: Path
) -> None:
    async with Harness.start(database_url, scenario="empty", data_dir=tmp_path) as h:
        connection = await h.connect()
        await h.setup()
        _vendor, bill = new_vendor_and_bill(h)
        await h.freshbooks.webhooks.drain()
        # List only: the object syncs wait in the queue with their snapshots.
        await backfilled(h)
        waiting = await object_jobs(h, kind=Kind.SYNC_BILL.value)
        stale = next(j for j in waiting if j.args["fb_id"] == str(bill.id))
        assert stale.args[SNAPSHOT_ARG]["lines"][0]["description"] == "Paper"

        # Its vendor first, so that the bill's first attempt has nothing to wait for.
        vendors_only = Registry()
        register_backfill_handlers(vendors_only, h.runtime)
        deps = SyncDeps(runtime=h.runtime, caches=Caches.build(h.clock.now))
        vendors_only.register(Kind.SYNC_VENDOR.value, partial(sync_vendor, deps))
        await worker(h, vendors_only).run_until_idle()

        books = h.freshbooks.primary.books
        line: dict[str, Any] = {
            "categoryid": next(iter(books.categories)),
            "description": "Paper, corrected",
            "quantity": 3,
            "unit_cost": {"amount": "12.50", "code": "USD"},
        }
        books.update("bills", bill.id, {"lines": [line]})
        async with h.engine.begin() as db:  # what the webhook endpoint does
            enqueued = await enqueue_object_sync(
                db,
                kind=Kind.SYNC_BILL,
                connection_id=connection.id,
                fb_id=bill.id,
                source=Source.WEBHOOK,
                now=h.clock.now(),
            )
        assert enqueued.coalesced
        assert enqueued.job_id == stale.id

        await worker(h, full_registry(h), concurrency=2).run_until_idle()
        (done,) = [j for j in await object_jobs(h) if j.id == stale.id]
        assert (done.state.value, done.attempts) == ("completed", 1)

        ramp_bill = next(
            b
            for b in h.ramp.test_business.bills.values()
            if b.remote_id and b.remote_id.endswith(f":bill:{bill.id}")
        )
        assert [li.memo for li in ramp_bill.line_items] == ["Paper, corrected"]
        assert sum(li.amount_minor for li in ramp_bill.line_items) == 3750
        assert (await fetched_via(h, "bill"))["get"] >= 1


async def test_the_reference_cache_reads_once_and_rereads_only_vendors_when_told(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with Harness.start(sqlite_url, scenario="services-firm", data_dir=tmp_path) as h:
        connection = await h.connect()
        await h.setup()
        cache = RampStateCache(h.clock.now)
        async with h.runtime.clients(connection) as (_fb, ramp):
            routes = h.ramp.counters.requests_by_route
            before = Counter(routes)
            readers: list[Any] = []

            async def read_reference() -> None:
                readers.append(await cache.reference(connection.id, ramp))

            async with anyio.create_task_group() as tg:  # jobs finding the cache cold together
                for _ in range(5):
                    tg.start_soon(read_reference)
            first = readers[0]
            assert all(r is first for r in readers)
            assert (Counter(routes) - before)["GET /developer/v1/accounting/accounts"] == 1
            before = Counter(routes)
            again = await cache.reference(connection.id, ramp)
            assert again is first
            assert Counter(routes) == before

            cache.invalidate_vendors(connection.id)
            reread = await cache.reference(connection.id, ramp)
            delta = Counter(routes) - before
            assert set(delta) == {"GET /developer/v1/vendors"}
            assert reread.gl_accounts == first.gl_accounts
            assert reread.field_options == first.field_options
            assert reread.read_at == first.read_at

            # A review is confirmed on data at most `REVIEW_MAX_AGE` old, whatever the TTL.
            h.clock.advance(REVIEW_MAX_AGE.total_seconds() + 1)
            assert await cache.reference(connection.id, ramp) is reread
            strict = await cache.reference(connection.id, ramp, max_age=REVIEW_MAX_AGE)
            assert strict.read_at > reread.read_at


async def test_bills_racing_to_create_their_vendor_wait_for_the_winner_instead_of_failing(
    database_url: str, tmp_path: Path
) -> None:
    async with Harness.start(database_url, scenario="empty", data_dir=tmp_path) as h:
        connection = await h.connect()
        await h.setup()
        vendor, first = new_vendor_and_bill(h)
        books = h.freshbooks.primary.books
        category = next(iter(books.categories))
        bills = [first.id]
        for n in range(3):
            bills.append(
                books.create(
                    "bills",
                    {
                        "vendorid": vendor.id, "issue_date": h.clock.now().date().isoformat(),
                        "due_offset_days": 30, "currency_code": "USD", "language": "en",
                        "lines": [{"categoryid": category, "description": f"Ream {n}",
                                   "quantity": 1, "unit_cost": {"amount": "9.00", "code": "USD"}}],
                    },
                ).id
            )  # fmt: skip
        async with h.engine.begin() as db:
            for bill_id in bills:
                await enqueue_object_sync(
                    db, kind=Kind.SYNC_BILL, connection_id=connection.id, fb_id=bill_id,
                    source=Source.MANUAL, now=h.clock.now(),
                )  # fmt: skip
        # All four plan "create the vendor" at once; one does, the others wait and re-plan.
        await worker(h, full_registry(h), concurrency=4).run_until_idle()

        jobs = await object_jobs(h, kind=Kind.SYNC_BILL.value)
        assert [(j.state.value, j.attempts) for j in jobs] == [("completed", 1)] * len(bills)
        business = h.ramp.test_business
        assert [v.name for v in business.vendors.values()] == [vendor.vendor_name]
        ours = [b for b in business.bills.values() if b.remote_id and ":bill:" in b.remote_id]
        assert sorted(int(b.remote_id.rsplit(":", 1)[1]) for b in ours) == sorted(bills)
        async with read(h.engine) as db:
            rows = await audit.between(
                db, start=datetime.min.replace(tzinfo=UTC), end=datetime.max.replace(tzinfo=UTC),
                connection_id=connection.id, limit=10_000,
            )  # fmt: skip
        waited = [r for r in rows if r.step == "contended"]
        assert waited
        assert all(isinstance(r.detail["waited_for_job"], int) for r in waited)
