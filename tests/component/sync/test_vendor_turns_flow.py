"""Vendor creations in one process take turns and skip re-reading Ramp's vendors between
their own creations, but never at the price of a duplicate vendor: a list another process
or a reload may have outdated is read again, and a job whose vendor was created while it
waited for its turn links that one."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import anyio
import pytest
import sqlalchemy as sa
from sync_flow_support import SyncWorld

from ml_connector.queue import Registry, Worker
from ml_connector.store import audit, read
from ml_connector.store.schema import links
from ml_connector.sync.executor import SyncDeps
from ml_connector.sync.handlers import register_sync_handlers
from ml_connector.sync.kinds import Kind

pytestmark = pytest.mark.anyio

GET_VENDORS = "GET /developer/v1/vendors"
POST_VENDORS = "POST /developer/v1/vendors"


def add_vendor(w: SyncWorld, name: str) -> int:
    vendor = w.books.create(
        "bill_vendors",
        {"vendor_name": name, "currency_code": "USD", "country": "US",
         "primary_contact_email": "ap@vendor.example", "primary_contact_first_name": "Ana",
         "primary_contact_last_name": "Ruiz"},
    )  # fmt: skip
    return int(vendor.id)


def process(w: SyncWorld) -> tuple[Worker, SyncDeps]:
    """A worker with caches of its own: what one worker process has."""
    registry = Registry()
    deps = register_sync_handlers(registry, w.runtime)
    worker = Worker(w.h.engine, registry, clock=w.h.clock.now, concurrency=2, jitter=lambda: 0.0)
    return worker, deps


def ramp_calls(w: SyncWorld) -> Counter[str]:
    return Counter(w.h.ramp.counters.requests_by_route)


async def linked_ramp_vendor(w: SyncWorld, fb_vendor_id: int) -> str | None:
    async with read(w.h.engine) as db:
        found: str | None = (
            await db.execute(
                sa.select(links.c.ramp_id).where(
                    links.c.fb_type == "vendor", links.c.fb_id == str(fb_vendor_id)
                )
            )
        ).scalar_one_or_none()
    return found


async def test_back_to_back_creations_read_ramps_vendors_once(
    database_url: str, tmp_path: Path
) -> None:
    async with SyncWorld.start(database_url, tmp_path) as w:
        ids = [
            add_vendor(w, n) for n in ("Harbor Print Co", "Quillmark Supply", "Northwind Freight")
        ]
        worker, _ = process(w)
        before = ramp_calls(w)
        for fb_id in ids:
            await w.enqueue(Kind.SYNC_VENDOR, fb_id)
            await worker.run_until_idle()
        made = ramp_calls(w) - before
        # One read to plan with, one before the first create; the next two creations
        # trust the list their own turns kept (the harness clock does not move).
        assert made[POST_VENDORS] == 3
        assert made[GET_VENDORS] == 2
        assert len({await linked_ramp_vendor(w, fb_id) for fb_id in ids}) == 3

        # Once the list is older than the trust window, the next creation reads again.
        w.h.clock.advance(6)
        fb_id = add_vendor(w, "Cobalt Courier")
        await w.enqueue(Kind.SYNC_VENDOR, fb_id)
        await worker.run_until_idle()
        assert (ramp_calls(w) - before)[GET_VENDORS] == 3


async def test_a_vendor_another_process_created_in_between_is_found_not_duplicated(
    database_url: str, tmp_path: Path
) -> None:
    async with SyncWorld.start(database_url, tmp_path) as w:
        first, ours, theirs = (
            add_vendor(w, "Harbor Print Co"),
            add_vendor(w, "Northwind Freight"),
            add_vendor(w, "Northwind Freight Inc"),
        )
        worker, _ = process(w)
        other_worker, _ = process(w)
        await w.enqueue(Kind.SYNC_VENDOR, first)
        await worker.run_until_idle()  # this process now holds a list it could vouch for
        await w.enqueue(Kind.SYNC_VENDOR, theirs)
        await other_worker.run_until_idle()  # ... until another process creates one
        before = ramp_calls(w)
        await w.enqueue(Kind.SYNC_VENDOR, ours)
        await worker.run_until_idle()

        made = ramp_calls(w) - before
        assert made[GET_VENDORS] >= 1  # the list was read again, not trusted
        assert made[POST_VENDORS] == 0
        assert await linked_ramp_vendor(w, ours) == await linked_ramp_vendor(w, theirs)
        names = [v.name for v in w.ramp_business.vendors.values()]
        assert sorted(names) == ["Harbor Print Co", "Northwind Freight Inc"]


async def test_a_job_whose_vendor_was_created_while_it_waited_its_turn_links_it(
    database_url: str, tmp_path: Path
) -> None:
    async with SyncWorld.start(database_url, tmp_path) as w:
        # The same supplier entered twice in FreshBooks: both jobs plan to create it.
        twins = [add_vendor(w, "Harbor Print Co"), add_vendor(w, "Harbor Print Co")]
        for fb_id in twins:
            await w.enqueue(Kind.SYNC_VENDOR, fb_id)
        worker, deps = process(w)
        turns = deps.caches.vendor_turns
        before = ramp_calls(w)
        # Hold the turn until both jobs have planned and queued behind it.
        async with anyio.create_task_group() as tg, turns.turn(w.connection.id):
            tg.start_soon(worker.run_until_idle)
            with anyio.fail_after(30):
                # Polled: the jobs get there through database reads on other threads.
                while turns.waiting(w.connection.id) < 2:  # noqa: ASYNC110
                    await anyio.sleep(0.01)

        made = ramp_calls(w) - before
        assert made[POST_VENDORS] == 1
        ramp_ids = {await linked_ramp_vendor(w, fb_id) for fb_id in twins}
        assert len(ramp_ids) == 1
        assert None not in ramp_ids
        assert len(w.ramp_business.vendors) == 1
        holds = []
        async with read(w.h.engine) as db:
            for fb_id in twins:
                entries = await audit.for_fb_object(db, fb_id=str(fb_id), object_type="vendor")
                holds += [e.detail["reason"] for e in entries if e.step == "contended"]
        assert len(holds) == 1
        assert "waited its turn" in holds[0]
