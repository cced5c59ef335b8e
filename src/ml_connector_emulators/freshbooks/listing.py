"""Accounting list answers: filter, sort and page the records, then render only the page.

Rendering is what costs (computed bill totals, nested lines and vendors, timestamps in
two zones), so rendering every record of an account to show one page made each list call
grow with the account; a backfill of 100,000 bills timed out. Filters and sorts read the
records through `columns` instead. A query naming a field without a column (a nested
object, a list) is answered the old way — render all, then `query.apply_filters`,
`apply_sort` and `page_of` — which stays the reference the fast path must match exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import itemgetter
from typing import Any

from ml_connector_emulators.freshbooks.books import Books
from ml_connector_emulators.freshbooks.columns import COLUMNS, Column, Rows, UnsupportedError
from ml_connector_emulators.freshbooks.query import (
    Conditions,
    Kind,
    ListQuery,
    apply_filters,
    apply_sort,
    conditions,
    holds,
    like,
    page_of,
    sort_order,
)
from ml_connector_emulators.freshbooks.resources import Resource

Test = Callable[[Any], bool]


def list_result(books: Books, resource: Resource, query: ListQuery) -> dict[str, Any]:
    """The `result` of a list call: `{plural: [...], page, pages, per_page, total}`."""
    wanted = conditions(query, resource.filters)
    try:
        result = _from_records(books, resource, query, wanted)
    except UnsupportedError:
        result = None
    return result if result is not None else render_everything(books, resource, query)


def render_everything(books: Books, resource: Resource, query: ListQuery) -> dict[str, Any]:
    rows = books.all_wire(resource.kind, query.includes)
    rows = apply_sort(apply_filters(rows, query, resource.filters), query.sort)
    return page_of(rows, query, resource.plural)


def _from_records(
    books: Books, resource: Resource, query: ListQuery, wanted: Conditions
) -> dict[str, Any] | None:
    columns = COLUMNS[resource.kind]
    rows = Rows(books.today(), books.payments_of)
    tests: list[Test] = []
    for spec, value in wanted.filters:
        column = columns.get(spec.wire_field)
        if column is None or not column.serves(spec.kind is Kind.LIKE, spec.parse):
            return None
        tests.append(_test(column, spec.kind, value, rows))
    order = sort_order(query.sort)
    sort_column = None
    if order is not None:
        sort_column = columns.get(order[0])
        if sort_column is None:
            return None
    records = _candidates(books, resource.kind, wanted)
    visible = columns.get("vis_state")
    if visible is None:  # taxes show no vis_state, which reads as 0 (active)
        kept = records if wanted.vis_state_ok(0) else []
    else:
        vis_state, asked = visible.reader(rows), wanted.vis_state
        # Spelled out with locals: every page of every list pays this scan of all records.
        if asked is None:
            kept = [r for r in records if vis_state(r) != 1]
        else:
            kept = [r for r in records if vis_state(r) == asked]
    for test in tests:
        kept = [r for r in kept if test(r)]
    if order is not None and sort_column is not None:
        kept = _sorted(kept, sort_column, rows, descending=order[1])
    result = page_of(kept, query, resource.plural)
    result[resource.plural] = [
        books.render(resource.kind, record, query.includes) for record in result[resource.plural]
    ]
    return result


def _test(column: Column, kind: Kind, wanted: Any, rows: Rows) -> Test:
    read = column.reader(rows)
    if kind is Kind.LIKE:
        return lambda record: like(read(record), wanted)

    def test(record: Any) -> bool:
        have = read(record)
        return have is not None and holds(kind, have, wanted)

    return test


def _candidates(books: Books, kind: str, wanted: Conditions) -> list[Any]:
    """Every record of the kind in id order — or, for one vendor's bills (how the product
    reads a vendor's payment terms), only those; the filter itself still applies."""
    if kind == "bills":
        for spec, value in wanted.filters:
            if spec.wire_field == "vendorid" and spec.kind is Kind.EQ:
                return books.bills_of_vendor(value)
    store = books.store(kind)
    return [store[key] for key in sorted(store)]


def _sorted(records: list[Any], column: Column, rows: Rows, *, descending: bool) -> list[Any]:
    """`query.apply_sort` on column values: present values in stable order, then the rest;
    values that cannot be compared leave the order as it was."""
    key = column.sorter(rows)
    keyed = [(key(record), record) for record in records]
    present = [pair for pair in keyed if pair[0] is not None]
    absent = [record for value, record in keyed if value is None]
    try:
        ordered = sorted(present, key=itemgetter(0), reverse=descending)
    except TypeError:
        return records
    return [record for _, record in ordered] + absent


__all__ = ["list_result", "render_everything"]
