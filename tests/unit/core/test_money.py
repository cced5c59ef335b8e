"""Money: exact conversions between FreshBooks strings, Ramp decimals and minor units."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ml_connector.core.currencies import ISO_4217_EXPONENTS, currency_exponent, is_known_currency
from ml_connector.core.money import (
    Money,
    from_minor_units,
    parse_freshbooks_money,
    parse_money,
    parse_ramp_amount,
    percent_of,
    sum_money,
    to_freshbooks_decimal,
    to_minor_units,
    to_ramp_decimal,
    validate_money,
)
from ml_connector.core.problems import Problem


@pytest.mark.parametrize(
    ("code", "exponent"),
    [("USD", 2), ("EUR", 2), ("JPY", 0), ("KRW", 0), ("KWD", 3), ("BHD", 3), ("CLF", 4),
     ("ISK", 0), ("CAD", 2), ("XCG", 2)],
)  # fmt: skip
def test_exponent_table_has_the_well_known_exceptions(code: str, exponent: int) -> None:
    assert currency_exponent(code) == exponent


def test_exponent_table_excludes_withdrawn_and_non_currency_codes() -> None:
    for code in ("HRK", "SLL", "XAU", "XDR", "XXX", "usd", ""):
        assert not is_known_currency(code)
    assert len(ISO_4217_EXPONENTS) > 150


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("375.00", "USD", Money(Decimal("375.00"), "USD")),
        ("125", "USD", Money(Decimal("125.00"), "USD")),  # FreshBooks requests omit decimals
        ("1.5", "EUR", Money(Decimal("1.50"), "EUR")),
        ("1500", "JPY", Money(Decimal("1500"), "JPY")),
        ("12.345", "KWD", Money(Decimal("12.345"), "KWD")),
        ("-5.10", "USD", Money(Decimal("-5.10"), "USD")),
        ("125.000", "USD", Money(Decimal("125.00"), "USD")),  # trailing zeros are exact
        (42, "USD", Money(Decimal("42.00"), "USD")),
        ("-0.00", "USD", Money(Decimal("0.00"), "USD")),
    ],
)
def test_parse_money_accepts_exact_amounts(amount: object, currency: str, expected: Money) -> None:
    assert parse_money(amount, currency) == expected


@pytest.mark.parametrize(
    ("amount", "currency", "code"),
    [
        ("1234.565", "USD", "money.excess_precision"),  # rejected, never rounded
        ("0.5", "JPY", "money.excess_precision"),
        ("1,234.56", "USD", "money.malformed"),
        ("$12.00", "USD", "money.malformed"),
        ("1e3", "USD", "money.malformed"),
        ("", "USD", "money.malformed"),
        (12.5, "USD", "money.float"),
        (True, "USD", "money.malformed"),
        (None, "USD", "money.malformed"),
        ("12.00", "XYZ", "money.unknown_currency"),
        ("12.00", "usd", "money.unknown_currency"),
        ("12.00", None, "money.unknown_currency"),
        ("1" + "0" * 16, "USD", "money.out_of_range"),
        (Decimal("NaN"), "USD", "money.not_finite"),
        (Decimal("Infinity"), "USD", "money.not_finite"),
    ],
)
def test_parse_money_refuses_with_a_reason(amount: object, currency: object, code: str) -> None:
    result = parse_money(amount, currency, "lines[1].unit_cost")
    assert isinstance(result, Problem)
    assert result.code == code
    assert result.field == "lines[1].unit_cost"
    assert result.reason


def test_excess_precision_reason_names_the_amount_and_refuses_to_round() -> None:
    result = parse_money("1234.565", "USD")
    assert isinstance(result, Problem)
    assert "1234.565 USD" in result.reason
    assert "refusing to round" in result.reason


def test_wire_forms() -> None:
    fb = parse_freshbooks_money({"amount": "19.98", "code": "USD"})
    assert fb == Money(Decimal("19.98"), "USD")
    assert to_ramp_decimal(fb) == "19.98"
    assert to_minor_units(fb) == 1998
    assert parse_ramp_amount({"amount": 1998, "currency_code": "USD"}) == fb
    assert to_ramp_decimal(Money(Decimal("1500"), "JPY")) == "1500"
    assert to_freshbooks_decimal(Money(Decimal("375"), "USD")) == "375.00"
    negative = to_ramp_decimal(Money(Decimal("-1.00"), "USD"))
    assert isinstance(negative, Problem)
    assert negative.code == "money.negative"
    assert isinstance(parse_ramp_amount({"amount": 12.5, "currency_code": "USD"}), Problem)
    assert isinstance(parse_freshbooks_money("19.98"), Problem)


def test_sum_and_percent() -> None:
    total = sum_money([Money(Decimal("0.10"), "USD")] * 3, "USD")
    assert total == Money(Decimal("0.30"), "USD")
    mixed = sum_money([Money(Decimal("1"), "USD"), Money(Decimal("1"), "EUR")], "USD")
    assert isinstance(mixed, Problem)
    assert mixed.code == "money.currency_mismatch"
    tax = percent_of(Money(Decimal("125.00"), "USD"), Decimal(13))
    assert not isinstance(tax, Problem)
    assert tax.value == Money(Decimal("16.25"), "USD")
    assert not tax.rounded
    rounded = percent_of(Money(Decimal("10.05"), "USD"), Decimal("7.5"))
    assert not isinstance(rounded, Problem)
    assert rounded.value.amount == Decimal("0.75")
    assert rounded.rounded
    assert rounded.exact == Decimal("0.75375")


currencies = st.sampled_from(sorted(ISO_4217_EXPONENTS))


@settings(max_examples=400)
@given(code=currencies, minor=st.integers(min_value=-(10**14), max_value=10**14))
def test_minor_units_round_trip_exactly_for_every_currency(code: str, minor: int) -> None:
    money = from_minor_units(minor, code)
    assert isinstance(money, Money)
    assert to_minor_units(money) == minor
    as_text = to_freshbooks_decimal(money)
    assert isinstance(as_text, str)
    assert parse_money(as_text, code) == money
    assert parse_freshbooks_money({"amount": as_text, "code": code}) == money
    if minor >= 0:
        ramp = to_ramp_decimal(money)
        assert isinstance(ramp, str)
        assert parse_money(ramp, code) == money


def test_every_currency_round_trips_its_smallest_unit() -> None:
    for code, exponent in ISO_4217_EXPONENTS.items():
        smallest = from_minor_units(1, code)
        assert isinstance(smallest, Money)
        assert smallest.amount == Decimal(1).scaleb(-exponent)
        assert to_minor_units(smallest) == 1


anything = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=30),
    st.decimals(allow_nan=True, allow_infinity=True), st.binary(max_size=5),
    st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=3),
)  # fmt: skip


@settings(max_examples=300)
@given(amount=anything, currency=st.one_of(currencies, st.text(max_size=4), st.none()))
def test_parsing_never_raises(amount: object, currency: object) -> None:
    result = parse_money(amount, currency)
    assert isinstance(result, Money | Problem)
    assert isinstance(parse_freshbooks_money({"amount": amount, "code": currency}), Money | Problem)
    assert isinstance(
        parse_ramp_amount({"amount": amount, "currency_code": currency}), Money | Problem
    )
    assert isinstance(from_minor_units(amount, currency), Money | Problem)


@settings(max_examples=200)
@given(
    amount=st.decimals(allow_nan=True, allow_infinity=True),
    currency=st.text(max_size=4) | currencies,
)
def test_conversions_never_raise(amount: Decimal, currency: str) -> None:
    money = Money(amount, currency)
    for convert in (validate_money, to_minor_units, to_ramp_decimal, to_freshbooks_decimal):
        convert(money)
    percent_of(money, Decimal("13"))
