"""Money: exact amounts in a currency, and the three wire forms the connector meets.

Pure; no I/O. The forms:

* FreshBooks: ``{"amount": "375.00", "code": "USD"}`` — a decimal **string** in major
  units (requests also accept ``"125"``).
* Ramp requests (bill line ``amount``): a decimal in major units; we send a string with
  exactly the currency's number of decimal places (``"19.98"``, JPY ``"1500"``).
* Ramp responses: ``{"amount": 1998, "currency_code": "USD"}`` — integer **minor units**.

Rules: never a float; never round silently. An amount with more decimal places than its
currency allows (``1234.565 USD``) is a `Problem`, not a rounded number. The only
rounding in the connector is `percent_of`, which says that it rounded so the caller can
show it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext

from ml_connector.core.currencies import currency_exponent
from ml_connector.core.problems import Problem

__all__ = [
    "MAX_ABS_AMOUNT",
    "Money",
    "PercentResult",
    "from_minor_units",
    "parse_freshbooks_money",
    "parse_money",
    "parse_ramp_amount",
    "percent_of",
    "sum_money",
    "to_freshbooks_decimal",
    "to_minor_units",
    "to_ramp_decimal",
    "validate_money",
]

MAX_ABS_AMOUNT = Decimal(10) ** 15
"""Amounts at or beyond a quadrillion are refused as implausible (and keep Decimal exact)."""

_DECIMAL_TEXT = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)")


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in major units and an ISO 4217 code.

    Construction does not validate (so a model object can carry whatever the source
    sent); `validate_money` and every converter check currency and precision.
    """

    amount: Decimal
    currency: str

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"


@dataclass(frozen=True, slots=True)
class PercentResult:
    """A percentage of an amount, and whether getting it needed rounding."""

    value: Money
    rounded: bool
    exact: Decimal


def _quantum(exponent: int) -> Decimal:
    return Decimal(1).scaleb(-exponent)


def _check(amount: Decimal, currency: object, field: str | None) -> Money | Problem:
    if not isinstance(currency, str) or currency_exponent(currency) is None:
        return Problem(
            "money.unknown_currency",
            f"{currency!r} is not an ISO 4217 currency code with a defined minor unit",
            field,
        )
    exponent = currency_exponent(currency)
    assert exponent is not None
    if not amount.is_finite():
        return Problem("money.not_finite", f"{amount} is not a finite amount", field)
    if abs(amount) >= MAX_ABS_AMOUNT:
        return Problem(
            "money.out_of_range", f"{amount} {currency} is larger than any plausible bill", field
        )
    with localcontext() as ctx:
        ctx.prec = 60
        try:
            exact = amount.quantize(_quantum(exponent))
        except InvalidOperation:
            return Problem(
                "money.out_of_range", f"{amount} {currency} cannot be represented", field
            )
        if exact != amount:
            return Problem(
                "money.excess_precision",
                f"{amount} {currency} has more decimal places than {currency} allows "
                f"({exponent}); refusing to round it — correct the amount in FreshBooks",
                field,
            )
    # -0.00 and 0.00 must hash and compare as the same money
    return Money(abs(exact) if exact.is_zero() else exact, currency)


def validate_money(money: object, field: str | None = None) -> Money | Problem:
    """`money` normalized to its currency's exact decimal places, or why it cannot be."""
    if not isinstance(money, Money) or not isinstance(money.amount, Decimal):
        return Problem("money.malformed", f"{money!r} is not a Money with a Decimal amount", field)
    return _check(money.amount, money.currency, field)


def parse_money(amount: object, currency: object, field: str | None = None) -> Money | Problem:
    """Parse a decimal string, int or Decimal in major units. Floats are refused.

    Accepts ``"125"``, ``"375.00"``, ``"-5.10"``, ``125``, ``Decimal("1.5")``.
    Refuses floats and bools (precision already lost), thousands separators, exponents,
    blanks and anything else with a specific `Problem`.
    """
    if isinstance(amount, bool) or amount is None:
        return Problem("money.malformed", f"{amount!r} is not an amount", field)
    if isinstance(amount, float):
        return Problem(
            "money.float",
            f"{amount!r} arrived as a binary float; amounts must be decimal strings",
            field,
        )
    if isinstance(amount, int):
        value = Decimal(amount)
    elif isinstance(amount, Decimal):
        value = amount
    elif isinstance(amount, str):
        text = amount.strip()
        if not _DECIMAL_TEXT.fullmatch(text):
            return Problem("money.malformed", f"{amount!r} is not a plain decimal amount", field)
        value = Decimal(text)
    else:
        return Problem("money.malformed", f"{amount!r} is not an amount", field)
    return _check(value, currency, field)


