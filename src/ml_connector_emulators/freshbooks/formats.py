"""How FreshBooks writes values on the wire, and how it reads what clients send.

Money is a decimal string with two places inside `{"amount", "code"}`; ids arrive as
ints or numeric strings and leave as ints; accounting timestamps are naive
`YYYY-MM-DD HH:MM:SS`, in UTC for bills and bill vendors but in US/Eastern for the
older resources (expenses, categories, taxes) — the quirk the official SDK corrects for.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

EASTERN = ZoneInfo("US/Eastern")
CENTS = Decimal("0.01")


class BadValueError(ValueError):
    """A client-supplied value that cannot be read as the type the field needs."""


def to_cents(value: Decimal) -> Decimal:
    """Round half-up to cents, the way an invoice total is rounded on paper."""
    return value.quantize(CENTS, rounding=ROUND_HALF_UP)


def money(amount: Decimal, code: str) -> dict[str, str]:
    return {"amount": f"{to_cents(amount):.2f}", "code": code}


def decimal_text(value: Decimal) -> str:
    """A percentage or quantity as FreshBooks echoes it: `"13"`, `"8.875"`, `"1.5"`."""
    return format(value.normalize(), "f")


def parse_decimal(value: Any) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise BadValueError("expected a decimal number")
    if isinstance(value, float):
        # JSON bodies are parsed with Decimal floats; a float here means a caller bug.
        raise BadValueError("floats are not accepted for money")
    try:
        result = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise BadValueError("expected a decimal number") from exc
    if not result.is_finite():
        raise BadValueError("expected a finite decimal number")
    return result


def parse_id(value: Any) -> int:
    """FreshBooks' own examples send ids as strings (`"65773"`); both forms are accepted."""
    if isinstance(value, bool):
        raise BadValueError("expected an id")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    raise BadValueError("expected an id")


def parse_optional_id(value: Any) -> int | None:
    if value is None or value in {"", 0}:
        return None
    return parse_id(value)


def parse_int(value: Any) -> int:
    try:
        return parse_id(value)
    except BadValueError:
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value.strip())
        raise


def parse_date(value: Any) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise BadValueError("expected a date YYYY-MM-DD")
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError as exc:
        raise BadValueError("expected a date YYYY-MM-DD") from exc


def parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | Decimal):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in {"true", "1", "yes"}:
        return True
    if isinstance(value, str) and value.strip().lower() in {"false", "0", "no", ""}:
        return False
    raise BadValueError("expected true or false")


def parse_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str | int | Decimal) and not isinstance(value, bool):
        return str(value)
    raise BadValueError("expected text")


def utc_stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def eastern_stamp(moment: datetime) -> str:
    return moment.astimezone(EASTERN).strftime("%Y-%m-%d %H:%M:%S")


def iso_z(moment: datetime) -> str:
    """Identity, events and ledger families use ISO-8601 with `Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_bound(value: str, zone: ZoneInfo | None) -> datetime:
    """A filter bound for a timestamp column: a day (its start) or a full local time.

    FreshBooks documents day granularity (`YYYY-MM-DD`) for `updated` betweens; a full
    `YYYY-MM-DD HH:MM:SS` is read in the resource's own zone too.
    """
    text = value.strip()
    try:
        naive = (
            datetime.fromisoformat(text)
            if len(text) > 10
            else datetime.combine(date.fromisoformat(text), datetime.min.time())
        )
    except ValueError as exc:
        raise BadValueError("expected YYYY-MM-DD") from exc
    if naive.tzinfo is not None:
        return naive
    return naive.replace(tzinfo=zone or UTC)


__all__ = [
    "CENTS",
    "EASTERN",
    "BadValueError",
    "decimal_text",
    "eastern_stamp",
    "iso_z",
    "money",
    "parse_bool",
    "parse_bound",
    "parse_date",
    "parse_decimal",
    "parse_id",
    "parse_int",
    "parse_optional_id",
    "parse_text",
    "to_cents",
    "utc_stamp",
]
