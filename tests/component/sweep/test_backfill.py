"""The initial backfill: enumerate everything once, resumably, with progress."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sweep_helpers import backfill_registry, object_jobs, worker

from ml_connector.queue import (
    Job,
    JobState,
    Lane,
    claim,
    complete,
    list_jobs,
    rescue_expired,
)
from ml_connector.store import audit, read, sync_state
from ml_connector.sync.backfill import Backfiller, backfill_progress, start_backfill
from ml_connector.sync.enumeration import BACKFILL_KEY, SWEEP_KEY
from ml_connector.sync.kinds import Kind, Source
from support.harness import Harness

DELETED = 1
LEASE = timedelta(minutes=5)


def expected_objects(h: Harness) -> Counter[str]:
    """What FreshBooks lists by default (active and archived; deleted are hidden).

    Categories are listed as the sweep's baseline but get no job of their own: the
    backfill syncs every bill and expense that uses them anyway.
    """
    books = h.freshbooks.primary.books
    expected: Counter[str] = Counter()
    for kind, store in (
        (Kind.SYNC_VENDOR.value, books.vendors),
        (Kind.SYNC_BILL.value, books.bills),
        (Kind.SYNC_EXPENSE.value, books.expenses),
    ):
        expected[kind] = sum(1 for r in store.values() if getattr(r, "vis_state", 0) != DELETED)
    return expected


def listed_categories(h: Harness) -> int:
    categories = h.freshbooks.primary.books.categories.values()
    return sum(1 for c in categories if getattr(c, "vis_state", 0) != DELETED)


def assert_each_object_once(jobs: list[Job], expected: Counter[str]) -> None:
    keys = Counter((j.kind, j.args["fb_id"]) for j in jobs)
    duplicates = {k: n for k, n in keys.items() if n > 1}
    assert duplicates == {}
    assert Counter(j.kind for j in jobs) == expected


@pytest.mark.anyio
async def test_services_firm_backfill_enqueues_every_object_once_with_progress(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with Harness.start(sqlite_url, scenario="services-firm", data_dir=tmp_path) as h:
        connection = await h.connect()
        async with h.engine.begin() as db:
            started = await start_backfill(db, connection.id, h.clock.now())
            again = await start_backfill(db, connection.id, h.clock.now())
        assert started.started
        assert started.run == 1
        assert not again.started
        assert again.run == 1

        progress = await backfill_progress(h.runtime, connection.id)
        assert progress is not None
        assert progress.status == "enumerating"
        assert progress.total == 0  # nothing listed yet

        await worker(h, backfill_registry(h)).run_until_idle()

        jobs = await object_jobs(h)
        expected = expected_objects(h)
        assert sum(expected.values()) > 400  # the scenario's hundreds of objects
        assert_each_object_once(jobs, expected)
        assert {j.args["source"] for j in jobs} == {Source.BACKFILL.value}
        assert {j.priority for j in jobs} == {Lane.BACKFILL}

        progress = await backfill_progress(h.runtime, connection.id)
        assert progress is not None
        assert progress.status == "syncing"  # every object listed, none synced yet
        by_name = {c.collection: c for c in progress.collections}
        assert by_name["bills"].total == by_name["bills"].enumerated == expected["sync.bill"]
        assert by_name["bills"].pending == expected["sync.bill"]
        assert progress.done == 0

        # The run ends with a full sweep; everything was just marked, so nothing is missed.
        async with read(h.engine) as db:
            sweep = await sync_state.get(db, connection.id, SWEEP_KEY)
            trail = await audit.for_fb_object(
                db, fb_id=jobs[0].args["fb_id"], connection_id=connection.id
            )
        assert sweep is not None
        assert sweep["last_report"]["full"] is True
        assert sweep["last_report"]["missed"] == 0
        deleted = sum(
            1 for b in h.freshbooks.primary.books.bills.values() if b.vis_state == DELETED
        )
        assert deleted > 0
        listed = sum(expected.values()) + listed_categories(h) + deleted
        assert sweep["last_report"]["listed"] == listed
        # Bills deleted before the connection existed are listed (deleted pass) but left alone.
        assert sweep["last_report"]["verdicts"]["never_synced"] == deleted
        assert [e.step for e in trail] == ["queued_by_backfill"]


@pytest.mark.anyio
async def test_a_worker_killed_mid_backfill_resumes_without_duplicates_or_gaps(
    database_url: str, tmp_path: Path
) -> None:
    async with Harness.start(database_url, scenario="services-firm", data_dir=tmp_path) as h:
        connection = await h.connect()
        async with h.engine.begin() as db:
            await start_backfill(db, connection.id, h.clock.now())
        first = worker(h, backfill_registry(h))
        # categories, vendors, bills page 1 (object syncs are not claimed by this registry)
        assert await first.run_until_idle(max_jobs=3) == 3

        # Killed right after committing bills page 2: its checkpoint is in, the job is not
        # completed, and the step it enqueued (page 3) is waiting.
        async with h.engine.begin() as db:
            [page_two] = await claim(
                db, owner="killed-a", now=h.clock.now(), lease=LEASE, kinds=[Kind.BACKFILL.value]
            )
        assert page_two.args["resource"] == "bills"
        assert page_two.args["checkpoint"] == 2
        await Backfiller(h.runtime)(page_two)
        # Page 3 waits behind page 2's lock until page 2's lease expires and is rescued.
        h.clock.advance(6 * 60)
        async with h.engine.begin() as db:
            assert await rescue_expired(db, now=h.clock.now()) == [page_two.id]
        # Killed before committing page 3: claimed, then nothing.
        async with h.engine.begin() as db:
            [page_three] = await claim(
                db, owner="killed-b", now=h.clock.now(), lease=LEASE, kinds=[Kind.BACKFILL.value]
            )
        assert page_three.args["checkpoint"] == 3
        h.clock.advance(6 * 60)  # page 3's lease expires too
        await worker(h, backfill_registry(h)).run_until_idle()

        async with read(h.engine) as db:
            state = await sync_state.get(db, connection.id, BACKFILL_KEY)
            page_jobs = {
                j.id: j
                for j in await list_jobs(
                    db, kind=Kind.BACKFILL.value, connection_id=connection.id, limit=100
                )
            }
        assert state is not None
        assert state["status"] == "enumerated"
        assert page_jobs[page_two.id].state is JobState.COMPLETED  # re-run found its step done
        assert page_jobs[page_three.id].state is JobState.COMPLETED
        assert any("lease" in (e.get("error") or "") for e in page_jobs[page_three.id].errors)
        assert_each_object_once(await object_jobs(h), expected_objects(h))


@pytest.mark.anyio
async def test_a_failed_page_is_retried_from_its_checkpoint(empty_firm: Harness) -> None:
    h = empty_firm
    assert h.connection is not None
    books = h.freshbooks.primary.books
    vendor = books.create("bill_vendors", {"vendor_name": "Acme Paper", "currency_code": "USD"})
    async with h.engine.begin() as db:
        await start_backfill(db, h.connection.id, h.clock.now())
    h.freshbooks.faults.add(
        "server_error", count=1, path_prefix=f"/accounting/account/{books.account_id}/bill_vendors"
    )
    run = worker(h, backfill_registry(h))
    await run.run_until_idle()
    progress = await backfill_progress(h.runtime, h.connection.id)
    assert progress is not None
    assert progress.status == "enumerating"
    h.clock.advance(3600)
    await run.run_until_idle()
    jobs = await object_jobs(h, kind=Kind.SYNC_VENDOR.value)
    assert [j.args["fb_id"] for j in jobs] == [str(vendor.id)]
    progress = await backfill_progress(h.runtime, h.connection.id)
    assert progress is not None
    assert progress.status == "syncing"
    assert progress.error is None


@pytest.mark.anyio
async def test_a_restart_supersedes_the_running_backfill(empty_firm: Harness) -> None:
    h = empty_firm
    assert h.connection is not None
    async with h.engine.begin() as db:
        first = await start_backfill(db, h.connection.id, h.clock.now())
    async with h.engine.begin() as db:
        [old_step] = await claim(
            db, owner="slow", now=h.clock.now(), lease=LEASE, kinds=[Kind.BACKFILL.value]
        )
        second = await start_backfill(db, h.connection.id, h.clock.now(), restart=True)
    assert second.started
    assert second.run == first.run + 1
    await Backfiller(h.runtime)(old_step)  # the old run's step finds itself superseded
    async with h.engine.begin() as db:
        assert await complete(db, old_step.id, owner="slow", now=h.clock.now())
    async with read(h.engine) as db:
        state = await sync_state.get(db, h.connection.id, BACKFILL_KEY)
    assert state is not None
    assert state["run"] == second.run
    assert state["collections"]["categories"]["next_page"] == 1
    await worker(h, backfill_registry(h)).run_until_idle()
    progress = await backfill_progress(h.runtime, h.connection.id)
    assert progress is not None
    assert progress.run == second.run
    # the empty firm still has FreshBooks' system categories
    assert progress.collections[0].enumerated == listed_categories(h)
    assert progress.collections[0].enumerated > 0
