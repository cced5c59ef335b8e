"""Accounting list queries: `search[...]` filters, `include[]` and `sort`, as parameter pairs.

The query is built as `(name, value)` pairs and handed to httpx2, which percent-encodes
both brackets and values. The official SDK concatenates raw strings instead, so a vendor
name with `&`, `+` or a space silently becomes a different filter; here it cannot.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

FilterValue = str | int | Decimal | date | bool


def _text(value: FilterValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        # Between filters on datetime columns only have day granularity (YYYY-MM-DD).
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


@dataclass(frozen=True)
class Search:
    """An immutable set of accounting filters; each method returns a new `Search`.

    >>> Search().equals("vendorid", 5).in_("statuses", ["unpaid", "overdue"]).params()
    [('search[vendorid]', '5'), ('search[statuses][]', 'unpaid'), ('search[statuses][]', 'overdue')]
    """

    pairs: tuple[tuple[str, str], ...] = ()

    def _with(self, *more: tuple[str, str]) -> Search:
        return Search(self.pairs + more)

    def equals(self, field: str, value: FilterValue) -> Search:
        """`search[field]=value`."""
        return self._with((f"search[{field}]", _text(value)))

    def in_(self, plural_field: str, values: Iterable[FilterValue]) -> Search:
        """`search[plural][]=v1&search[plural][]=v2` (FreshBooks binds In filters to plurals)."""
        return self._with(*((f"search[{plural_field}][]", _text(v)) for v in values))

    def between(
        self, field: str, *, min: FilterValue | None = None, max: FilterValue | None = None
    ) -> Search:
        """`search[field_min]` (inclusive) and/or `search[field_max]`."""
        pairs: list[tuple[str, str]] = []
        if min is not None:
            pairs.append((f"search[{field}_min]", _text(min)))
        if max is not None:
            pairs.append((f"search[{field}_max]", _text(max)))
        return self._with(*pairs)

    def like(self, field: str, value: str) -> Search:
        """A substring match, `search[field]=value`, with the filter named as FreshBooks
        spells it per resource: `email_like` on clients, but `vendor_name` on vendors and
        `name` on categories."""
        return self._with((f"search[{field}]", value))

    def params(self) -> list[tuple[str, str]]:
        return list(self.pairs)


def list_params(
    *,
    page: int,
    per_page: int,
    search: Search | None = None,
    include: Iterable[str] = (),
    sort: str | None = None,
) -> list[tuple[str, str]]:
    """All query pairs of one list request."""
    params = [("page", str(page)), ("per_page", str(per_page))]
    if search is not None:
        params += search.params()
    params += include_params(include)
    if sort:
        params.append(("sort", sort))
    return params


def include_params(include: Iterable[str]) -> list[tuple[str, str]]:
    """`include[]=name` for each related object to embed."""
    return [("include[]", name) for name in include]


__all__ = ["FilterValue", "Search", "include_params", "list_params"]
