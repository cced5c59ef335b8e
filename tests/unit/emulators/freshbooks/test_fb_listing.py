"""List calls answered from the records must equal rendering everything, for any query.

`listing.render_everything` is how every list call used to be answered (render each
record, then `apply_filters`, `apply_sort`, `page_of`); the fast path filters, sorts and
pages the records and renders only the page. Random accounts and random queries —
filters the product sends and ones it never does, sorts on every column and on fields
without one, pagination quirks, bad values — must give the same JSON or the same error.
Vendor balances, now remembered between renders, must equal a fresh computation after
any sequence of writes.
"""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ml_connector_emulators.clock import EmulatorClock
from ml_connector_emulators.freshbooks import FreshBooksWorld
from ml_connector_emulators.freshbooks import render as wire_render
from ml_connector_emulators.freshbooks.bill_math import vendor_balances
from ml_connector_emulators.freshbooks.books import Books
from ml_connector_emulators.freshbooks.columns import COLUMNS, Rows
from ml_connector_emulators.freshbooks.errors import ApiError
from ml_connector_emulators.freshbooks.formats import EASTERN
from ml_connector_emulators.freshbooks.listing import list_result, render_everything
from ml_connector_emulators.freshbooks.query import (
    Kind,
    boolean,
    comparable,
    day,
    decimal,
    integer,
    parse_query,
    text,
)
from ml_connector_emulators.freshbooks.resources import EASTERN_STAMP, RESOURCES, UTC_STAMP

START = datetime(2026, 10, 31, 12, 0, tzinfo=UTC)
KINDS = ("bills", "bill_vendors", "bill_payments", "expenses", "categories", "taxes", "staff")
NAMES = ("Staples", "staples inc", "Harbor Print", "Ümlaut GmbH", "Acme")
CURRENCIES = ("USD", "CAD", "EUR")
WORDS = ("INV", "inv-0", "paid", "unpaid", "overdue", "partial", "USD", "cad", "Sta", "", "%")

