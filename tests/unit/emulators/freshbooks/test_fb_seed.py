"""The services-firm scenario seeds FreshBooks from the shared roster, unchanged."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime

import pytest

from ml_connector_emulators.clock import EmulatorClock
from ml_connector_emulators.freshbooks import FreshBooksWorld
from ml_connector_emulators.freshbooks.bill_math import bill_totals
from ml_connector_emulators.freshbooks.records import ACTIVE
from ml_connector_emulators.scenarios import services_firm_roster


@pytest.fixture(scope="module")
def firm() -> FreshBooksWorld:
    return FreshBooksWorld(
        scenario="services-firm", clock=EmulatorClock(datetime(2026, 11, 5, 12, tzinfo=UTC))
    )


def test_vendors_include_each_alias_as_a_near_duplicate(firm: FreshBooksWorld) -> None:
    roster = services_firm_roster()
    names = [v.vendor_name for v in firm.primary.books.vendors.values()]
    expected = [n for v in roster.vendors for n in (v.name, *v.aliases)]
    assert sorted(names) == sorted(expected)
    assert {"Acme, Inc.", "ACME Inc"} <= set(names)


def test_expenses_match_the_roster_purchases_exactly(firm: FreshBooksWorld) -> None:
    roster = services_firm_roster()
    books = firm.primary.books
    wanted = sorted((p.spent_on, p.amount, p.category) for p in roster.purchases if p.in_freshbooks)
    have = sorted(
        (e.date, e.amount, books.categories[e.categoryid].name) for e in books.expenses.values()
    )
    assert have == wanted
    notes = Counter(e.notes.rsplit("Paid with: ", 1)[1] for e in books.expenses.values() if e.notes)
    assert set(notes) == {"company card", "cash", "personal card"}
    card = [e for e in books.expenses.values() if e.notes and e.notes.endswith("company card")]
    assert all(e.bank_name == "Ramp" for e in card)


def test_bills_are_a_realistic_quarter(firm: FreshBooksWorld) -> None:
    books = firm.primary.books
    bills = list(books.bills.values())
    assert 200 <= len(bills) <= 400
    assert all(date(2026, 8, 1) <= b.issue_date <= date(2026, 10, 31) for b in bills)
    roster = services_firm_roster()
    billing = {v.name: v for v in roster.vendors if v.bills} | {
        a: v for v in roster.vendors if v.bills for a in v.aliases
    }
    for bill in bills:
        profile = billing[books.vendors[bill.vendorid].vendor_name]
        assert bill.due_offset_days == profile.terms_days
    statuses = Counter(
        bill_totals(b, books.payments_of(b.id), books.today()).status
        for b in bills
        if b.vis_state == ACTIVE
    )
    assert {"paid", "partial", "overdue"} <= set(statuses)
    assert any(len({line.categoryid for line in b.lines}) > 1 for b in bills)
    assert any(line.tax_percent1 is not None for b in bills for line in b.lines)
    assert any(
        b.vendorid != min(v.id for v in books.vendors.values() if v.vendor_name == profile.name)
        for b in bills
        for profile in [billing[books.vendors[b.vendorid].vendor_name]]
    )


def test_seeding_is_deterministic() -> None:
    clock = EmulatorClock(datetime(2026, 11, 5, 12, tzinfo=UTC))
    one = FreshBooksWorld(scenario="services-firm", clock=clock)
    two = FreshBooksWorld(scenario="services-firm", clock=clock)
    assert one.primary.account_id == two.primary.account_id
    assert [(b.id, b.lines[0].unit_cost) for b in one.primary.books.bills.values()] == [
        (b.id, b.lines[0].unit_cost) for b in two.primary.books.bills.values()
    ]
