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


def comparable(value: Any, parse: Parser) -> Any:
    """A wire value as a filter compares it: money as its amount, text through `parse`."""
    if isinstance(value, dict) and "amount" in value:
        return parse_decimal(value["amount"])
    if isinstance(value, str):
        return parse(value)
    return value


def like(raw: Any, wanted: Any) -> bool:
    return raw is not None and str(wanted).lower() in str(raw).lower()


def holds(kind: Kind, have: Any, wanted: Any) -> bool:
    """An EQ/IN/MIN/MAX filter on a value already made `comparable`."""
    if kind is Kind.EQ:
        return bool(have == wanted)
    if kind is Kind.IN:
        return have in wanted
    if kind is Kind.MIN:
        return bool(have >= wanted)
    return bool(have < wanted)


def _matches(record: Record, spec: Filter, wanted: Any) -> bool:
    raw = record.get(spec.wire_field)
    if spec.kind is Kind.LIKE:
        return like(raw, wanted)
    if raw is None:
        return False
    return holds(spec.kind, comparable(raw, spec.parse), wanted)


@dataclass(frozen=True)
class Conditions:
    """A list query's `search[...]` read once: the `vis_state` asked for (None: hide the
    deleted) and each known filter with its parsed value."""

    vis_state: int | None
    filters: list[tuple[Filter, Any]]

    def vis_state_ok(self, vis_state: int) -> bool:
        return vis_state != 1 if self.vis_state is None else vis_state == self.vis_state


def conditions(query: ListQuery, filters: Mapping[str, Filter]) -> Conditions:
    """Errors come out in FreshBooks' order: `vis_state` first, then each filter in turn."""
    vis_raw = query.search.get("vis_state")
    try:
        vis_state = parse_int(vis_raw) if vis_raw is not None else None
    except BadValueError:
        raise accounting_error(
            400, 1004, f"Invalid value for search[vis_state]: {vis_raw}."
        ) from None
    wanted_by_filter: list[tuple[Filter, Any]] = []
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
        wanted_by_filter.append((spec, wanted))
    return Conditions(vis_state, wanted_by_filter)


def apply_filters(
    records: list[Record], query: ListQuery, filters: Mapping[str, Filter]
) -> list[Record]:
    """Records matching every known filter; unknown `search[...]` keys are ignored."""
    wanted = conditions(query, filters)
    kept = [r for r in records if wanted.vis_state_ok(r.get("vis_state", 0))]
    for spec, value in wanted.filters:
        kept = [r for r in kept if _matches(r, spec, value)]
    return kept


def sort_order(sort: str | None) -> tuple[str, bool] | None:
    """`sort=<field>_asc|_desc` as (field, descending); None when it asks for nothing."""
    if not sort:
        return None
    name, _, direction = sort.rpartition("_")
    if direction not in {"asc", "desc"} or not name:
        return None
    return name, direction == "desc"


def apply_sort(records: list[Record], sort: str | None) -> list[Record]:
    order = sort_order(sort)
    if order is None:
        return records
    name, descending = order
    present = [r for r in records if r.get(name) is not None]
    absent = [r for r in records if r.get(name) is None]

    def key(record: Record) -> Any:
        value = record[name]
        if isinstance(value, dict) and "amount" in value:
            return parse_decimal(value["amount"])
        return value

    try:
        ordered = sorted(present, key=key, reverse=descending)
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
    "Conditions",
    "Filter",
    "Kind",
    "ListQuery",
    "Parser",
    "apply_filters",
    "apply_sort",
    "boolean",
    "comparable",
    "conditions",
    "day",
    "decimal",
    "holds",
    "includes_of",
    "integer",
    "like",
    "page_of",
    "parse_query",
    "sort_order",
    "stamp_in",
    "text",
]
