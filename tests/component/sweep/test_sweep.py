"""The reconciliation sweep: webhooks off → the sweep finds the change and enqueues it."""

from __future__ import annotations

from typing import Any

import pytest
from sweep_helpers import backfill_registry, object_jobs, worker

from ml_connector.queue import JobState, Lane
from ml_connector.store import audit, inbox, read, sync_state
from ml_connector.sync.backfill import start_backfill
from ml_connector.sync.enumeration import SWEEP_KEY
from ml_connector.sync.kinds import Kind, Source
from ml_connector.sync.sweep import MISSED_BY_WEBHOOK, Sweeper, SweepReport, enqueue_sweep
from support.harness import Harness

SETTLED = 5 * 60
"""Seconds to let a change age past the sweep's grace period."""


async def backfilled(h: Harness) -> None:
    assert h.connection is not None
    async with h.engine.begin() as db:
        await start_backfill(db, h.connection.id, h.clock.now())
    await worker(h, backfill_registry(h)).run_until_idle()


def new_vendor_and_bill(h: Harness) -> tuple[Any, Any]:
    books = h.freshbooks.primary.books
    vendor = books.create(
        "bill_vendors",
        {
            "vendor_name": "Acme Paper",
            "currency_code": "USD",
            "primary_contact_email": "ap@acme-paper.example",
            "primary_contact_first_name": "Dana",
            "primary_contact_last_name": "Reyes",
            "street": "12 Mill Road",
            "city": "Albany",
            "province": "New York",
            "postal_code": "12207",
            "country": "United States",
        },
    )
    category = next(iter(books.categories.values()))
    bill = books.create(
        "bills",
        {
            "vendorid": vendor.id,
            "issue_date": h.clock.now().date().isoformat(),
            "due_offset_days": 30,
            "currency_code": "USD",
            "language": "en",
            "lines": [
                {
                    "categoryid": category.id,
                    "description": "Paper",
                    "quantity": 2,
                    "unit_cost": {"amount": "12.50", "code": "USD"},
                }
            ],
        },
    )
    return vendor, bill


async def sweep(h: Harness) -> SweepReport:
    assert h.connection is not None
    report = await Sweeper(h.runtime).sweep(h.connection.id)
    assert report is not None
    return report


def missed_count(kind: str) -> float:
    return MISSED_BY_WEBHOOK.labels(kind=kind)._value.get()  # type: ignore[attr-defined]


@pytest.mark.anyio
async def test_changes_with_no_webhook_are_enqueued_and_audited_as_missed(
    empty_firm: Harness,
) -> None:
    h = empty_firm
    assert h.connection is not None
    await backfilled(h)
    before_jobs = {j.id for j in await object_jobs(h)}
    bills_missed_before = missed_count("bill")
    vendor, bill = new_vendor_and_bill(h)  # no webhook receiver: every delivery is lost
    h.clock.advance(SETTLED)

    report = await sweep(h)

    new_jobs = [j for j in await object_jobs(h) if j.id not in before_jobs]
    assert sorted((j.kind, j.args["fb_id"]) for j in new_jobs) == [
        (Kind.SYNC_BILL.value, str(bill.id)),
        (Kind.SYNC_VENDOR.value, str(vendor.id)),
    ]
    assert {j.args["source"] for j in new_jobs} == {Source.SWEEP.value}
    assert {j.priority for j in new_jobs} == {Lane.RECONCILE}
    assert sorted(report.missed) == sorted([f"bill:{bill.id}", f"bill_vendor:{vendor.id}"])
    assert missed_count("bill") == bills_missed_before + 1
    async with read(h.engine) as db:
        trail = await audit.for_fb_object(
            db, fb_id=str(bill.id), object_type="bill", connection_id=h.connection.id
        )
        state = await sync_state.get(db, h.connection.id, SWEEP_KEY)
    assert [e.step for e in trail] == ["missed_by_webhook"]
    assert trail[0].detail["sync_job_id"] in {j.id for j in new_jobs}
    assert state is not None
    assert state["missed_total"] == 2

    # The next sweep sees the same versions: no new job, no new audit row.
    again = await sweep(h)
    assert again.missed == []
    assert again.changed == 0
    assert {j.id for j in await object_jobs(h)} == before_jobs | {j.id for j in new_jobs}


@pytest.mark.anyio
async def test_a_change_the_webhook_announced_is_not_called_missed(empty_firm: Harness) -> None:
    h = empty_firm
    assert h.connection is not None
    await backfilled(h)
    books = h.freshbooks.primary.books
    vendor = books.create("bill_vendors", {"vendor_name": "Blue Ink", "currency_code": "USD"})
    h.clock.advance(30)
    # What the webhook endpoint stores for the delivery that announced it.
    async with h.engine.begin() as db:
        await inbox.record(
            db,
            source="freshbooks",
            connection_id=h.connection.id,
            body=f"name=bill_vendor.create&object_id={vendor.id}&account_id={books.account_id}".encode(),
            dedupe_key=f"test:{vendor.id}",
            received_at=h.clock.now(),
        )
    h.clock.advance(SETTLED)
    before = {j.id for j in await object_jobs(h)}

    report = await sweep(h)

    assert report.missed == []
    assert report.verdicts["notified"] == 1
    assert {j.id for j in await object_jobs(h)} == before
    async with read(h.engine) as db:
        trail = await audit.for_fb_object(db, fb_id=str(vendor.id), connection_id=h.connection.id)
    assert trail == []


@pytest.mark.anyio
async def test_a_fresh_change_waits_one_sweep_for_its_webhook(empty_firm: Harness) -> None:
    h = empty_firm
    await backfilled(h)
    vendor = h.freshbooks.primary.books.create(
        "bill_vendors", {"vendor_name": "Late Hook LLC", "currency_code": "USD"}
    )
    first = await sweep(h)
    assert first.verdicts["deferred"] == 1
    assert first.missed == []
    h.clock.advance(SETTLED)
    second = await sweep(h)
    assert second.missed == [f"bill_vendor:{vendor.id}"]


@pytest.mark.anyio
async def test_a_delete_missed_by_webhook_is_swept(empty_firm: Harness) -> None:
    h = empty_firm
    _, bill = new_vendor_and_bill(h)
    h.clock.advance(SETTLED)
    await backfilled(h)
    h.freshbooks.primary.books.update("bills", bill.id, {"vis_state": 1})
    h.clock.advance(SETTLED)
    report = await sweep(h)
    assert report.missed == [f"bill:{bill.id}"]
    [job] = list(await object_jobs(h, kind=Kind.SYNC_BILL.value))
    assert job.state is JobState.AVAILABLE  # the backfill's job absorbed the sweep's


@pytest.mark.anyio
async def test_no_sweep_before_the_backfill_listed_everything(empty_firm: Harness) -> None:
    h = empty_firm
    assert h.connection is not None
    assert await Sweeper(h.runtime).sweep(h.connection.id) is None
    async with h.engine.begin() as db:
        enqueued = await enqueue_sweep(db, connection_id=h.connection.id, now=h.clock.now())
        again = await enqueue_sweep(db, connection_id=h.connection.id, now=h.clock.now())
    assert again.coalesced
    assert again.job_id == enqueued.job_id
