"""One FreshBooks account's books: its records, reads in wire shape, and writes.

Every write goes through here so that the side effects FreshBooks would have happen in
one place: `updated` stamps, a bill payment changing its bill, and the webhook event the
write emits (`bill.create`, `expense.delete`, ...; bill payments have no events of their
own, so they surface as `bill.update`). A PUT carrying `vis_state` applies only that and
silently drops every other key, as FreshBooks' update phases do. Because every write
passes here, so does the upkeep of the indexes reads rely on: payments by bill, bills by
vendor and the vendors' remembered balances (`vendor_bills`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from collections.abc import Set as AbstractSet
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from ml_connector_emulators.clock import EmulatorClock
from ml_connector_emulators.freshbooks import render, writes
from ml_connector_emulators.freshbooks.bill_math import bill_totals
from ml_connector_emulators.freshbooks.categories import COGS_HEADINGS, SYSTEM_CHART
from ml_connector_emulators.freshbooks.errors import accounting_error, invalid, not_found
from ml_connector_emulators.freshbooks.formats import BadValueError, parse_int
from ml_connector_emulators.freshbooks.records import (
    ACTIVE,
    ARCHIVED,
    DELETED,
    Bill,
    BillPayment,
    Category,
    Expense,
    Staff,
    Tax,
    Vendor,
)
from ml_connector_emulators.freshbooks.resources import RESOURCES, Resource
from ml_connector_emulators.freshbooks.vendor_bills import VendorBills

Wire = dict[str, Any]
EventSink = Callable[[str, str, int], None]  # (account_id, event name, object id)

# Distinct, realistic-looking id ranges per kind, shared by all accounts of a world.
_FIRST_IDS = {
    "bill_vendors": 1001,
    "bills": 5001,
    "bill_lines": 9001,
    "bill_payments": 901,
    "expenses": 1825001,
    "categories": 2003101,
    "taxes": 31,
    "staff": 1,
}


class IdSource:
    def __init__(self) -> None:
        self._next = dict(_FIRST_IDS)

    def next(self, kind: str) -> int:
        value = self._next.get(kind, 1)
        self._next[kind] = value + 1
        return value


class Books:
    def __init__(
        self,
        account_id: str,
        clock: EmulatorClock,
        ids: IdSource,
        emit: EventSink,
        chart_created: datetime,
    ) -> None:
        self.account_id = account_id
        self._clock = clock
        self._ids = ids
        self._emit = emit
        self.categories: dict[int, Category] = {}
        self.taxes: dict[int, Tax] = {}
        self.staff: dict[int, Staff] = {}
        self.vendors: dict[int, Vendor] = {}
        self.bills: dict[int, Bill] = {}
        self.payments: dict[int, BillPayment] = {}
        self.expenses: dict[int, Expense] = {}
        self._payments_by_bill: dict[int, list[BillPayment]] = {}
        self._vendor_bills = VendorBills()
        self._seed_chart(chart_created)

    def _seed_chart(self, created: datetime) -> None:
        for heading, children in SYSTEM_CHART:
            parent = Category(
                id=self._ids.next("categories"),
                name=heading,
                parentid=None,
                is_cogs=heading in COGS_HEADINGS,
                is_editable=False,
                created=created,
                updated=created,
            )
            self.categories[parent.id] = parent
            for child in children:
                record = Category(
                    id=self._ids.next("categories"),
                    name=child,
                    parentid=parent.id,
                    is_cogs=parent.is_cogs,
                    is_editable=False,
                    created=created,
                    updated=created,
                )
                self.categories[record.id] = record

    # --- lookups (also the `writes.Lookups` protocol) ---------------------------

    def now(self) -> datetime:
        return self._clock.now().astimezone(UTC)

    def today(self) -> date:
        return self.now().date()

    def next_id(self, kind: str) -> int:
        return self._ids.next(kind)

    def vendor_exists(self, vendorid: int) -> bool:
        vendor = self.vendors.get(vendorid)
        return vendor is not None and vendor.vis_state != DELETED

    def category_exists(self, categoryid: int) -> bool:
        category = self.categories.get(categoryid)
        return category is not None and category.vis_state != DELETED

    def top_level_category(self, categoryid: int) -> bool:
        category = self.categories.get(categoryid)
        return category is not None and category.parentid is None

    def bill_outstanding(self, billid: int) -> tuple[Decimal, str] | None:
        bill = self.bills.get(billid)
        if bill is None or bill.vis_state == DELETED:
            return None
        totals = bill_totals(bill, self.payments_of(billid), self.today())
        return totals.outstanding, bill.currency_code

    def category_named(self, name: str) -> Category:
        return next(c for c in self.categories.values() if c.name == name)

    def payments_of(self, billid: int) -> list[BillPayment]:
        return self._payments_by_bill.get(billid, [])

    def bills_of_vendor(self, vendorid: int) -> list[Bill]:
        """The vendor's bills in id order, without looking at anyone else's."""
        return self._vendor_bills.of(vendorid)

    # --- reads ---------------------------------------------------------------------

    def store(self, kind: str) -> dict[int, Any]:
        stores: dict[str, dict[int, Any]] = {
            "bills": self.bills,
            "bill_vendors": self.vendors,
            "bill_payments": self.payments,
            "expenses": self.expenses,
            "categories": self.categories,
            "taxes": self.taxes,
            "staff": self.staff,
        }
        return stores[kind]

    def render(self, kind: str, record: Any, includes: AbstractSet[str] = frozenset()) -> Wire:
        if kind == "bills":
            wire = render.bill(record, self.payments_of(record.id), self.categories, self.today())
            if "vendor" in includes and record.vendorid in self.vendors:
                wire["vendor"] = self._render_vendor(self.vendors[record.vendorid])
            return wire
        if kind == "expenses":
            wire = render.expense(record, self.account_id)
            if "category" in includes and record.categoryid in self.categories:
                wire["category"] = render.category(self.categories[record.categoryid])
            if "attachment" in includes:
                wire["attachment"] = None
            return wire
        plain: dict[str, Callable[[Any], Wire]] = {
            "bill_vendors": self._render_vendor,
            "bill_payments": render.payment,
            "categories": render.category,
            "taxes": lambda r: render.tax(r, self.account_id),
            "staff": lambda r: render.staff(r, self.account_id),
        }
        return plain[kind](record)

    def _render_vendor(self, vendor: Vendor) -> Wire:
        balances = self._vendor_bills.balances(vendor.id, self.today(), self.payments_of)
        return render.vendor(vendor, balances)

    def all_wire(self, kind: str, includes: set[str]) -> list[Wire]:
        store = self.store(kind)
        return [self.render(kind, store[key], includes) for key in sorted(store)]

    def find(self, resource: Resource, raw_id: Any) -> Any:
        try:
            record_id = parse_int(raw_id)
        except BadValueError:
            raise not_found(resource.single, "id", raw_id) from None
        record = self.store(resource.kind).get(record_id)
        if record is None:
            raise not_found(resource.single, "id", raw_id)
        return record

    # --- writes --------------------------------------------------------------------

    def create(self, kind: str, body: Mapping[str, Any]) -> Any:
        now = self.now()
        resource = RESOURCES[kind]
        record: Any
        if kind == "bill_vendors":
            record = writes.new_vendor(body, self, now)
        elif kind == "bills":
            record = writes.new_bill(body, self, now)
        elif kind == "bill_payments":
            record = writes.new_payment(body, self, now)
        elif kind == "expenses":
            record = writes.new_expense(body, self, now, default_staffid=min(self.staff, default=1))
        elif kind == "categories":
            record = writes.new_category(body, self, now)
        elif kind == "taxes":
            record = writes.new_tax(body, self, now)
        else:
            raise accounting_error(405, 1003, f"{resource.plural} cannot be created.")
        self.store(kind)[record.id] = record
        if isinstance(record, Bill):
            self._vendor_bills.added(record)
        elif isinstance(record, BillPayment):
            self._payments_by_bill.setdefault(record.billid, []).append(record)
            self._balances_moved(record)
        self._announce(resource, record, "create")
        return record

    def update(self, kind: str, raw_id: Any, body: Mapping[str, Any]) -> Any:
        resource = RESOURCES[kind]
        record = self.find(resource, raw_id)
        now = self.now()
        if "vis_state" in body and hasattr(record, "vis_state"):
            self._set_vis_state(resource, record, body["vis_state"], now)
            return record
        if getattr(record, "vis_state", ACTIVE) == DELETED:
            raise accounting_error(
                422,
                1011,
                f"Cannot update a deleted {resource.single}.",
                field="vis_state",
                object_name=resource.single,
                value=DELETED,
            )
        if kind == "bill_vendors":
            writes.update_vendor(record, body, now)
        elif kind == "bills":
            vendorid_before = record.vendorid
            try:
                writes.update_bill(record, body, self, now)
            finally:
                self._vendor_bills.changed(record, vendorid_before)
        elif kind == "bill_payments":
            try:
                writes.update_payment(record, body, self, now)
            finally:
                self._balances_moved(record)
        elif kind == "expenses":
            writes.update_expense(record, body, self, now)
        elif kind == "categories":
            writes.update_category(record, body, now)
        elif kind == "taxes":
            writes.update_tax(record, body, now)
        else:
            raise accounting_error(405, 1003, f"{resource.plural} cannot be updated.")
        self._announce(resource, record, "update")
        return record

    def _set_vis_state(self, resource: Resource, record: Any, raw: Any, now: datetime) -> None:
        try:
            state = parse_int(raw)
        except BadValueError:
            state = -1
        if state not in (ACTIVE, DELETED, ARCHIVED):
            raise invalid(resource.single, "vis_state", raw, "must be 0, 1 or 2")
        if isinstance(record, Category) and not record.is_editable:
            raise accounting_error(
                422,
                1004,
                "System categories cannot be deleted.",
                field="vis_state",
                object_name="category",
                value=state,
            )
        if isinstance(record, BillPayment) and state == ACTIVE and record.vis_state == DELETED:
            outstanding = self.bill_outstanding(record.billid)
            if outstanding is None or outstanding[0] < record.amount:
                raise invalid(
                    "bill_payment", "vis_state", state, "restoring would overpay the bill"
                )
        record.vis_state = state
        if hasattr(record, "updated"):
            record.updated = now
        self._balances_moved(record)
        self._announce(resource, record, "delete" if state == DELETED else "update")

    def delete(self, kind: str, raw_id: Any) -> None:
        """A real HTTP DELETE (taxes only); the row is gone afterwards."""
        resource = RESOURCES[kind]
        record = self.find(resource, raw_id)
        del self.store(kind)[record.id]
        if isinstance(record, Bill):
            self._vendor_bills.removed(record)
        elif isinstance(record, BillPayment):
            self._payments_by_bill[record.billid].remove(record)
            self._balances_moved(record)
        self._announce(resource, record, "delete")

    def _balances_moved(self, record: Any) -> None:
        """A bill or payment changed: its vendor's remembered balances are stale."""
        bill = self.bills.get(record.billid) if isinstance(record, BillPayment) else record
        if isinstance(bill, Bill):
            self._vendor_bills.touched(bill.vendorid)

    def _announce(self, resource: Resource, record: Any, verb: str) -> None:
        if isinstance(record, BillPayment):
            bill = self.bills.get(record.billid)
            if bill is not None:
                bill.updated = self.now()
                self._emit(self.account_id, "bill.update", bill.id)
            return
        if resource.event is not None:
            self._emit(self.account_id, f"{resource.event}.{verb}", record.id)


__all__ = ["Books", "EventSink", "IdSource"]
