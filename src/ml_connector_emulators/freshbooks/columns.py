"""Wire fields read straight off the records, for filtering and sorting without rendering.

Each `Column` answers what `query` would compute from the rendered field: the wire value
itself for ids, flags and plain text, and for dates, timestamps and money the value a
filter parses them into (`query.comparable`). Those parsed values also sort like the wire
values do (dates and timestamps are fixed-width text ordered as the instants they name;
money sorts by amount), so one value serves `search[...]` and `sort` alike. A field with
no column here is served by rendering every record, as before.

Timestamps are rendered to the second and read back in the resource's zone, so the value
here drops the microseconds and, for US/Eastern resources, takes the fold a naive local
time gets when parsed (the ambiguous hour after DST ends reads as its first occurrence).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from operator import attrgetter
from typing import Any

from ml_connector_emulators.freshbooks.bill_math import BillTotals, bill_totals, due_date
from ml_connector_emulators.freshbooks.formats import EASTERN, to_cents
from ml_connector_emulators.freshbooks.query import Parser, day, text
from ml_connector_emulators.freshbooks.records import Bill, BillPayment
from ml_connector_emulators.freshbooks.resources import EASTERN_STAMP, UTC_STAMP


class UnsupportedError(Exception):
    """This record's field cannot be read without rendering it; render everything instead."""


class Rows:
    """What computed columns need for one request: the day, payments, memoized totals."""

    def __init__(self, today: date, payments_of: Callable[[int], list[BillPayment]]) -> None:
        self.today = today
        self._payments_of = payments_of
        self._totals: dict[int, BillTotals] = {}

    def totals(self, bill: Bill) -> BillTotals:
        found = self._totals.get(bill.id)
        if found is None:
            found = bill_totals(bill, self._payments_of(bill.id), self.today)
            self._totals[bill.id] = found
        return found


Getter = Callable[[Any, Rows], Any]
Reader = Callable[[Any], Any]


@dataclass(frozen=True)
class Column:
    get: Getter
    parse: Parser | None = None
    """The parser `get` has already applied to a text wire value (a filter using any other
    parser on it needs the rendered text); None when the wire value is not text."""
    is_wire: bool = True
    """`get` returns the wire value itself, so a LIKE filter can read it as text."""
    attr: str | None = None
    """`get` is this plain attribute (read at C speed: listings scan every record)."""
    sort_key: Getter | None = None
    """A cheaper value that orders (and ties) exactly as `get` does."""

    def serves(self, kind_is_like: bool, parse: Parser) -> bool:
        if kind_is_like:
            return self.is_wire
        return self.parse is None or self.parse is parse

    def reader(self, rows: Rows) -> Reader:
        if self.attr is not None:
            return attrgetter(self.attr)
        get = self.get
        return lambda record: get(record, rows)

    def sorter(self, rows: Rows) -> Reader:
        if self.sort_key is None:
            return self.reader(rows)
        key = self.sort_key
        return lambda record: key(record, rows)


def _attr(name: str, parse: Parser | None = None) -> Column:
    def get(record: Any, _: Rows) -> Any:
        return getattr(record, name)

    return Column(get, parse, attr=name)


def _text(name: str) -> Column:
    return _attr(name, text)


def _day(name: str) -> Column:
    def get(record: Any, _: Rows) -> date:
        value: date = getattr(record, name)
        return value

    return Column(get, day, is_wire=False)


def _four_digit_year(moment: datetime) -> datetime:
    # `%Y` is not zero-padded before year 1000: such text neither sorts by time nor parses.
    # Near either end a change of zone may also cross it (or overflow), and a naive
    # instant is read in the host's zone: all rare enough to leave to rendering.
    if not 1000 < moment.year < 9999 or moment.tzinfo is None:
        raise UnsupportedError(moment)
    return moment


def _no_fold(moment: datetime) -> datetime:
    return _four_digit_year(moment).replace(microsecond=0, fold=0)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)