# Half-hours around the end of US daylight saving time (2026-11-01 06:00 UTC), when one
# Eastern wall-clock hour happens twice, and moments either side of 1970 (where whole
# seconds are floored, not truncated); each exactly or with a fraction of a second.
_GRID = [datetime(2026, 11, 1, 4, 30, tzinfo=UTC) + timedelta(minutes=30 * n) for n in range(6)]
_EPOCH_SIDES = [datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC), datetime(1970, 1, 1, tzinfo=UTC)]
moments = st.one_of(
    st.builds(
        lambda base, fraction: base + timedelta(microseconds=fraction),
        st.sampled_from(_GRID + _EPOCH_SIDES),
        st.sampled_from([0, 0, 250_000, 750_000]),
    ),
    st.datetimes(
        # Hypothesis takes naive bounds and attaches `timezones` itself.
        min_value=datetime(2026, 10, 31, 22),  # noqa: DTZ001
        max_value=datetime(2026, 11, 1, 9),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
)
days = st.dates(min_value=date(2026, 9, 20), max_value=date(2026, 11, 20))
cents = st.integers(min_value=1, max_value=200_000).map(lambda c: f"{c // 100}.{c % 100:02d}")


def _new_world() -> FreshBooksWorld:
    return FreshBooksWorld(scenario="empty", clock=EmulatorClock(START))


@st.composite
def accounts(draw: st.DrawFn) -> Books:
    world = _new_world()
    books, clock = world.primary.books, world.clock
    categories = sorted(books.categories)[:6]
    vendors = []
    for _ in range(draw(st.integers(1, 4))):
        body = {"vendor_name": draw(st.sampled_from(NAMES)), "currency_code": "USD"}
        if draw(st.booleans()):
            body["account_number"] = draw(st.sampled_from(WORDS))
        vendors.append(books.create("bill_vendors", body))
        if draw(st.booleans()):
            vendors[-1].updated = draw(moments)
    for n in range(draw(st.integers(0, 18))):
        clock.advance(draw(st.sampled_from([0, 0, 1, 0.4, 3600])))
        bill = books.create(
            "bills",
            {
                "vendorid": draw(st.sampled_from(vendors)).id,
                "bill_number": draw(st.sampled_from([f"INV-{n:03d}", "inv-001", None])),
                "issue_date": draw(days).isoformat(),
                "due_offset_days": draw(st.sampled_from([0, 14, 30])),
                "currency_code": draw(st.sampled_from(CURRENCIES)),
                "lines": [
                    {
                        "categoryid": draw(st.sampled_from(categories)),
                        "quantity": draw(st.sampled_from([1, 2, "1.5"])),
                        "unit_cost": {"amount": draw(cents), "code": "USD"},
                        **draw(st.sampled_from([{}, {"tax_name1": "HST", "tax_percent1": "13"}])),
                    }
                    for _ in range(draw(st.integers(1, 2)))
                ],
            },
        )
        outstanding = books.bill_outstanding(bill.id)
        assert outstanding is not None
        share = draw(st.sampled_from([0, 0, 25, 100]))
        if share:
            books.create(
                "bill_payments",
                {
                    "billid": bill.id,
                    "amount": {"amount": str(outstanding[0] * share / 100), "code": "USD"},
                    "paid_date": draw(days).isoformat(),
                    "payment_type": draw(st.sampled_from(["Check", "Cash"])),
                },
            )
        state = draw(st.sampled_from([0, 0, 0, 1, 2]))
        if state:
            books.update("bills", bill.id, {"vis_state": state})
        if draw(st.booleans()):
            bill.updated = draw(moments)
    for _ in range(draw(st.integers(0, 6))):
        expense = books.create(
            "expenses",
            {
                "categoryid": draw(st.sampled_from(categories)),
                "amount": {"amount": draw(cents), "code": "USD"},
                "date": draw(days).isoformat(),
                "vendor": draw(st.sampled_from([*NAMES, None])),
                "has_receipt": draw(st.booleans()),
            },
        )
        expense.updated = draw(moments)
        if draw(st.booleans()):
            books.update("expenses", expense.id, {"vis_state": 1})
    for name in draw(st.lists(st.sampled_from(WORDS[:4]), max_size=3)):
        tax = books.create("taxes", {"name": name, "amount": "5", "number": name or None})
        tax.updated = draw(moments)
    return books


def _value(parse: Any, books: Books, wire_field: str, data: st.DataObject) -> str:
    if parse is integer:
        ids: list[int] = []
        for kind in ("bills", "bill_vendors", "bill_payments", "expenses", "categories"):
            ids.extend(list(books.store(kind))[:5])
        return str(data.draw(st.one_of(st.sampled_from([*ids, 0, -3]), st.integers(1, 50))))
    if parse is day:
        return data.draw(days).isoformat()
    if parse in (UTC_STAMP, EASTERN_STAMP):
        moment = data.draw(moments).astimezone(data.draw(st.sampled_from([UTC, EASTERN])))
        naive = moment.replace(tzinfo=None)
        return data.draw(
            st.sampled_from(
                [
                    naive.date().isoformat(),
                    naive.strftime("%Y-%m-%d %H:%M:%S"),
                    naive.isoformat(sep=" "),
                    moment.isoformat(),  # with its UTC offset: compared across zones
                ]
            )
        )
    if parse is boolean:
        return data.draw(st.sampled_from(["true", "false", "1", "0"]))
    if parse is decimal:
        return data.draw(cents)
    assert parse is text, wire_field
    return data.draw(st.sampled_from([*WORDS, *NAMES]))


def _queries(kind: str, books: Books, data: st.DataObject) -> list[tuple[str, str]]:
    resource = RESOURCES[kind]
    items: list[tuple[str, str]] = []
    for key in ("page", "per_page"):
        if data.draw(st.booleans()):
            items.append((key, data.draw(st.sampled_from(["0", "1", "2", "3", "7", "100", "250"]))))
    if data.draw(st.booleans()):
        items.append(("search[vis_state]", data.draw(st.sampled_from(["0", "1", "2", "x"]))))
    for name in data.draw(st.lists(st.sampled_from(sorted(resource.filters)), max_size=3)):
        spec = resource.filters[name]
        bad = data.draw(st.integers(0, 19)) == 0
        values = ["not-a-value" if bad else _value(spec.parse, books, spec.wire_field, data)]
        if spec.kind is Kind.IN:
            values.append(_value(spec.parse, books, spec.wire_field, data))
            items.extend((f"search[{name}][]", v) for v in values)
        else:
            items.append((f"search[{name}]", values[0]))
    if data.draw(st.integers(0, 3)):
        fields = [*COLUMNS[kind], "vendor", "lines", "outstanding_balance", "category", "nope"]
        sort = data.draw(
            st.one_of(
                st.tuples(st.sampled_from(fields), st.sampled_from(["asc", "desc"])).map("_".join),
                st.sampled_from(["asc", "_desc", "updated_at", "id_up", ""]),
            )
        )
        items.append(("sort", sort))
    for include in data.draw(st.lists(st.sampled_from(["vendor", "category", "attachment"]))):
        items.append(("include[]", include))
    return items


def _outcome(answer: Any, *args: Any) -> tuple[Any, ...]:
    try:
        return ("ok", json.dumps(answer(*args)))
    except ApiError as exc:
        return ("api error", exc.response.status_code, bytes(exc.response.body))
    except Exception as exc:  # whatever the old path raised, the new one must raise too
        return ("raised", type(exc).__name__, str(exc))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(books=accounts(), data=st.data())
def test_a_list_from_the_records_equals_rendering_everything(
    books: Books, data: st.DataObject
) -> None:
    for _ in range(8):
        kind = data.draw(st.sampled_from(KINDS))
        query = parse_query(_queries(kind, books, data))
        resource = RESOURCES[kind]
        fast = _outcome(list_result, books, resource, query)
        slow = _outcome(render_everything, books, resource, query)
        assert fast == slow


@pytest.mark.parametrize(
    "items",
    [
        [("page", "1"), ("per_page", "100"), ("include[]", "vendor")],
        [("page", "2"), ("per_page", "100"), ("search[vendorid]", "1001")],
        [("search[issue_date_min]", "2026-10-01"), ("search[vis_state]", "1")],
        [("search[updated_min]", "2026-10-31"), ("sort", "updated_at_desc")],
    ],
)
def test_the_products_queries_take_the_fast_path(
    items: list[tuple[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    books = _new_world().primary.books
    vendor = books.create("bill_vendors", {"vendor_name": "Staples"})
    category = sorted(books.categories)[0]
    for _ in range(3):
        books.create(
            "bills",
            {
                "vendorid": vendor.id,
                "issue_date": "2026-10-15",
                "due_offset_days": 30,
                "currency_code": "USD",
                "lines": [{"categoryid": category, "quantity": 1, "unit_cost": "10.00"}],
            },
        )

    def refuse(*_: Any) -> Any:
        raise AssertionError("rendered every record")

    expected = render_everything(books, RESOURCES["bills"], parse_query(items))
    monkeypatch.setattr(books, "all_wire", refuse)
    assert list_result(books, RESOURCES["bills"], parse_query(items)) == expected


def _same_both_ways(books: Books, kind: str, queries: list[list[tuple[str, str]]]) -> None:
    for items in queries:
        query = parse_query(items)
        fast = _outcome(list_result, books, RESOURCES[kind], query)
        assert fast == _outcome(render_everything, books, RESOURCES[kind], query), items


def test_the_repeated_eastern_hour_filters_as_its_text_reads() -> None:
    # 05:30 and 06:30 UTC both read 01:30 in US/Eastern on 2026-11-01; the text parses
    # back as the first, which matters against a bound given with another UTC offset.
    books = _new_world().primary.books
    category = sorted(books.categories)[0]
    for minutes in (0, 30, 60, 90, 120):
        expense = books.create(
            "expenses", {"categoryid": category, "amount": "1.00", "date": "2026-11-01"}
        )
        expense.updated = datetime(2026, 11, 1, 5, tzinfo=UTC) + timedelta(minutes=minutes)
    bounds = [
        "2026-11-01T01:30:00-05:00",
        "2026-11-01T01:30:00-04:00",
        "2026-11-01 01:30:00",
        "2026-11-01T06:15:00+00:00",
        "2026-11-01",
    ]
    _same_both_ways(
        books,
        "expenses",
        [[(f"search[updated_{end}]", b)] for b in bounds for end in ("min", "max")]
        + [[("sort", "updated_asc")], [("sort", "updated_desc")]],
    )


def test_stamps_before_1970_sort_as_their_text() -> None:
    # Later ids first in time: a tie that truncating towards zero would make keeps id order.
    books = _new_world().primary.books
    for fraction in (250_000, 0, -500_000):
        vendor = books.create("bill_vendors", {"vendor_name": "Old"})
        vendor.updated = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=fraction)
    _same_both_ways(
        books,
        "bill_vendors",
        [[("sort", "updated_at_asc")], [("sort", "updated_at_desc")]],
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(books=accounts(), data=st.data())
def test_every_column_reads_what_the_wire_shows(books: Books, data: st.DataObject) -> None:
    kind = data.draw(st.sampled_from(KINDS))
    rows = Rows(books.today(), books.payments_of)
    for record in books.store(kind).values():
        wire = books.render(kind, record)
        for field, column in COLUMNS[kind].items():
            assert field in wire, field
            value = column.get(record, rows)
            if column.is_wire:
                assert value == wire[field], field
            elif wire[field] is not None:
                assert value == comparable(wire[field], column.parse or text), field


# --- vendor balances under writes ----------------------------------------------------


def _fresh_vendor(books: Books, vendorid: int) -> dict[str, Any]:
    bills = [b for b in books.bills.values() if b.vendorid == vendorid]
    balances = vendor_balances(bills, books.payments_of, books.today())
    return wire_render.vendor(books.vendors[vendorid], balances)


def _write(world: FreshBooksWorld, data: st.DataObject, vendors: list[int], category: int) -> None:
    books = world.primary.books
    bills = sorted(books.bills)
    payments = sorted(books.payments)
    op = data.draw(
        st.sampled_from(["bill", "move", "lines", "state", "pay", "repay", "pstate", "day"])
    )
    line = {"categoryid": category, "quantity": 1, "unit_cost": data.draw(cents)}
    if op == "bill" or not bills:
        books.create(
            "bills",
            {
                "vendorid": data.draw(st.sampled_from(vendors)),
                "issue_date": data.draw(days).isoformat(),
                "due_offset_days": data.draw(st.sampled_from([0, 30])),
                "currency_code": data.draw(st.sampled_from(CURRENCIES)),
                "lines": [line],
            },
        )
    elif op == "move":
        # A rejected body (no lines) still moves the bill: PUT applies keys in turn.
        body: dict[str, Any] = {"vendorid": data.draw(st.sampled_from(vendors))}
        body["lines"] = data.draw(st.sampled_from([[line], []]))
        books.update("bills", data.draw(st.sampled_from(bills)), body)
    elif op == "lines":
        books.update("bills", data.draw(st.sampled_from(bills)), {"lines": [line, line]})
    elif op == "state":
        state = data.draw(st.sampled_from([0, 1, 2]))
        books.update("bills", data.draw(st.sampled_from(bills)), {"vis_state": state})
    elif op == "pay":
        billid = data.draw(st.sampled_from(bills))
        books.create(
            "bill_payments",
            {"billid": billid, "amount": data.draw(cents), "paid_date": "2026-10-20",
             "payment_type": "Check"},
        )  # fmt: skip
    elif op == "repay" and payments:
        books.update("bill_payments", data.draw(st.sampled_from(payments)), {"amount": "1.00"})
    elif op == "pstate" and payments:
        state = data.draw(st.sampled_from([0, 1]))
        books.update("bill_payments", data.draw(st.sampled_from(payments)), {"vis_state": state})
    elif op == "day":
        world.clock.advance(data.draw(st.sampled_from([3600 * 5, 86400 * 20])))


@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_remembered_vendor_balances_follow_every_write(data: st.DataObject) -> None:
    world = _new_world()
    books = world.primary.books
    category = sorted(books.categories)[0]
    vendors = [books.create("bill_vendors", {"vendor_name": n}).id for n in NAMES[:3]]
    for _ in range(data.draw(st.integers(1, 25))):
        with contextlib.suppress(ApiError):
            _write(world, data, vendors, category)
        for vendorid in vendors:
            assert books.render("bill_vendors", books.vendors[vendorid]) == _fresh_vendor(
                books, vendorid
            )
            assert books.bills_of_vendor(vendorid) == [
                books.bills[k] for k in sorted(books.bills) if books.bills[k].vendorid == vendorid
            ]
