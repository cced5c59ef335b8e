"""Payment terms: days ↔ names, vendor terms, and the disagreement policy."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ml_connector.core.problems import Problem
from ml_connector.core.terms import (
    MAX_TERMS_DAYS,
    DueDateDecision,
    PaymentTerms,
    TermsPolicy,
    TermsSource,
    decide_due_date,
    infer_vendor_terms,
    parse_terms,
    terms_from_days,
    vendor_terms,
)


@pytest.mark.parametrize(
    ("days", "name", "standard"),
    [(0, "Due on receipt", True), (15, "Net 15", True), (30, "Net 30", True), (45, "Net 45", True),
     (60, "Net 60", True), (90, "Net 90", True), (21, "Net 21", False), (39, "Net 39", False)],
)  # fmt: skip
def test_days_to_named_terms(days: int, name: str, standard: bool) -> None:
    terms = terms_from_days(days)
    assert isinstance(terms, PaymentTerms)
    assert terms.name == name
    assert terms.is_standard is standard


@pytest.mark.parametrize(
    ("days", "code"),
    [(-1, "terms.negative"), (MAX_TERMS_DAYS + 1, "terms.implausible"), ("30", "terms.malformed"),
     (True, "terms.malformed"), (None, "terms.malformed"), (30.0, "terms.malformed")],
)  # fmt: skip
def test_bad_offsets_are_problems(days: object, code: str) -> None:
    result = terms_from_days(days)
    assert isinstance(result, Problem)
    assert result.code == code


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Net 30", PaymentTerms(30)),
        ("NET30", PaymentTerms(30)),
        ("net-45", PaymentTerms(45)),
        ("N60", PaymentTerms(60)),
        ("30 days", PaymentTerms(30)),
        ("Due on receipt", PaymentTerms(0)),
        ("due upon receipt", PaymentTerms(0)),
        ("COD", PaymentTerms(0)),
        ("Net 0", PaymentTerms(0)),
        ("2/10 Net 30", PaymentTerms(30, Decimal(2), 10)),
        ("1.5% / 10, net 45", PaymentTerms(45, Decimal("1.5"), 10)),
    ],
)
def test_parse_named_terms(text: str, expected: PaymentTerms) -> None:
    assert parse_terms(text) == expected


@pytest.mark.parametrize("text", ["Quarterly", "", "Net", "Net 400", "20/40 Net 30", None])
def test_unparseable_terms_are_problems(text: object) -> None:
    assert isinstance(parse_terms(text), Problem)


@settings(max_examples=200)
@given(
    days=st.integers(0, MAX_TERMS_DAYS),
    discount=st.none() | st.tuples(st.decimals("0.5", "9.5", places=1), st.integers(0, 30)),
)
def test_names_parse_back_to_the_same_terms(
    days: int, discount: tuple[Decimal, int] | None
) -> None:
    if discount is not None and discount[1] > days:
        discount = None
    terms = PaymentTerms(days, *discount) if discount else PaymentTerms(days)
    assert parse_terms(terms.name) == terms


@settings(max_examples=200)
@given(st.text(max_size=30) | st.integers() | st.none())
def test_terms_functions_never_raise(value: object) -> None:
    parse_terms(value)
    terms_from_days(value)
    decide_due_date(date(2026, 1, 1), value, None, TermsPolicy.FLAG)


def test_inference_needs_a_clear_majority() -> None:
    inferred = infer_vendor_terms([30, 30, 30, 15])
    assert inferred is not None
    assert inferred.terms == PaymentTerms(30)
    assert inferred.source is TermsSource.INFERRED
    assert "3 of the vendor's last 4 bills" in inferred.reason
    assert infer_vendor_terms([30, 30]) is None  # too few bills
    assert infer_vendor_terms([30, 30, 15, 15]) is None  # a tie is never clear
    assert infer_vendor_terms([30, 15, 45, 60, 30]) is None  # 40 % < 60 %
    assert infer_vendor_terms([30, 15, 45], min_share=Fraction(1, 3)) is None  # tie again


def test_configured_terms_win_over_inferred() -> None:
    decision = vendor_terms(PaymentTerms(45), [30, 30, 30])
    assert decision is not None
    assert (decision.terms.days, decision.source) == (45, TermsSource.CONFIGURED)
    assert vendor_terms(None, []) is None


ISSUED = date(2026, 9, 1)
NET30 = vendor_terms(PaymentTerms(30))


def test_agreeing_terms_use_the_bill() -> None:
    d = decide_due_date(ISSUED, 30, NET30, TermsPolicy.FLAG)
    assert isinstance(d, DueDateDecision)
    assert (d.due_at, d.source, d.disagreement, d.needs_review) == (
        date(2026, 10, 1), TermsSource.BILL, False, False,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("policy", "due", "source", "review"),
    [
        (TermsPolicy.KEEP, date(2026, 9, 16), TermsSource.BILL, False),
        (TermsPolicy.ENFORCE, date(2026, 10, 1), TermsSource.CONFIGURED, False),
        (TermsPolicy.FLAG, date(2026, 9, 16), TermsSource.BILL, True),
    ],
)
def test_disagreement_policy(
    policy: TermsPolicy, due: date, source: TermsSource, review: bool
) -> None:
    d = decide_due_date(ISSUED, 15, NET30, policy)
    assert isinstance(d, DueDateDecision)
    assert (d.due_at, d.source, d.disagreement, d.needs_review) == (due, source, True, review)
    assert "Net 15" in d.reason
    assert "Net 30" in d.reason


def test_no_vendor_terms_uses_the_bill_and_bad_offsets_are_problems() -> None:
    d = decide_due_date(ISSUED, 0, None, TermsPolicy.ENFORCE)
    assert isinstance(d, DueDateDecision)
    assert d.due_at == ISSUED
    assert d.terms.name == "Due on receipt"
    bad = decide_due_date(ISSUED, -3, None, TermsPolicy.KEEP)
    assert isinstance(bad, Problem)
    assert bad.field == "due_offset_days"
    assert isinstance(decide_due_date(date(9999, 12, 31), 30, None, TermsPolicy.KEEP), Problem)
