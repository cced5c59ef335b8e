"""Ramp money on the wire: decimals in request bodies, integer minor units in responses.

Ramp's `CurrencyAmount` is `{"amount": <int minor units>, "currency_code": "USD"}` with the
ISO 4217 exponent of the currency (JPY has none, KWD three). Bill line amounts arrive as
decimals in major units (a string or a JSON number); the emulator converts them exactly and
refuses an amount with more decimal places than the currency has rather than rounding it,
because a silently rounded bill is worse than a rejected one.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

# Active ISO 4217 codes with a minor-unit exponent other than 2.
_EXPONENT_OVERRIDES: dict[str, int] = {
    **dict.fromkeys(
        (
            [
                "BIF",
                "CLP",
                "DJF",
                "GNF",
                "ISK",
                "JPY",
                "KMF",
                "KRW",
                "PYG",
                "RWF",
                "UGX",
                "UYI",
                "VND",
                "VUV",
                "XAF",
                "XOF",
                "XPF",
            ]
        ),
        0,
    ),
    **dict.fromkeys(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"], 3),
    "CLF": 4,
    "UYW": 4,
}

# Active ISO 4217 codes (the `invoice_currency` enum of Ramp's bill schema is this list).
ISO_4217_CODES: frozenset[str] = frozenset(
    [
        "AED",
        "AFN",
        "ALL",
        "AMD",
        "ANG",
        "AOA",
        "ARS",
        "AUD",
        "AWG",
        "AZN",
        "BAM",
        "BBD",
        "BDT",
        "BGN",
        "BHD",
        "BIF",
        "BMD",
        "BND",
        "BOB",
        "BOV",
        "BRL",
        "BSD",
        "BTN",
        "BWP",
        "BYN",
        "BZD",
        "CAD",
        "CDF",
        "CHE",
        "CHF",
        "CHW",
        "CLF",
        "CLP",
        "CNY",
        "COP",
        "COU",
        "CRC",
        "CUC",
        "CUP",
        "CVE",
        "CZK",
        "DJF",
        "DKK",
        "DOP",
        "DZD",
        "EGP",
        "ERN",
        "ETB",
        "EUR",
        "FJD",
        "FKP",
        "GBP",
        "GEL",
        "GHS",
        "GIP",
        "GMD",
        "GNF",
        "GTQ",
        "GYD",
        "HKD",
        "HNL",
        "HTG",
        "HUF",
        "IDR",
        "ILS",
        "INR",
        "IQD",
        "IRR",
        "ISK",
        "JMD",
        "JOD",
        "JPY",
        "KES",
        "KGS",
        "KHR",
        "KMF",
        "KPW",
        "KRW",
        "KWD",
        "KYD",
        "KZT",
        "LAK",
        "LBP",
        "LKR",
        "LRD",
        "LSL",
        "LYD",
        "MAD",
        "MDL",
        "MGA",
        "MKD",
        "MMK",
        "MNT",
        "MOP",
        "MRU",
        "MUR",
        "MVR",
        "MWK",
        "MXN",
        "MXV",
        "MYR",
        "MZN",
        "NAD",
        "NGN",
        "NIO",
        "NOK",
        "NPR",
        "NZD",
        "OMR",
        "PAB",
        "PEN",
        "PGK",
        "PHP",
        "PKR",
        "PLN",
        "PYG",
        "QAR",
        "RON",
        "RSD",
        "RUB",
        "RWF",
        "SAR",
        "SBD",
        "SCR",
        "SDG",
        "SEK",
        "SGD",
        "SHP",
        "SLE",
        "SLL",
        "SOS",
        "SRD",
        "SSP",
        "STN",
        "SVC",
        "SYP",
        "SZL",
        "THB",
        "TJS",
        "TMT",
        "TND",
        "TOP",
        "TRY",
        "TTD",
        "TWD",
        "TZS",
        "UAH",
        "UGX",
        "USD",
        "USN",
        "UYI",
        "UYU",
        "UYW",
        "UZS",
        "VED",
        "VES",
        "VND",
        "VUV",
        "WST",
        "XAF",
        "XCD",
        "XOF",
        "XPF",
        "YER",
        "ZAR",
        "ZMW",
        "ZWL",
    ]
)


def exponent(currency: str) -> int:
    """Minor-unit exponent of an ISO 4217 currency (2 unless listed otherwise)."""
    if currency not in ISO_4217_CODES:
        raise ValueError(f"Unknown currency: {currency}")
    return _EXPONENT_OVERRIDES.get(currency, 2)


def parse_decimal(value: object) -> Decimal:
    """A decimal amount from a JSON string or number (never a float: bodies parse to Decimal)."""
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise ValueError("Not a valid number.")
    try:
        amount = Decimal(value.strip()) if isinstance(value, str) else Decimal(value)
    except InvalidOperation as exc:
        raise ValueError("Not a valid number.") from exc
    if not amount.is_finite():
        raise ValueError("Not a valid number.")
    return amount


def to_minor_units(amount: Decimal, currency: str) -> int:
    """Exact conversion to integer minor units; refuses amounts that would need rounding."""
    scaled = amount.scaleb(exponent(currency))
    if scaled != scaled.to_integral_value():
        raise ValueError(f"Amount has more decimal places than {currency} allows.")
    return int(scaled)


def from_minor_units(minor: int, currency: str) -> Decimal:
    return Decimal(minor).scaleb(-exponent(currency))


def currency_amount(minor: int, currency: str) -> dict[str, object]:
    """Ramp's `CurrencyAmount` response object."""
    return {"amount": minor, "currency_code": currency}
