"""Issue 5 acceptance: a bill's whole life in FreshBooks reaches Ramp, by webhook or by sweep.

Created, updated, paid in full and deleted in the FreshBooks emulator; each step checked
from the Ramp emulator's state and counters and from the object's audit trail. The
FreshBooks payment arrives after the Ramp bill exists, so the default
``bills.paid_after_sync = "replace"`` archives the open Ramp bill and creates it again
paid manually; the delete then cannot archive a paid Ramp bill and goes to review. A
second bill, created and deleted while unpaid, is archived.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

import pytest
from lifecycle_env import LifecycleEnv

pytestmark = pytest.mark.anyio

PAID_ON = date(2026, 11, 3)
NEXT_EDIT = 3 * 60
"""Seconds between a person's edits. FreshBooks deliveries carry no id, so the product
takes identical bodies within a minute for one delivery (`web.webhooks`)."""
WRITES = ("received", "fetched", "mapped", "ramp.request", "ramp.response", "outcome")


def line(category_id: int, description: str, amount: str) -> dict[str, Any]:
    return {
        "categoryid": category_id,
        "description": description,
        "unit_cost": {"amount": amount, "code": "USD"},
        "quantity": 1,
    }


async def new_bill(env: LifecycleEnv, vendor_id: int, number: str, *lines: dict[str, Any]) -> str:
    created = await env.freshbooks(
        "POST",
        "bills",
        {
            "bill": {
                "vendorid": vendor_id,
                "bill_number": number,
                "issue_date": "2026-11-01",
                "due_offset_days": 30,
                "currency_code": "USD",
                "lines": list(lines),
            }
        },
    )
    return str(created["bill"]["id"])


async def lifecycle(env: LifecycleEnv, deliver: Callable[[], Awaitable[None]]) -> tuple[str, str]:
    """Run the story with `deliver` carrying each change over; the two FreshBooks bill ids."""
    ramp = env.h.ramp
    category = next(iter(env.h.freshbooks.primary.books.categories))
    vendor = await env.freshbooks(
        "POST",
        "bill_vendors",
        {
            "bill_vendor": {
                "vendor_name": "Harbor Print Co",
                "currency_code": "USD",
                "primary_contact_email": "ap@harborprint.example",
                "country": "US",
                "province": "CA",
            }
        },
    )
    vendor_id = vendor["bill_vendor"]["vendorid"]

    # Created → one open Ramp bill, linked.
    fb_id = await new_bill(env, vendor_id, "HP-1001", line(category, "Brochures", "120.00"))
    await deliver()
    [opened] = env.ramp_bills(fb_id)
    assert (opened.status, opened.archived_at, opened.amount_minor) == ("OPEN", None, 12000)
    assert opened.payment_method != "PAID_MANUALLY"
    assert await env.linked_ramp_bill(fb_id) == opened.id

    # Lines changed → the same Ramp bill, patched.
    env.h.clock.advance(NEXT_EDIT)
    await env.freshbooks(
        "PUT",
        f"bills/{fb_id}",
        {
            "bill": {
                "lines": [
                    line(category, "Brochures", "120.00"),
                    line(category, "Rush fee", "30.00"),
                ]
            }
        },
    )
    await deliver()
    [updated] = env.ramp_bills(fb_id)
    assert updated.id == opened.id
    assert updated.amount_minor == 15000
    assert [li.memo for li in updated.line_items] == ["Brochures", "Rush fee"]
    assert updated.archived_at is None

    # Paid in full in FreshBooks → the open bill archived, a paid twin with our remote_id.
    env.h.clock.advance(NEXT_EDIT)
    await env.freshbooks(
        "POST",
        "bill_payments",
        {
            "bill_payment": {
                "billid": int(fb_id),
                "amount": {"amount": "150.00", "code": "USD"},
                "paid_date": PAID_ON.isoformat(),
                "payment_type": "Check",
            }
        },
    )
    await deliver()
    original, replacement = env.ramp_bills(fb_id)
    assert original.id == opened.id
    assert original.archived_at is not None
    assert original.status == "OPEN"
    assert (replacement.status, replacement.archived_at) == ("PAID", None)
    assert replacement.payment_method == "PAID_MANUALLY"
    assert replacement.paid_at == PAID_ON
    assert replacement.remote_id == original.remote_id
    assert replacement.invoice_number == original.invoice_number
    assert replacement.amount_minor == 15000
    assert [(li.memo, li.amount_minor) for li in replacement.line_items] == [
        (li.memo, li.amount_minor) for li in original.line_items
    ]
    assert [li.selections for li in replacement.line_items] == [
        li.selections for li in original.line_items
    ]
    assert await env.linked_ramp_bill(fb_id) == replacement.id
    # The emulator counts a duplicate only among bills that are not archived.
    assert ramp.counters.duplicate_bills_by_remote_id == 0

    # Deleted in FreshBooks → Ramp refuses to archive a paid bill: review, nothing written.
    env.h.clock.advance(NEXT_EDIT)
    await env.freshbooks("PUT", f"bills/{fb_id}", {"bill": {"vis_state": 1}})
    await deliver()
    assert replacement.archived_at is None
    assert len(env.ramp_bills(fb_id)) == 2
    state, reason = (await env.bill_jobs(fb_id))[-1]
    assert state == "attention"
    assert reason is not None
    assert "is paid" in reason

    # A second bill, created then deleted while unpaid → archived.
    env.h.clock.advance(NEXT_EDIT)
    other = await new_bill(env, vendor_id, "HP-1002", line(category, "Flyers", "45.50"))
    await deliver()
    [live] = env.ramp_bills(other)
    assert (live.status, live.archived_at, live.amount_minor) == ("OPEN", None, 4550)
    env.h.clock.advance(NEXT_EDIT)
    await env.freshbooks("PUT", f"bills/{other}", {"bill": {"vis_state": 1}})
    await deliver()
    [gone] = env.ramp_bills(other)
    assert gone.id == live.id
    assert gone.archived_at is not None

    # Nothing duplicated, nothing missing, no refresh token used twice.
    assert ramp.counters.duplicate_bills_by_remote_id == 0
    assert ramp.counters.duplicate_vendors_by_name == 0
    assert len(ramp.test_business.vendors) == 1
    assert len(ramp.test_business.bills) == 3
    assert env.h.freshbooks.counters.refresh_token_reuses == 0

    # The trail: every step of every write, the replacement and why, chains intact.
    trail = await env.trail(fb_id)
    steps = [e.step for e in trail]
    assert set(WRITES) <= set(steps), steps
    archived = [
        e for e in trail if e.step == "ramp.response" and e.detail.get("operation") == "archive"
    ]
    assert [e.ramp_id for e in archived] == [original.id]
    assert "pay it a second time" in archived[0].detail["reason"]
    [made] = [e for e in trail if e.step == "ramp.response" and e.detail.get("replaces")]
    assert (made.ramp_id, made.detail["replaces"]) == (replacement.id, original.id)
    assert made.detail["status_in_ramp"] == "PAID"
    planned = [a["action"] for e in trail if e.step == "mapped" for a in e.detail["actions"]]
    assert {"create_bill", "update_bill", "replace_bill", "review"} <= set(planned), planned
    outcomes = [e.detail.get("code") for e in trail if e.step == "outcome"]
    assert outcomes[-1] == "bill.deleted_but_paid"
    other_trail = await env.trail(other)
    assert any(
        e.step == "ramp.response" and e.detail.get("archived") and e.ramp_id == live.id
        for e in other_trail
    )
    assert await env.broken_chains(trail + other_trail) == []
    return fb_id, other


async def test_lifecycle_through_the_webhook_path(env: LifecycleEnv) -> None:
    await env.register_webhooks()
    await env.backfill()
    before = len(env.h.freshbooks.webhooks.log)
    await lifecycle(env, env.settle)
    delivered = [a for a in env.h.freshbooks.webhooks.log[before:] if a.outcome == "delivered"]
    assert len(delivered) >= 7  # vendor + bill creates, update, payment, deletes


async def test_lifecycle_with_webhooks_off_is_brought_over_by_the_sweep(env: LifecycleEnv) -> None:
    await env.register_webhooks()
    await env.backfill()
    env.h.freshbooks.webhooks.knobs.update({"loss_rate": 1.0})
    before = len(env.h.freshbooks.webhooks.log)
    fb_id, other = await lifecycle(env, env.sweep)
    attempts = env.h.freshbooks.webhooks.log[before:]
    assert attempts
    assert {a.outcome for a in attempts} == {"lost"}
    # Each of the first bill's four changes, and the second bill's two, missed by webhook.
    assert [e.step for e in await env.trail(fb_id)].count("missed_by_webhook") == 4
    assert [e.step for e in await env.trail(other)].count("missed_by_webhook") == 2
