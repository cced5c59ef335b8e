"""Computed bill fields: line amounts and taxes, totals, paid/outstanding, status.

Each line rounds to cents on its own (as a printed bill does); the bill sums its lines.
A second tax compounds on the first only when the line says so. Status precedence:
`paid` (nothing outstanding), `partial` (something paid), `overdue` (past due and
unpaid), else `unpaid`. A vendor's balances are its active bills' outstanding amounts,
per currency, and the part of them past due.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from ml_connector_emulators.freshbooks.formats import to_cents
from ml_connector_emulators.freshbooks.records import ACTIVE, Bill, BillLine, BillPayment

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class LineTotals:
    amount: Decimal
    tax1: Decimal | None
    tax2: Decimal | None

    @property
    def total(self) -> Decimal:
        return self.amount + (self.tax1 or ZERO) + (self.tax2 or ZERO)


@dataclass(frozen=True)
class BillTotals:
    amount: Decimal
    tax_amount: Decimal
    total_amount: Decimal
    paid: Decimal
    outstanding: Decimal
    status: str
    due_date: date


def line_totals(line: BillLine) -> LineTotals:
    amount = to_cents(line.quantity * line.unit_cost)
    tax1 = to_cents(amount * line.tax_percent1 / 100) if line.tax_percent1 is not None else None
    tax2 = None
    if line.tax_percent2 is not None:
        base = amount + (tax1 or ZERO) if line.compounded_tax else amount
        tax2 = to_cents(base * line.tax_percent2 / 100)
    return LineTotals(amount, tax1, tax2)


def due_date(bill: Bill) -> date:
    return bill.issue_date + timedelta(days=bill.due_offset_days)


@dataclass(frozen=True)
class VendorBalances:
    outstanding: dict[str, Decimal]
    overdue: dict[str, Decimal]


def vendor_balances(
    bills: Iterable[Bill], payments_of: Callable[[int], Iterable[BillPayment]], today: date
) -> VendorBalances:
    outstanding: dict[str, Decimal] = {}
    overdue: dict[str, Decimal] = {}
    for bill in bills:
        if bill.vis_state != ACTIVE:
            continue
        totals = bill_totals(bill, payments_of(bill.id), today)
        if totals.outstanding:
            code = bill.currency_code
            outstanding[code] = outstanding.get(code, Decimal(0)) + totals.outstanding
            if totals.due_date < today:
                overdue[code] = overdue.get(code, Decimal(0)) + totals.outstanding
    return VendorBalances(outstanding, overdue)


def bill_totals(bill: Bill, payments: Iterable[BillPayment], today: date) -> BillTotals:
    lines = [line_totals(line) for line in bill.lines]
    amount = sum((t.amount for t in lines), ZERO)
    tax = sum(((t.tax1 or ZERO) + (t.tax2 or ZERO) for t in lines), ZERO)
    total = amount + tax
    paid = sum((p.amount for p in payments if p.vis_state == ACTIVE), ZERO)
    outstanding = max(total - paid, ZERO)
    due = due_date(bill)
    if outstanding == ZERO:
        status = "paid"
    elif paid > ZERO:
        status = "partial"
    elif due < today:
        status = "overdue"
    else:
        status = "unpaid"
    return BillTotals(amount, tax, total, paid, outstanding, status, due)


__all__ = [
    "BillTotals",
    "LineTotals",
    "VendorBalances",
    "bill_totals",
    "due_date",
    "line_totals",
    "vendor_balances",
]
