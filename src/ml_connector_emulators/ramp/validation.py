"""Request-body validation the way Ramp's (marshmallow) schemas answer it.

Ramp rejects unknown body fields with 422 `DEVELOPER_7001` "Unknown field." and missing
required ones with "Missing data for required field." (reference §3.3, live-verified),
reporting every problem in a field → messages map, nested by field name and list index.
Validators here return the converted value (a `date`, an exact `Decimal`, …) or raise
`FieldError`; `validate_body` turns the collected problems into that 422.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from ml_connector_emulators.ramp.conventions import SCHEMA_INVALID, ApiError
from ml_connector_emulators.ramp.money import parse_decimal

MISSING = "Missing data for required field."
UNKNOWN = "Unknown field."
NULL = "Field may not be null."

Errors = list[str] | dict[str, Any]
Validator = Callable[[object], Any]


class FieldError(Exception):
    """A field's problems: a list of messages, or a nested map for objects and lists."""

    def __init__(self, errors: Errors | str) -> None:
        super().__init__(str(errors))
        self.errors: Errors = [errors] if isinstance(errors, str) else errors


@dataclass(frozen=True)
class Field:
    check: Validator
    required: bool = False
    nullable: bool = False


Schema = Mapping[str, Field]


def validate_object(value: object, schema: Schema) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise FieldError("FieldError input type.")
    errors: dict[str, Any] = {}
    result: dict[str, Any] = {}
    for name in value:
        if name not in schema:
            errors[name] = [UNKNOWN]
    for name, field in schema.items():
        if name not in value:
            if field.required:
                errors[name] = [MISSING]
            continue
        raw = value[name]
        if raw is None:
            if field.nullable:
                result[name] = None
            else:
                errors[name] = [NULL]
            continue
        try:
            result[name] = field.check(raw)
        except FieldError as exc:
            errors[name] = exc.errors
    if errors:
        raise FieldError(errors)
    return result


def validate_body(body: object, schema: Schema) -> dict[str, Any]:
    try:
        return validate_object(body, schema)
    except FieldError as exc:
        info = exc.errors if isinstance(exc.errors, dict) else {"_schema": exc.errors}
        raise ApiError(422, SCHEMA_INVALID, _first_message(info), info) from exc


def _first_message(errors: Errors) -> str:
    if isinstance(errors, list):
        return errors[0] if errors else "FieldError input."
    for value in errors.values():
        return _first_message(value)
    return "FieldError input."


# --- validators ------------------------------------------------------------------------


def string(max_length: int | None = None, min_length: int = 0) -> Validator:
    def check(value: object) -> str:
        if not isinstance(value, str):
            raise FieldError("Not a valid string.")
        if len(value) < min_length:
            raise FieldError(f"Shorter than minimum length {min_length}.")
        if max_length is not None and len(value) > max_length:
            raise FieldError(f"Longer than maximum length {max_length}.")
        return value

    return check


def uuid_string(value: object) -> str:
    if not isinstance(value, str):
        raise FieldError("Not a valid UUID.")
    try:
        return str(uuid.UUID(value))
    except ValueError as exc:
        raise FieldError("Not a valid UUID.") from exc


def iso_date(value: object) -> date:
    if not isinstance(value, str):
        raise FieldError("Not a valid date.")
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise FieldError("Not a valid date.") from exc


def iso_datetime(value: object) -> datetime:
    if not isinstance(value, str):
        raise FieldError("Not a valid datetime.")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise FieldError("Not a valid datetime.") from exc
    if moment.tzinfo is None:
        # Ramp assumes UTC when no offset is given (reference §3.2).
        moment = datetime.fromisoformat(value + "+00:00")
    return moment


def decimal_amount(minimum: Decimal | None = Decimal(0)) -> Validator:
    def check(value: object) -> Decimal:
        try:
            amount = parse_decimal(value)
        except ValueError as exc:
            raise FieldError(str(exc)) from exc
        if minimum is not None and amount < minimum:
            raise FieldError(f"Must be greater than or equal to {minimum}.")
        return amount

    return check


def integer(minimum: int | None = None, maximum: int | None = None) -> Validator:
    def check(value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise FieldError("Not a valid integer.")
        if minimum is not None and value < minimum:
            raise FieldError(f"Must be greater than or equal to {minimum}.")
        if maximum is not None and value > maximum:
            raise FieldError(f"Must be less than or equal to {maximum}.")
        return value

    return check


def boolean(value: object) -> bool:
    if not isinstance(value, bool):
        raise FieldError("Not a valid boolean.")
    return value


def one_of(choices: Sequence[str] | frozenset[str]) -> Validator:
    allowed = frozenset(choices)

    def check(value: object) -> str:
        if not isinstance(value, str) or value not in allowed:
            raise FieldError(f"Must be one of: {', '.join(sorted(allowed))}.")
        return value

    return check


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def email(value: object) -> str:
    if not isinstance(value, str) or not _EMAIL.match(value):
        raise FieldError("Not a valid email address.")
    return value


def country_code(value: object) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Z]{2}", value):
        raise FieldError("Not a valid country code.")
    return value


def url(value: object) -> str:
    if not isinstance(value, str) or not re.match(r"^https?://[^\s/]+", value):
        raise FieldError("Not a valid URL.")
    return value


def obj(schema: Schema) -> Validator:
    return lambda value: validate_object(value, schema)


def list_of(item: Validator, min_items: int = 0, max_items: int | None = None) -> Validator:
    def check(value: object) -> list[Any]:
        if not isinstance(value, list):
            raise FieldError("Not a valid list.")
        if len(value) < min_items:
            raise FieldError(f"Length must be at least {min_items}.")
        if max_items is not None and len(value) > max_items:
            raise FieldError(f"Length must be at most {max_items}.")
        result: list[Any] = []
        errors: dict[str, Any] = {}
        for index, element in enumerate(value):
            try:
                result.append(item(element))
            except FieldError as exc:
                errors[str(index)] = exc.errors
        if errors:
            raise FieldError(errors)
        return result

    return check


def string_map(max_entries: int, max_key: int, max_value: int) -> Validator:
    def check(value: object) -> dict[str, str]:
        if not isinstance(value, dict):
            raise FieldError("Not a valid mapping type.")
        if len(value) > max_entries:
            raise FieldError(f"At most {max_entries} entries.")
        for key, item in value.items():
            if not isinstance(item, str) or not 1 <= len(item) <= max_value:
                raise FieldError(f"Values must be strings of 1..{max_value} characters.")
            if len(key) > max_key:
                raise FieldError(f"Names must be at most {max_key} characters.")
        return dict(value)

    return check
