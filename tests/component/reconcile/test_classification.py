"""The pure comparison: each verdict from the three hashes, totals per currency, periods."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from ml_connector.core.actions import Review, Subject
from ml_connector.core.hashing import content_hash
from ml_connector.core.model import Bill, FreshBooksKind, Link, RampKind
from ml_connector.core.reconcile import (
    FreshBooksSide,
    Period,
    RampSide,
    Status,
    reconcile,
    report_document,
)

PREFIX = "freshbooks:acct:bill:"
GL = "Category"


def content(fb_id: str, *, amount: str = "100.00", gl: str = "GL-1", number: str = "INV-1",
            currency: str = "USD") -> dict[str, Any]:  # fmt: skip
    return {
        "vendor_id": "v1", "vendor_contact_id": "c1", "entity_id": "e1",
        "invoice_number": number, "invoice_currency": currency, "issued_at": "2026-10-05",
        "due_at": "2026-11-04", "memo": f"FreshBooks bill {fb_id}", "remote_id": PREFIX + fb_id,
        "line_items": [{"amount": amount, "memo": "Work", "accounting_field_selections": [
            {"field_external_id": GL, "field_option_external_id": gl},
            {"field_external_id": "dept", "field_option_external_id": "ops"},
        ]}],
    }  # fmt: skip


def fb_side(fb_id: str, expected: dict[str, Any] | None, written: dict[str, Any] | None,
            *, ramp_id: str = "r", review: Review | None = None) -> FreshBooksSide:  # fmt: skip
    bill = Bill(id=fb_id, vendor_id="9", issue_date=date(2026, 10, 5), due_offset_days=30,
                currency="USD", lines=())  # fmt: skip
    link = None if written is None else Link(
        fb_kind=FreshBooksKind.BILL, fb_id=fb_id, ramp_kind=RampKind.BILL,
        ramp_id=ramp_id + fb_id, content_hash=content_hash(written),
    )  # fmt: skip
    return FreshBooksSide(bill=bill, vendor_name="Acme", actions=(review,) if review else (),
                          expected=expected, link=link)  # fmt: skip


def ramp(fb_id: str, held: dict[str, Any], *, archived: bool = False) -> RampSide:
    return RampSide(id="r" + fb_id, remote_id=PREFIX + fb_id, content=held, currency="USD",
                    archived=archived)  # fmt: skip


def run(fb: list[FreshBooksSide], rp: list[RampSide]) -> Any:
    return reconcile(OCTOBER, fb, rp, our_prefix=PREFIX, gl_field=GL,
                     names={"GL-1": "6000 Travel", "GL-2": "6100 Meals"})  # fmt: skip


OCTOBER = Period.month("2026-10")


def test_each_verdict_comes_from_who_changed_what() -> None:
    same = content("1")
    fb_changed = content("2", number="INV-2b")
    report = run(
        [
            fb_side("1", same, same),
            fb_side("2", fb_changed, content("2")),
            fb_side("3", content("3"), content("3")),
            fb_side("4", content("4", amount="80.00"), content("4")),
            fb_side("5", content("5"), None),
            fb_side(
                "6",
                None,
                None,
                review=Review(
                    subject=Subject(FreshBooksKind.BILL, "6"),
                    reason="waits for its vendor",
                    code="x",
                ),
            ),
            fb_side("7", content("7"), content("7")),
        ],
        [
            ramp("1", same),
            ramp("2", content("2")),
            ramp("3", content("3", gl="GL-2")),
            ramp("4", content("4", amount="90.00")),
            ramp("7", content("7"), archived=True),
            ramp("8", content("8")),
        ],
    )
    status = {e.fb_id: e.status for e in report.entries}
    assert status == {
        "1": Status.MATCH,
        "2": Status.DRIFT_FROM_FRESHBOOKS,
        "3": Status.DRIFT_FROM_RAMP,
        "4": Status.DRIFT_FROM_RAMP,  # both changed: the person's edit wins, heal keeps off
        "5": Status.ORPHAN_IN_FRESHBOOKS,
        "6": Status.WAITING_FOR_REVIEW,
        "7": Status.DRIFT_FROM_RAMP,
        "8": Status.ORPHAN_IN_RAMP,
    }
    assert [e.fb_id for e in report.healable] == ["2", "5"]
    by_id = {e.fb_id: e for e in report.entries}
    assert [str(d) for d in by_id["3"].differences] == [
        "line 1 GL account: FreshBooks says 6000 Travel (GL-1), Ramp has 6100 Meals (GL-2)"
    ]
    assert "FreshBooks changed too" in by_id["4"].reason
    assert "archived in Ramp" in by_id["7"].reason
    assert len(report.differences) == 6
    assert len(report.waiting) == 1


def test_totals_per_dimension_and_currency_agree_only_when_both_sides_do() -> None:
    usd, eur = content("1"), content("2", currency="EUR", amount="50.00")
    report = run(
        [fb_side("1", usd, usd), fb_side("2", eur, eur)],
        [ramp("1", usd), ramp("2", content("2", currency="EUR", amount="55.00"))],
    )
    rows = {(t.dimension, t.key, t.currency): t for t in report.totals}
    assert rows[("month", "2026-10", "USD")].agrees
    eur_month = rows[("month", "2026-10", "EUR")]
    assert (eur_month.freshbooks_amount, eur_month.ramp_amount) == (
        Decimal("50.00"),
        Decimal("55.00"),
    )
    assert eur_month.difference == Decimal("5.00")
    assert rows[("gl_account", "GL-1", "USD")].label == "6000 Travel"
    assert rows[("cost_center", "dept:ops", "EUR")].ramp_count == 1
    document = report_document(report)
    assert document["differences"] == 1
    assert document["entries"][0]["ramp_amount"] == "55.00"


def test_a_bill_entered_in_ramp_by_hand_is_outside_the_report() -> None:
    theirs = RampSide(id="x", remote_id=None, content=content("9"), currency="USD")
    report = run([], [theirs])
    assert report.entries == ()
    assert report.totals == ()


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [("2026-10", date(2026, 10, 1), date(2026, 10, 31)),
     ("2026-12", date(2026, 12, 1), date(2026, 12, 31)),
     ("2028-02", date(2028, 2, 1), date(2028, 2, 29))],
)  # fmt: skip
def test_months(text: str, start: date, end: date) -> None:
    period = Period.month(text)
    assert (period.start, period.end, period.label) == (start, end, text)


@pytest.mark.parametrize("text", ["2026-13", "2026/10", "26-10", ""])
def test_bad_months_are_refused(text: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the message varies by what is wrong
        Period.month(text)
