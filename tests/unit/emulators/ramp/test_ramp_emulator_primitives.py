"""Money, signing, rate limiting and body validation on their own."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ml_connector_emulators.clock import EmulatorClock
from ml_connector_emulators.ramp.conventions import ApiError
from ml_connector_emulators.ramp.money import (
    from_minor_units,
    parse_decimal,
    to_minor_units,
)
from ml_connector_emulators.ramp.ratelimit import RollingWindowLimiter
from ml_connector_emulators.ramp.signing import sign
from ml_connector_emulators.ramp.validation import (
    Field,
    decimal_amount,
    list_of,
    obj,
    string,
    validate_body,
)


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        ("12.34", "USD", 1234),
        ("949.95", "USD", 94995),
        ("1500", "JPY", 1500),
        ("1.234", "KWD", 1234),
        ("0", "EUR", 0),
    ],
)
def test_minor_units_use_the_currency_exponent(amount: str, currency: str, minor: int) -> None:
    assert to_minor_units(Decimal(amount), currency) == minor


@pytest.mark.parametrize(("amount", "currency"), [("12.345", "USD"), ("1.5", "JPY")])
def test_amounts_needing_rounding_are_refused(amount: str, currency: str) -> None:
    with pytest.raises(ValueError, match="decimal places"):
        to_minor_units(Decimal(amount), currency)


def test_unknown_currency_is_refused() -> None:
    with pytest.raises(ValueError, match="Unknown currency"):
        to_minor_units(Decimal(1), "XXX")


@given(st.integers(min_value=0, max_value=10**12), st.sampled_from(["USD", "JPY", "KWD", "EUR"]))
def test_minor_units_round_trip(minor: int, currency: str) -> None:
    assert to_minor_units(from_minor_units(minor, currency), currency) == minor


@pytest.mark.parametrize("value", [True, 1.5, None, "abc", "NaN", [1]])
def test_parse_decimal_refuses_non_decimals(value: object) -> None:
    with pytest.raises(ValueError, match="Not a valid number"):
        parse_decimal(value)


def test_signature_vector_from_reference() -> None:
    body = (
        b'{"id":"a461a658-8d78-4e66-b1fd-9c818bcfea6b","type":"bills.created",'
        b'"created_at":"2025-04-01T12:00:00Z","business_id":"945c7d8f-6c35-4d63-9c1c-79e67c9cee73",'
        b'"object":{"id":"6e3816e3-0e53-42ae-b075-bdb0adff10c4"}}'
    )
    assert sign("ramp_sec_test_secret", body) == (
        "fcf2be19ce1e40dedd3845d1203cc376654f8cf9286c778fd29b3352e1e41c0f"
    )
    assert sign("ramp_sec_test_secret", body + b" ") != sign("ramp_sec_test_secret", body)


def test_limiter_refuses_the_201st_request_and_recovers() -> None:
    clock = EmulatorClock(frozen=datetime(2026, 1, 1, tzinfo=UTC))
    limiter = RollingWindowLimiter(clock, limit=200, window_seconds=10)
    for _ in range(200):
        assert limiter.admit("b") is None
        clock.advance(0.02)  # 200 requests in 4 s
    wait = limiter.admit("b")
    assert wait == 6  # the first request leaves the window 10 s after it arrived
    assert limiter.admit("other") is None  # budgets are per business
    clock.advance(6)
    assert limiter.admit("b") is None
    assert limiter.max_seen["b"] == 201
    assert limiter.refused["b"] == 1


def test_validation_reports_nested_problems_by_path() -> None:
    schema = {
        "name": Field(string(5), True),
        "lines": Field(list_of(obj({"amount": Field(decimal_amount(), True)}))),
    }
    with pytest.raises(ApiError) as caught:
        validate_body({"name": "toolong", "lines": [{"amount": "1"}, {}], "x": 1}, schema)
    assert caught.value.status == 422
    assert caught.value.additional_info == {
        "x": ["Unknown field."],
        "name": ["Longer than maximum length 5."],
        "lines": {"1": {"amount": ["Missing data for required field."]}},
    }
    ok = validate_body({"name": "ok", "lines": [{"amount": "1.10"}]}, schema)
    assert ok["lines"][0]["amount"] == Decimal("1.10")
