"""Ramp money on the wire: integer minor units in responses, major-unit decimals in requests."""

from __future__ import annotations

from decimal import Decimal

from ml_connector.core.currencies import currency_exponent

_DEFAULT_EXPONENT = 2


def minor_unit_exponent(currency: str) -> int:
    """Digits after the decimal point for `currency` (ISO 4217; 2 for a code not in the table)."""
    exponent = currency_exponent(currency.upper())
    return _DEFAULT_EXPONENT if exponent is None else exponent


def from_minor_units(amount: int, currency: str) -> Decimal:
    """An exact major-unit Decimal: 4000 USD cents → Decimal("40.00")."""
    return Decimal(amount).scaleb(-minor_unit_exponent(currency))


def fits_currency(amount: Decimal, currency: str) -> bool:
    """True when `amount` has no more decimal places than `currency` allows."""
    if not amount.is_finite():
        return False
    exponent = amount.normalize().as_tuple().exponent
    assert isinstance(exponent, int)  # finite decimals have an integer exponent
    return -exponent <= minor_unit_exponent(currency)


__all__ = ["fits_currency", "from_minor_units", "minor_unit_exponent"]
