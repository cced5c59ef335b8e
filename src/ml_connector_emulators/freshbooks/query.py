"""Accounting list queries: `search[...]` filters, `include[]`, `sort`, and pagination.

Rules from FreshBooks' parameters page: `per_page` defaults to 15 and is silently capped
at 100; page 0 is page 1; a page past the end is an empty list (with the real `pages`
and `total`); a non-integer page or per_page is errno 1014 / 1013. Deleted objects
(`vis_state` 1) are hidden unless `search[vis_state]` asks for them. Betweens are
`_min` inclusive and `_max` exclusive.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo

from ml_connector_emulators.freshbooks.errors import ApiError, accounting_error
from ml_connector_emulators.freshbooks.formats import (
    BadValueError,
    parse_bool,
    parse_bound,
    parse_date,
    parse_decimal,
    parse_int,
)

DEFAULT_PER_PAGE = 15
MAX_PER_PAGE = 100
_SEARCH = re.compile(r"^search\[([A-Za-z0-9_]+)\](\[\])?$")

Record = dict[str, Any]


@dataclass
class ListQuery:
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE
    search: dict[str, str] = field(default_factory=dict)
    search_lists: dict[str, list[str]] = field(default_factory=dict)
    includes: set[str] = field(default_factory=set)
    sort: str | None = None


def _positive(raw: str, errno: int, name: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise accounting_error(400, errno, f"Invalid {name}: {raw}.") from None
    if value < 0:
        raise accounting_error(400, errno, f"Invalid {name}: {raw}.")
    return value


def parse_query(items: Sequence[tuple[str, str]]) -> ListQuery:
    query = ListQuery()
    for key, value in items:
        if key == "page":
            query.page = max(1, _positive(value, 1014, "page"))
        elif key == "per_page":
            per_page = _positive(value, 1013, "per_page")
            query.per_page = min(MAX_PER_PAGE, per_page) if per_page else DEFAULT_PER_PAGE
        elif key in {"include[]", "include"}:
            query.includes.add(value)
        elif key == "sort":
            query.sort = value
        else:
            match = _SEARCH.match(key)
            if match is None:
                continue
            name, is_list = match.group(1), match.group(2)
            if is_list:
                query.search_lists.setdefault(name, []).append(value)
            else:
                query.search[name] = value
    return query


def includes_of(items: Sequence[tuple[str, str]]) -> set[str]:
    return {value for key, value in items if key in {"include[]", "include"}}


class Kind(Enum):
    EQ = "eq"
    IN = "in"
    MIN = "min"
    MAX = "max"
    LIKE = "like"


Parser = Callable[[str], Any]


@dataclass(frozen=True)
class Filter:
    """`search[name]` compares the parsed value with `wire_field` of each record."""

    kind: Kind
    wire_field: str
    parse: Parser


def text(value: str) -> str:
    return value


def day(value: str) -> date:
    return parse_date(value)


def decimal(value: str) -> Decimal:
    return parse_decimal(value)


def integer(value: str) -> int:
    return parse_int(value)


def boolean(value: str) -> bool:
    return parse_bool(value)


def stamp_in(zone: ZoneInfo | None) -> Parser:
    def parse(value: str) -> datetime:
        return parse_bound(value, zone)

    return parse


def _comparable(value: Any, parse: Parser) -> Any:
    if isinstance(value, dict) and "amount" in value:
        return parse_decimal(value["amount"])
    if isinstance(value, str):
        return parse(value)
    return value


def _matches(record: Record, spec: Filter, wanted: Any) -> bool:
    raw = record.get(spec.wire_field)
    if spec.kind is Kind.LIKE:
        return raw is not None and str(wanted).lower() in str(raw).lower()
    if raw is None:
        return False
    have = _comparable(raw, spec.parse)
    if spec.kind is Kind.EQ:
        return bool(have == wanted)
    if spec.kind is Kind.IN:
        return have in wanted
    if spec.kind is Kind.MIN:
        return bool(have >= wanted)
    return bool(have < wanted)


def apply_filters(
    records: list[Record], query: ListQuery, filters: Mapping[str, Filter]
) -> list[Record]:
    """Records matching every known filter; unknown `search[...]` keys are ignored."""
    vis_raw = query.search.get("vis_state")
    try:
        vis_state = parse_int(vis_raw) if vis_raw is not None else None
    except BadValueError:
        raise accounting_error(
            400, 1004, f"Invalid value for search[vis_state]: {vis_raw}."
        ) from None
    if vis_state is None:
        kept = [r for r in records if r.get("vis_state", 0) != 1]
    else:
        kept = [r for r in records if r.get("vis_state", 0) == vis_state]
    for name, spec in filters.items():
        try:
            if spec.kind is Kind.IN:
                if name not in query.search_lists:
                    continue
                wanted: Any = {spec.parse(v) for v in query.search_lists[name]}
            else:
                if name not in query.search:
                    continue
                wanted = (
                    query.search[name] if spec.kind is Kind.LIKE else spec.parse(query.search[name])
                )
        except (BadValueError, ValueError):
            raise accounting_error(
                400, 1004, f"Invalid value for search[{name}].", field=name
            ) from None
        kept = [r for r in kept if _matches(r, spec, wanted)]
    return kept


def apply_sort(records: list[Record], sort: str | None) -> list[Record]:
    if not sort:
        return records
    name, _, direction = sort.rpartition("_")
    if direction not in {"asc", "desc"} or not name:
        return records
    present = [r for r in records if r.get(name) is not None]
    absent = [r for r in records if r.get(name) is None]

    def key(record: Record) -> Any:
        value = record[name]
        if isinstance(value, dict) and "amount" in value:
            return parse_decimal(value["amount"])
        return value

    try:
        ordered = sorted(present, key=key, reverse=direction == "desc")
    except TypeError:
        return records
    return ordered + absent


def page_of(records: list[Record], query: ListQuery, plural: str) -> dict[str, Any]:
    total = len(records)
    pages = -(-total // query.per_page)
    start = (query.page - 1) * query.per_page
    return {
        plural: records[start : start + query.per_page],
        "page": query.page,
        "pages": pages,
        "per_page": query.per_page,
        "total": total,
    }


def guard(parse: Callable[[], Any]) -> Any:
    """Run a parser, turning a bad value into FreshBooks' errno 1004."""
    try:
        return parse()
    except BadValueError as exc:
        raise accounting_error(400, 1004, str(exc)) from None


__all__ = [
    "DEFAULT_PER_PAGE",
    "MAX_PER_PAGE",
    "ApiError",
    "Filter",
    "Kind",
    "ListQuery",
    "Parser",
    "apply_filters",
    "apply_sort",
    "boolean",
    "day",
    "decimal",
    "includes_of",
    "integer",
    "page_of",
    "parse_query",
    "stamp_in",
    "text",
]
