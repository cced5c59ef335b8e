"""ISO 4217 minor-unit exponents, the one table every money conversion relies on.

Pure data. The table is ISO 4217 List One (active codes, 2025 edition: includes XCG,
ZWG, SLE, VED; withdrawn codes such as HRK, SLL, CUC and ANG are absent). Codes whose
minor unit ISO lists as "N.A." (precious metals, XDR, the test code XTS and the no-currency code) are left out
because neither FreshBooks nor Ramp can price a bill in them.

Why a table and not a library: the connector must refuse an amount it cannot represent
exactly, so the exponent has to be known for certain and reviewed in one place.
"""

from __future__ import annotations

from types import MappingProxyType

__all__ = ["ISO_4217_EXPONENTS", "currency_exponent", "is_known_currency"]

_ZERO = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_THREE = "BHD IQD JOD KWD LYD OMR TND"
_FOUR = "CLF UYW"
_TWO = (
    "AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN "
    "BWP BYN BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN "
    "ETB EUR FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD "
    "KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR "
    "MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON "
    "RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT "
    "TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED VES WST XCD XCG YER ZAR ZMW ZWG"
)


def _table() -> dict[str, int]:
    table: dict[str, int] = {}
    for exponent, codes in ((0, _ZERO), (2, _TWO), (3, _THREE), (4, _FOUR)):
        for code in codes.split():
            table[code] = exponent
    return dict(sorted(table.items()))


ISO_4217_EXPONENTS = MappingProxyType(_table())
"""Currency code -> number of decimal places of its minor unit (read-only)."""


def is_known_currency(code: object) -> bool:
    """True for an upper-case active ISO 4217 code with a defined minor unit."""
    return isinstance(code, str) and code in ISO_4217_EXPONENTS


def currency_exponent(code: str) -> int | None:
    """The minor-unit exponent of `code`, or None when the code is not in the table."""
    return ISO_4217_EXPONENTS.get(code)
