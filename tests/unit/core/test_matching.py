"""Expense ↔ card transaction: exact amount and currency, date window, merchant similarity."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from mapping_world import card

from ml_connector.core.matching import (
    MatchSettings,
    NoMatchPolicy,
    TransactionMatch,
    TxOutcome,
    decide_unmatched,
    match_expense,
)
from ml_connector.core.model import CardTransaction, Expense
from ml_connector.core.money import Money
from ml_connector.core.problems import Problem

DAY = date(2026, 9, 10)
SETTINGS = MatchSettings()


def expense(
    amount: str = "42.50", vendor: str | None = "Blue Bottle Coffee", **kw: object
) -> Expense:
    return Expense(
        id="e1", amount=Money(Decimal(amount), "USD"), date=DAY, category_id="2011",
        vendor_name=vendor, **kw,  # type: ignore[arg-type]
    )  # fmt: skip


def test_unique_exact_amount_in_window_matches_with_components() -> None:
    txs = [
        card("t1", 4250, date(2026, 9, 11), "BLUE BOTTLE COFFEE"),
        card("t2", 4251, DAY, "BLUE BOTTLE COFFEE"),  # one cent off: never a candidate
        card("t3", 4250, date(2026, 9, 20), "BLUE BOTTLE COFFEE"),  # outside ±3 days
    ]
    result = match_expense(expense(), txs, SETTINGS)
    assert isinstance(result, TransactionMatch)
    assert result.outcome is TxOutcome.MATCHED
    assert result.transaction is not None
    assert result.transaction.id == "t1"
    [only] = result.candidates
    c = only.components
    assert (c.amount_exact, c.currency_match, c.days_apart, c.merchant_similarity) == (
        True,
        True,
        1,
        100.0,
    )
    assert "1 day(s) apart" in result.reason


def test_currency_must_match() -> None:
    tx = CardTransaction(
        id="t", amount_minor=4250, currency="CAD", transacted_on=DAY, merchant_name="Blue Bottle"
    )
    result = match_expense(expense(), [tx], SETTINGS)
    assert isinstance(result, TransactionMatch)
    assert result.outcome is TxOutcome.NONE


def test_clear_best_by_merchant_name_matches() -> None:
    txs = [card("t1", 4250, DAY, "BLUE BOTTLE COFFEE"), card("t2", 4250, DAY, "SHELL OIL 123")]
    result = match_expense(expense(), txs, SETTINGS)
    assert isinstance(result, TransactionMatch)
    assert result.outcome is TxOutcome.MATCHED
    assert result.transaction.id == "t1"  # type: ignore[union-attr]
    assert result.code == "match.clear_best"


def test_two_identical_charges_go_to_review() -> None:
    txs = [card("t1", 4250, DAY, "BLUE BOTTLE COFFEE"), card("t2", 4250, DAY, "BLUE BOTTLE COFFEE")]
    result = match_expense(expense(), txs, SETTINGS)
    assert isinstance(result, TransactionMatch)
    assert result.outcome is TxOutcome.REVIEW
    assert result.transaction is None
    assert [c.transaction.id for c in result.candidates] == ["t1", "t2"]


def test_card_holder_breaks_a_tie_when_staff_are_mapped() -> None:
    txs = [
        card("t1", 4250, DAY, "BLUE BOTTLE COFFEE", card_holder_user_id="u-other"),
        card("t2", 4250, DAY, "BLUE BOTTLE COFFEE", card_holder_user_id="u-maya"),
    ]
    result = match_expense(expense(staff_id="1"), txs, MatchSettings(staff_users={"1": "u-maya"}))
    assert isinstance(result, TransactionMatch)
    assert result.outcome is TxOutcome.MATCHED
    assert result.transaction.id == "t2"  # type: ignore[union-attr]


def test_claimed_and_declined_transactions_are_not_candidates() -> None:
    txs = [
        card("t1", 4250, DAY, "BLUE BOTTLE"),
        card("t2", 4250, DAY, "BLUE BOTTLE", state="DECLINED"),
    ]
    result = match_expense(expense(), txs, SETTINGS, claimed=frozenset({"t1"}))
    assert isinstance(result, TransactionMatch)
    assert result.outcome is TxOutcome.NONE


def test_unusable_expense_amount_is_a_problem() -> None:
    result = match_expense(expense("42.505"), [card("t1", 4250, DAY, "x")], SETTINGS)
    assert isinstance(result, Problem)
    assert result.code == "money.excess_precision"


def test_no_match_policy() -> None:
    e = expense()
    wait = decide_unmatched(e, date(2026, 9, 12), NoMatchPolicy.WAIT, wait_days=5)
    assert (wait.policy, wait.until) == (NoMatchPolicy.WAIT, date(2026, 9, 15))
    after = decide_unmatched(
        e, date(2026, 9, 16), NoMatchPolicy.WAIT, wait_days=5, after_wait=NoMatchPolicy.MANUAL_BILL
    )
    assert after.policy is NoMatchPolicy.MANUAL_BILL
    assert after.until is None
    assert decide_unmatched(e, DAY, NoMatchPolicy.REVIEW).policy is NoMatchPolicy.REVIEW
    assert decide_unmatched(e, DAY, NoMatchPolicy.MANUAL_BILL).policy is NoMatchPolicy.MANUAL_BILL


@settings(max_examples=150)
@given(
    amount=st.decimals(allow_nan=True, allow_infinity=True, places=None) | st.decimals("0", "500", places=2),
    txs=st.lists(
        st.builds(
            card, tx_id=st.text(max_size=3), amount_minor=st.integers(0, 50_000),
            day=st.dates(date(2026, 9, 1), date(2026, 9, 20)), merchant=st.text(max_size=12),
        ),
        max_size=6,
    ),
)  # fmt: skip
def test_matching_never_raises(amount: Decimal, txs: list[CardTransaction]) -> None:
    e = Expense(id="e", amount=Money(amount, "USD"), date=DAY, category_id=None, vendor_name="Cafe")
    result = match_expense(e, txs, SETTINGS)
    if isinstance(result, TransactionMatch) and result.outcome is TxOutcome.MATCHED:
        assert result.transaction is not None
        assert result.transaction.amount_minor == int(amount * 100)