def _utc(name: str) -> Column:
    def get(record: Any, _: Rows) -> datetime:
        return _no_fold(getattr(record, name).astimezone(UTC))

    def whole_seconds(record: Any, _: Rows) -> int:
        # Floor division, as the stamp text drops the fraction: towards the past, also
        # before 1970, where truncating would round towards zero instead.
        return (_four_digit_year(getattr(record, name)) - _EPOCH) // _SECOND

    return Column(get, UTC_STAMP, is_wire=False, sort_key=whole_seconds)


def _eastern(name: str) -> Column:
    def get(record: Any, _: Rows) -> datetime:
        return _no_fold(getattr(record, name).astimezone(EASTERN))

    return Column(get, EASTERN_STAMP, is_wire=False)


def _money(get_amount: Getter) -> Column:
    def get(record: Any, rows: Rows) -> Any:
        return to_cents(get_amount(record, rows))

    return Column(get, is_wire=False)


def _totals(name: str) -> Getter:
    def get(bill: Bill, rows: Rows) -> Any:
        return getattr(rows.totals(bill), name)

    return get


_ID = _attr("id")
_VIS_STATE = _attr("vis_state")

COLUMNS: dict[str, dict[str, Column]] = {
    "bills": {
        "id": _ID,
        "vendorid": _attr("vendorid"),
        "bill_number": _text("bill_number"),
        "issue_date": _day("issue_date"),
        "due_offset_days": _attr("due_offset_days"),
        "due_date": Column(lambda bill, _: due_date(bill), day, is_wire=False),
        "currency_code": _text("currency_code"),
        "language": _text("language"),
        "status": Column(_totals("status"), text),
        "amount": _money(_totals("amount")),
        "tax_amount": _money(_totals("tax_amount")),
        "total_amount": _money(_totals("total_amount")),
        "outstanding": _money(_totals("outstanding")),
        "paid": _money(_totals("paid")),
        "created_at": _utc("created"),
        "updated_at": _utc("updated"),
        "vis_state": _VIS_STATE,
    },
    "bill_vendors": {
        "vendorid": _ID,
        "vendor_name": _text("vendor_name"),
        "account_number": _text("account_number"),
        "primary_contact_email": _text("primary_contact_email"),
        "country": _text("country"),
        "province": _text("province"),
        "currency_code": _text("currency_code"),
        "language": _text("language"),
        "is_1099": _attr("is_1099"),
        "created_at": _utc("created"),
        "updated_at": _utc("updated"),
        "vis_state": _VIS_STATE,
    },
    "bill_payments": {
        "id": _ID,
        "billid": _attr("billid"),
        "amount": _money(lambda payment, _: payment.amount),
        "paid_date": _day("paid_date"),
        "payment_type": _text("payment_type"),
        "vis_state": _VIS_STATE,
    },
    "expenses": {
        "id": _ID,
        "expenseid": _ID,
        "categoryid": _attr("categoryid"),
        "staffid": _attr("staffid"),
        "clientid": _attr("clientid"),
        "projectid": _attr("projectid"),
        "vendor": _text("vendor"),
        "amount": _money(lambda expense, _: expense.amount),
        "date": _day("date"),
        "has_receipt": _attr("has_receipt"),
        "is_cogs": _attr("is_cogs"),
        "billable": _attr("billable"),
        "updated": _eastern("updated"),
        "vis_state": _VIS_STATE,
    },
    "categories": {
        "id": _ID,
        "categoryid": _ID,
        "category": _text("name"),
        "parentid": _attr("parentid"),
        "is_cogs": _attr("is_cogs"),
        "is_editable": _attr("is_editable"),
        "created_at": _eastern("created"),
        "updated_at": _eastern("updated"),
        "vis_state": _VIS_STATE,
    },
    "taxes": {
        "id": _ID,
        "taxid": _ID,
        "name": _text("name"),
        "number": _text("number"),
        "compound": _attr("compound"),
        "updated": _eastern("updated"),
    },
    "staff": {
        "id": _ID,
        "userid": _ID,
        "email": _text("email"),
        "first_name": _text("first_name"),
        "last_name": _text("last_name"),
        "vis_state": _VIS_STATE,
    },
}
"""Per resource kind: wire field → column. Fields left out (nested objects, lists, derived
text) are filtered and sorted on rendered rows."""

__all__ = ["COLUMNS", "Column", "Rows", "UnsupportedError"]
