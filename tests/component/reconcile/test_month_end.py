"""Acceptance (issue 8): the October report of a synced services firm, hand edits, heal.

One services-firm sync (the expensive part) carries the whole story, in order: zero
differences; three hand edits in Ramp and one FreshBooks edit with webhooks off show up as
exactly those four differences; heal re-pushes the FreshBooks one only, and Ramp receives
no write for the hand-edited bills.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from reconcile_support import drain, registry_for, synced_firm

from ml_connector.core.actions import UpdateBill
from ml_connector.core.reconcile import Period, Report, Status
from ml_connector.store import read, sync_state
from ml_connector.sync.reconcile import (
    LAST_KEY,
    enqueue_reconcile,
    heal,
    preview_heal,
    run_report,
)
from support.harness import Harness

pytestmark = pytest.mark.anyio

OCTOBER = Period.month("2026-10")


def _ramp_bill(h: Harness, ramp_id: str) -> Any:
    return h.ramp.test_business.bills[ramp_id]


def _state(bill: Any) -> Any:
    return copy.deepcopy(
        (bill.line_items, bill.selections, bill.archived_at, bill.updated_at, bill.status)
    )


def _by_fb(report: Report) -> dict[str, Status]:
    return {e.fb_id: e.status for e in report.differences if e.fb_id is not None}


def _writes(h: Harness) -> dict[str, int]:
    return {
        route: n
        for route, n in h.ramp.counters.requests_by_route.items()
        if not route.startswith("GET")
    }


async def test_october_report_flags_hand_edits_and_heals_freshbooks_drift(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with Harness.start(sqlite_url, scenario="services-firm", data_dir=tmp_path) as h:
        registry = registry_for(h)
        await synced_firm(h, registry)
        assert h.connection is not None
        connection_id = h.connection.id

        # 1. After the sync: nothing differs, and every total agrees on both sides.
        report = await run_report(h.runtime, connection_id, OCTOBER)
        assert report.differences == ()
        matched = [e for e in report.entries if e.status is Status.MATCH]
        assert len(matched) > 50
        assert report.totals
        assert all(t.agrees for t in report.totals)
        assert {t.dimension for t in report.totals} == {
            "vendor", "gl_account", "cost_center", "month"
        }  # fmt: skip
        for waiting in report.waiting:  # vendor short forms a person must confirm
            assert "vendor" in waiting.reason

        # 2. Hand edits in Ramp (as in Ramp's UI) and one FreshBooks edit nobody hears of.
        business = h.ramp.test_business
        open_bills = [
            e for e in matched
            if e.ramp_id is not None and _ramp_bill(h, e.ramp_id).status == "OPEN"
        ]  # fmt: skip
        amount_edit, coding_edit, archived_edit, fb_edit = open_bills[:4]
        bill = _ramp_bill(h, amount_edit.ramp_id)
        bill.line_items[0].amount_minor += 5_000
        bill = _ramp_bill(h, coding_edit.ramp_id)
        gl_now = bill.line_items[0].selections[0]
        other_gl = next(
            s
            for b in business.bills.values()
            for line in b.line_items
            for s in line.selections
            if s.field_type == "GL_ACCOUNT" and s.option_external_id != gl_now.option_external_id
        )
        bill.line_items[0].selections = [other_gl, *bill.line_items[0].selections[1:]]
        _ramp_bill(h, archived_edit.ramp_id).archived_at = h.clock.now()
        h.freshbooks.webhooks.knobs.update({"loss_rate": 1.0})
        h.freshbooks.primary.books.update(
            "bills", int(fb_edit.fb_id), {"bill_number": "INV-EDITED-7"}
        )
        h.clock.advance(60)

        report = await run_report(h.runtime, connection_id, OCTOBER)
        assert _by_fb(report) == {
            amount_edit.fb_id: Status.DRIFT_FROM_RAMP,
            coding_edit.fb_id: Status.DRIFT_FROM_RAMP,
            archived_edit.fb_id: Status.DRIFT_FROM_RAMP,
            fb_edit.fb_id: Status.DRIFT_FROM_FRESHBOOKS,
        }
        entries = {e.fb_id: e for e in report.differences}
        assert [d.field for d in entries[amount_edit.fb_id].differences] == [
            "line 1 amount", "total"
        ]  # fmt: skip
        assert [d.field for d in entries[coding_edit.fb_id].differences] == ["line 1 GL account"]
        assert "archived in Ramp" in entries[archived_edit.fb_id].reason
        assert [d.field for d in entries[fb_edit.fb_id].differences] == ["invoice number"]
        assert entries[fb_edit.fb_id].differences[0].freshbooks == "INV-EDITED-7"
        assert [e.fb_id for e in report.healable] == [fb_edit.fb_id]
        assert all(e.audit_ref == f"bill:{e.fb_id}" for e in report.differences)
        month = next(
            t for t in report.totals
            if (t.dimension, t.key, t.currency) == ("month", "2026-10", archived_edit.currency)
        )  # fmt: skip
        assert month.ramp_count == month.freshbooks_count - 1  # the archived one

        # 3. Heal: the dry run shows the one update; Ramp's hand edits are refused.
        previews = await preview_heal(h.runtime, connection_id, report)
        assert [p.fb_id for p in previews] == [fb_edit.fb_id]
        assert [type(a) for a in previews[0].actions] == [UpdateBill]
        hand_edited = [amount_edit, coding_edit, archived_edit]
        before = {e.ramp_id: _state(_ramp_bill(h, e.ramp_id)) for e in hand_edited}
        writes_before = _writes(h)
        outcome = await heal(
            h.runtime, connection_id, OCTOBER,
            [e.fb_id for e in (*hand_edited, fb_edit)], requested_by="test",
        )  # fmt: skip
        assert [fb_id for fb_id, _ in outcome.enqueued] == [fb_edit.fb_id]
        assert sorted(fb_id for fb_id, _ in outcome.refused) == sorted(e.fb_id for e in hand_edited)
        await drain(h, registry)

        assert _ramp_bill(h, fb_edit.ramp_id).invoice_number == "INV-EDITED-7"
        assert {e.ramp_id: _state(_ramp_bill(h, e.ramp_id)) for e in hand_edited} == before
        writes_after = _writes(h)
        delta = {k: n - writes_before.get(k, 0) for k, n in writes_after.items()}
        assert {k: n for k, n in delta.items() if n} == {"PATCH /developer/v1/bills/{bill_id}": 1}

        # 4. What remains is exactly the Ramp hand edits, flagged, as the scheduled job sees it.
        async with h.engine.begin() as db:
            await enqueue_reconcile(db, connection_id=connection_id, now=h.clock.now(),
                                    period=OCTOBER)  # fmt: skip
        await drain(h, registry)
        async with read(h.engine) as db:
            last = await sync_state.get(db, connection_id, LAST_KEY)
        assert last is not None
        assert last["period"]["label"] == "2026-10"
        assert sorted(
            e["fb_id"] for e in last["entries"] if e["status"] != "waiting_for_review"
        ) == sorted(e.fb_id for e in hand_edited)
        assert {e["status"] for e in last["entries"]} <= {"drift_from_ramp", "waiting_for_review"}
        assert last["healable"] == []
