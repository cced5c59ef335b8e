"""Each vendor's bills, and its balances remembered until one of those bills changes.

A rendered vendor carries balances over all its bills, and a bill listed with
`include[]=vendor` carries its vendor: without this index every such render walked every
bill of the account, and a page of bills cost a page times the whole account. `Books`
reports every write that can move a balance — a bill created, edited, moved to another
vendor, deleted or restored, a payment recorded, edited or voided — and the vendors it
touched compute afresh on their next render. Balances also depend on the day (what is
overdue), so a remembered figure is only reused on the day it was computed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date

from ml_connector_emulators.freshbooks.bill_math import VendorBalances, vendor_balances
from ml_connector_emulators.freshbooks.records import Bill, BillPayment

PaymentsOf = Callable[[int], Iterable[BillPayment]]


class VendorBills:
    def __init__(self) -> None:
        self._bills: dict[int, dict[int, Bill]] = {}
        self._balances: dict[int, tuple[date, VendorBalances]] = {}

    def of(self, vendorid: int) -> list[Bill]:
        """The vendor's bills in id order (the order a listing shows them in)."""
        bills = self._bills.get(vendorid, {})
        return [bills[key] for key in sorted(bills)]

    def added(self, bill: Bill) -> None:
        self._bills.setdefault(bill.vendorid, {})[bill.id] = bill
        self.touched(bill.vendorid)

    def removed(self, bill: Bill) -> None:
        self._bills.get(bill.vendorid, {}).pop(bill.id, None)
        self.touched(bill.vendorid)

    def changed(self, bill: Bill, vendorid_before: int) -> None:
        """After any write to `bill`, even one that failed half-way (PUT applies keys one by
        one, so a rejected body may already have moved the bill to another vendor)."""
        if bill.vendorid != vendorid_before:
            self._bills.get(vendorid_before, {}).pop(bill.id, None)
            self.touched(vendorid_before)
        self.added(bill)

    def touched(self, vendorid: int) -> None:
        self._balances.pop(vendorid, None)

    def balances(self, vendorid: int, today: date, payments_of: PaymentsOf) -> VendorBalances:
        remembered = self._balances.get(vendorid)
        if remembered is not None and remembered[0] == today:
            return remembered[1]
        fresh = vendor_balances(self._bills.get(vendorid, {}).values(), payments_of, today)
        self._balances[vendorid] = (today, fresh)
        return fresh


__all__ = ["VendorBills"]
