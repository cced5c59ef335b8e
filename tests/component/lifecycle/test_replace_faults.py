"""The paid-after-sync replacement survives lost answers: no duplicate, no lost bill.

Ramp commits the archive and the create, then the connection drops before the answer.
The intent stays pending across attempts; the retry sees the archive done and skips it,
and then finds the replacement by ``remote_id`` and adopts it instead of creating a third
bill. Also: the review policy leaves the open bill alone.
"""

from __future__ import annotations

from typing import Any

import pytest
from lifecycle_env import LifecycleEnv

from ml_connector.core.flow_config import dump_flow_config, load_flow_config_or_raise
from ml_connector.metrics import SYNC_LATENCY_SECONDS
from ml_connector.store import mappings as mappings_store
from ml_connector.store import read
from ml_connector.sync.kinds import Kind, Source, enqueue_object_sync

pytestmark = pytest.mark.anyio


async def sync(env: LifecycleEnv, kind: Kind, fb_id: str | int) -> None:
    async with env.h.engine.begin() as db:
        await enqueue_object_sync(
            db, kind=kind, connection_id=env.connection.id, fb_id=fb_id, source=Source.MANUAL,
            now=env.h.clock.now(),
        )  # fmt: skip
    await env.settle()


async def synced_open_bill(env: LifecycleEnv) -> str:
    category = next(iter(env.h.freshbooks.primary.books.categories))
    vendor = await env.freshbooks(
        "POST",
        "bill_vendors",
        {"bill_vendor": {"vendor_name": "Lantern Studio", "currency_code": "USD",
                         "primary_contact_email": "ap@lantern.example", "country": "US",
                         "province": "NY"}},
    )  # fmt: skip
    bill = await env.freshbooks(
        "POST",
        "bills",
        {"bill": {"vendorid": vendor["bill_vendor"]["vendorid"], "bill_number": "LS-77",
                  "issue_date": "2026-11-01", "due_offset_days": 15, "currency_code": "USD",
                  "lines": [{"categoryid": category, "description": "Photography",
                             "unit_cost": {"amount": "980.00", "code": "USD"}, "quantity": 1}]}},
    )  # fmt: skip
    fb_id = str(bill["bill"]["id"])
    await sync(env, Kind.SYNC_BILL, fb_id)
    [opened] = env.ramp_bills(fb_id)
    assert (opened.status, opened.archived_at) == ("OPEN", None)
    return fb_id


async def pay(env: LifecycleEnv, fb_id: str) -> None:
    env.h.clock.advance(3600)
    await env.freshbooks(
        "POST",
        "bill_payments",
        {"bill_payment": {"billid": int(fb_id), "amount": {"amount": "980.00", "code": "USD"},
                          "paid_date": "2026-11-02", "payment_type": "Bank Transfer"}},
    )  # fmt: skip


def latency_count(kind: str) -> float:
    sample = SYNC_LATENCY_SECONDS.labels(kind=kind)
    return sum(
        s.value for metric in sample.collect() for s in metric.samples if s.name.endswith("_count")
    )


async def test_lost_answers_to_archive_and_create_make_no_duplicate(env: LifecycleEnv) -> None:
    fb_id = await synced_open_bill(env)
    [opened] = env.ramp_bills(fb_id)
    await pay(env, fb_id)
    faults = env.h.ramp.faults
    faults.arm({"drop_after_write": {"route": "DELETE /developer/v1/bills/{bill_id}"}})
    faults.arm({"drop_after_write": {"route": "POST /developer/v1/bills"}})
    latencies = latency_count("bill")

    await sync(env, Kind.SYNC_BILL, fb_id)

    assert env.h.ramp.counters.dropped_connections == 2
    original, replacement = env.ramp_bills(fb_id)
    assert original.id == opened.id
    assert original.archived_at is not None
    assert (replacement.status, replacement.payment_method) == ("PAID", "PAID_MANUALLY")
    assert replacement.payment_details == {
        "manual_payment_method": "DOMESTIC_WIRE_TRANSFER",
        "payment_date": replacement.payment_details["payment_date"],
    }
    assert str(replacement.paid_at) == "2026-11-02"
    assert env.h.ramp.counters.duplicate_bills_by_remote_id == 0
    assert await env.linked_ramp_bill(fb_id) == replacement.id
    assert [state for state, _ in await env.bill_jobs(fb_id)] == ["completed", "completed"]
    trail = await env.trail(fb_id)
    [adopted] = [e for e in trail if e.step == "linked"]
    assert adopted.ramp_id == replacement.id
    assert (adopted.detail["rule"], adopted.detail["replaces"]) == (
        "found_by_remote_id",
        original.id,
    )
    # The lost DELETE answer is retried in the call (archiving twice is harmless); the
    # lost POST answer leaves the intent pending for the next attempt, which adopts.
    archived = [e for e in trail if e.step == "ramp.response" and e.detail.get("archived")]
    assert [e.ramp_id for e in archived] == [original.id]
    [error] = [e.detail for e in trail if e.step == "ramp.error"]
    assert error["outcome_unknown"] is True
    assert "POST" in error["message"]
    resumed = [e for e in trail if e.step == "ramp.request" and "resumes_intent" in e.detail]
    assert len(resumed) == 1
    assert await env.broken_chains(trail) == []
    # The adopted replacement is a write too: the latency metric saw it.
    assert latency_count("bill") == latencies + 1

    # Settled: the next look changes nothing.
    bills_before = len(env.h.ramp.test_business.bills)
    await sync(env, Kind.SYNC_BILL, fb_id)
    assert len(env.h.ramp.test_business.bills) == bills_before
    assert env.h.ramp.counters.dropped_connections == 2


async def test_review_policy_leaves_the_open_bill_and_parks_the_job(env: LifecycleEnv) -> None:
    async with read(env.h.engine) as db:
        current = await mappings_store.current(db, env.connection.id)
    assert current is not None
    config = load_flow_config_or_raise(current.text)
    review = config.model_copy(
        update={"bills": config.bills.model_copy(update={"paid_after_sync": "review"})}
    )
    async with env.h.engine.begin() as db:
        await mappings_store.save(
            db, connection_id=env.connection.id, text=dump_flow_config(review),
            document=review.model_dump(mode="json"), author="test", now=env.h.clock.now(),
        )  # fmt: skip
    fb_id = await synced_open_bill(env)
    await pay(env, fb_id)
    await sync(env, Kind.SYNC_BILL, fb_id)
    [still_open] = env.ramp_bills(fb_id)
    assert (still_open.status, still_open.archived_at) == ("OPEN", None)
    state, reason = (await env.bill_jobs(fb_id))[-1]
    assert state == "attention"
    assert reason is not None
    assert "paid_after_sync is 'review'" in reason
    outcome: Any = [e for e in await env.trail(fb_id) if e.step == "outcome"][-1]
    assert outcome.detail["code"] == "bill.paid_in_freshbooks_only"
