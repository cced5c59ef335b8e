"""Wire → domain conversion, and the small pure rules of the sync handlers."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from ml_connector.clients.freshbooks import models as fb
from ml_connector.clients.ramp import models as ramp
from ml_connector.core.errors import NeedsAttentionError
from ml_connector.core.model import BillStatus, Category, PaidWith, RampBillStatus, VisState
from ml_connector.sync import convert
from ml_connector.sync.categories import affected_categories
from ml_connector.sync.executor import stored_hash, wait_retry_after

BILL: dict[str, Any] = {
    "id": 7, "vendorid": 5, "bill_number": None, "issue_date": "2020-10-09",
    "due_offset_days": 39, "currency_code": "USD", "status": "paid", "vis_state": 0,
    "total_amount": {"amount": "375.00", "code": "USD"},
    "lines": [{"id": 13, "list_index": 1, "description": " Malm Side Table ", "quantity": "3",
               "unit_cost": {"amount": "125.00", "code": "USD"},
               "category": {"category": "Office", "categoryid": 65773},
               "tax_name1": "GST", "tax_percent1": "5",
               "tax_amount1": {"amount": "18.75", "code": "USD"}}],
    "bill_payments": [{"id": 1, "billid": 7, "amount": {"amount": "375.00", "code": "USD"},
                       "paid_date": "2020-10-20", "payment_type": "Check", "vis_state": 1}],
}  # fmt: skip


def test_bill_keeps_exact_money_lines_taxes_and_payments() -> None:
    bill = convert.bill(fb.Bill.model_validate(BILL))
    assert bill.status is BillStatus.PAID
    assert bill.vendor_id == "5"
    (line,) = bill.lines
    assert line.category_id == "65773"
    assert line.quantity == Decimal(3)
    assert line.description == "Malm Side Table"
    assert line.unit_cost is not None
    assert line.unit_cost.amount == Decimal("125.00")
    assert line.taxes[0].amount is not None
    assert line.taxes[0].amount.amount == Decimal("18.75")
    assert bill.payments[0].active is False  # a deleted payment does not count
    assert bill.total_amount is not None
    assert bill.total_amount.amount == Decimal("375.00")


@pytest.mark.parametrize(
    ("change", "code"),
    [({"status": "voided"}, "freshbooks.unknown_bill_status"),
     ({"vis_state": 7}, "freshbooks.unknown_vis_state")],
)  # fmt: skip
def test_bill_values_the_core_cannot_hold_park_the_bill(change: dict[str, Any], code: str) -> None:
    with pytest.raises(NeedsAttentionError) as caught:
        convert.bill(fb.Bill.model_validate(BILL | change))
    assert caught.value.code == code
    assert str(next(iter(change.values()))) in caught.value.reason


def _expense(**extra: Any) -> fb.Expense:
    body = {
        "expenseid": 3,
        "amount": {"amount": "79.73", "code": "USD"},
        "date": "2019-04-24",
        "categoryid": 2003174,
        "staffid": 1,
        "clientid": 0,
        "projectid": 0,
        "vendor": " Shell ",
    }
    return fb.Expense.model_validate(body | extra)  # fmt: skip


@pytest.mark.parametrize(
    ("extra", "expected"),
    [({"notes": "Fuel. Paid with: cash"}, PaidWith.CASH),
     ({"notes": "Paid with: personal card."}, PaidWith.PERSONAL_CARD),
     ({"account_name": "Ramp Visa ••4417"}, PaidWith.COMPANY_CARD),
     ({"notes": "Paid with: cash", "account_name": "Ramp Visa"}, PaidWith.CASH),
     ({"notes": "fuel"}, PaidWith.UNKNOWN)],
)  # fmt: skip
def test_expense_payment_method_from_note_or_card_feed(
    extra: dict[str, Any], expected: PaidWith
) -> None:
    assert convert.expense(_expense(**extra)).paid_with is expected


def test_expense_zero_references_are_none() -> None:
    expense = convert.expense(_expense())
    assert (expense.client_id, expense.project_id, expense.staff_id) == (None, None, "1")
    assert expense.vendor_name == "Shell"
    assert expense.vis_state is VisState.ACTIVE


def test_card_transaction_prefers_minor_units_and_drops_undated_rows() -> None:
    wire = ramp.Transaction.model_validate({
        "id": "t1", "amount": Decimal("23.4"), "currency_code": "USD",
        "original_transaction_amount": {"amount": 2340, "currency_code": "USD"},
        "user_transaction_time": "2026-10-14T15:00:00Z", "merchant_name": "UBER *TRIP",
    })  # fmt: skip
    tx = convert.card_transaction(wire)
    assert tx is not None
    assert (tx.amount_minor, tx.transacted_on) == (2340, date(2026, 10, 14))
    undated = ramp.Transaction.model_validate({"id": "t2", "amount": Decimal(1)})
    assert convert.card_transaction(undated) is None


def test_ramp_bill_status() -> None:
    wire = ramp.Bill.model_validate({
        "id": "b", "amount": {"amount": 100, "currency_code": "EUR"}, "status": "PAID",
        "archived_at": "2026-01-01T00:00:00Z",
    })  # fmt: skip
    bill = convert.ramp_bill(wire)
    assert (bill.status, bill.archived, bill.currency) == (RampBillStatus.PAID, True, "EUR")


def test_affected_categories_include_every_descendant() -> None:
    cats = [Category(id="1", name="Travel"), Category(id="2", name="Air", parent_id="1"),
            Category(id="3", name="Seat", parent_id="2"), Category(id="4", name="Meals")]  # fmt: skip
    assert affected_categories("1", cats) == {"1", "2", "3"}
    assert affected_categories("4", cats) == {"4"}


def test_waiting_expenses_look_about_daily_and_within_their_attempts() -> None:
    assert wait_retry_after(date(2026, 10, 20), date(2026, 10, 15), 5) == 86400
    assert wait_retry_after(date(2026, 12, 30), date(2026, 10, 1), 90) == 15 * 86400
    assert stored_hash("sha256:" + "a" * 64) == "a" * 64