def parse_freshbooks_money(value: object, field: str | None = None) -> Money | Problem:
    """Parse FreshBooks' ``{"amount": "375.00", "code": "USD"}``."""
    if not isinstance(value, Mapping):
        return Problem("money.malformed", f"{value!r} is not a FreshBooks money object", field)
    return parse_money(value.get("amount"), value.get("code"), field)


def parse_ramp_amount(value: object, field: str | None = None) -> Money | Problem:
    """Parse Ramp's ``{"amount": 1998, "currency_code": "USD"}`` (integer minor units)."""
    if not isinstance(value, Mapping):
        return Problem("money.malformed", f"{value!r} is not a Ramp CurrencyAmount", field)
    return from_minor_units(value.get("amount"), value.get("currency_code"), field)


def from_minor_units(minor: object, currency: object, field: str | None = None) -> Money | Problem:
    """Integer minor units (Ramp responses) to Money."""
    if isinstance(minor, bool) or not isinstance(minor, int):
        return Problem("money.malformed", f"{minor!r} is not an integer of minor units", field)
    if not isinstance(currency, str) or currency_exponent(currency) is None:
        return _check(Decimal(0), currency, field)
    exponent = currency_exponent(currency)
    assert exponent is not None
    return _check(Decimal(minor).scaleb(-exponent), currency, field)


def to_minor_units(money: Money, field: str | None = None) -> int | Problem:
    """Money to integer minor units; exact or a Problem."""
    checked = validate_money(money, field)
    if isinstance(checked, Problem):
        return checked
    exponent = currency_exponent(checked.currency)
    assert exponent is not None
    return int(checked.amount.scaleb(exponent))


def to_ramp_decimal(money: Money, field: str | None = None) -> str | Problem:
    """The decimal string Ramp bill lines take: major units, exact places, never negative."""
    checked = validate_money(money, field)
    if isinstance(checked, Problem):
        return checked
    if checked.amount < 0:
        return Problem(
            "money.negative",
            f"{checked} is negative; Ramp bill lines must be zero or more",
            field,
        )
    return format(checked.amount, "f")


def to_freshbooks_decimal(money: Money, field: str | None = None) -> str | Problem:
    """The decimal string FreshBooks uses (``"375.00"``)."""
    checked = validate_money(money, field)
    if isinstance(checked, Problem):
        return checked
    return format(checked.amount, "f")


def sum_money(items: Iterable[Money], currency: str, field: str | None = None) -> Money | Problem:
    """Exact sum of amounts that must all be in `currency`."""
    total = Decimal(0)
    for index, item in enumerate(items):
        checked = validate_money(item, field)
        if isinstance(checked, Problem):
            return checked
        if checked.currency != currency:
            return Problem(
                "money.currency_mismatch",
                f"item {index + 1} is in {checked.currency}, expected {currency}",
                field,
            )
        total += checked.amount
    return _check(total, currency, field)


def percent_of(money: Money, percent: Decimal, field: str | None = None) -> PercentResult | Problem:
    """`percent`% of `money`, rounded half-up to the currency's places — and says if it rounded.

    Used only where FreshBooks gave a tax percentage without the tax amount; the plan
    shows the exact figure and the rounded one.
    """
    checked = validate_money(money, field)
    if isinstance(checked, Problem):
        return checked
    if not isinstance(percent, Decimal) or not percent.is_finite() or not 0 <= percent <= 100:
        return Problem("money.bad_percent", f"{percent!r} is not a percentage from 0 to 100", field)
    exponent = currency_exponent(checked.currency)
    assert exponent is not None
    with localcontext() as ctx:
        ctx.prec = 60
        exact = checked.amount * percent / Decimal(100)
        rounded = exact.quantize(_quantum(exponent), rounding=ROUND_HALF_UP)
    return PercentResult(Money(rounded, checked.currency), rounded != exact, exact)
