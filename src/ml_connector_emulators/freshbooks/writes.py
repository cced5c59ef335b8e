"""Applying create/update bodies to records, with FreshBooks-style validation errors.

PUT is partial: only the keys given change (a bill's `lines`, when given, replace the
old lines). Validation failures are 422 with errno 1001 (required) or 1004 (invalid);
references to unknown vendors, bills or categories are errno 1012 with HTTP 422 on a write,
since the request itself was well-formed but points at nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

from ml_connector_emulators.freshbooks.errors import accounting_error, invalid, required
from ml_connector_emulators.freshbooks.formats import (
    BadValueError,
    parse_bool,
    parse_date,
    parse_decimal,
    parse_id,
    parse_int,
    parse_optional_id,
    parse_text,
    to_cents,
)
from ml_connector_emulators.freshbooks.records import (
    Bill,
    BillLine,
    BillPayment,
    Category,
    Expense,
    Tax,
    Vendor,
)

Body = Mapping[str, Any]


class Lookups(Protocol):
    """What validation needs to know about the rest of the account."""

    def next_id(self, kind: str) -> int: ...
    def vendor_exists(self, vendorid: int) -> bool: ...
    def category_exists(self, categoryid: int) -> bool: ...
    def top_level_category(self, categoryid: int) -> bool: ...
    def bill_outstanding(self, billid: int) -> tuple[Decimal, str] | None: ...


def _read(object_name: str, body: Body, name: str, parse: Callable[[Any], Any]) -> Any:
    try:
        return parse(body[name])
    except BadValueError as exc:
        raise invalid(object_name, name, body[name], str(exc)) from None


def _need(object_name: str, body: Body, name: str, parse: Callable[[Any], Any]) -> Any:
    if body.get(name) is None or body.get(name) == "":
        raise required(object_name, name)
    return _read(object_name, body, name, parse)


def _money_amount(value: Any) -> Decimal:
    if isinstance(value, Mapping):
        if "amount" not in value:
            raise BadValueError("money needs an amount")
        return parse_decimal(value["amount"])
    return parse_decimal(value)


def _money_code(value: Any, default: str) -> str:
    if isinstance(value, Mapping) and value.get("code"):
        return str(value["code"])
    return default


def _currency(value: Any) -> str:
    text = parse_text(value)
    if text is None or len(text) != 3 or not text.isalpha():
        raise BadValueError("expected an ISO 4217 currency code")
    return text.upper()


def _percent(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    result = parse_decimal(value)
    if result < 0 or result > 100:
        raise BadValueError("percent must be between 0 and 100")
    return result


def _non_negative_int(value: Any) -> int:
    result = parse_int(value)
    if result < 0:
        raise BadValueError("must not be negative")
    return result


@dataclass(frozen=True)
class FieldRule:
    parse: Callable[[Any], Any]
    attribute: str | None = None


def _apply(record: Any, object_name: str, body: Body, rules: Mapping[str, FieldRule]) -> None:
    for name, rule in rules.items():
        if name in body:
            setattr(record, rule.attribute or name, _read(object_name, body, name, rule.parse))


# --- bill vendors ------------------------------------------------------------

_VENDOR_TEXT = (
    "account_number",
    "primary_contact_email",
    "primary_contact_first_name",
    "primary_contact_last_name",
    "phone",
    "website",
    "street",
    "street2",
    "city",
    "province",
    "postal_code",
    "country",
    "note",
)
VENDOR_RULES: dict[str, FieldRule] = {name: FieldRule(parse_text) for name in _VENDOR_TEXT} | {
    "vendor_name": FieldRule(parse_text),
    "currency_code": FieldRule(_currency),
    "language": FieldRule(parse_text),
    "is_1099": FieldRule(parse_bool),
}


def new_vendor(body: Body, lookups: Lookups, now: datetime) -> Vendor:
    name = _need("bill_vendor", body, "vendor_name", parse_text)
    vendor = Vendor(id=lookups.next_id("bill_vendors"), vendor_name=name, created=now, updated=now)
    _apply(vendor, "bill_vendor", body, VENDOR_RULES)
    return vendor


def update_vendor(vendor: Vendor, body: Body, now: datetime) -> None:
    if "vendor_name" in body and not body["vendor_name"]:
        raise required("bill_vendor", "vendor_name")
    _apply(vendor, "bill_vendor", body, VENDOR_RULES)
    vendor.updated = now


# --- bills -----------------------------------------------------------------------


def _line(raw: Any, index: int, lookups: Lookups) -> BillLine:
    if not isinstance(raw, Mapping):
        raise invalid("bill", f"lines[{index}]", raw, "a line must be an object")
    categoryid = _need("bill_line", raw, "categoryid", parse_id)
    if not lookups.category_exists(categoryid):
        raise accounting_error(
            422,
            1012,
            "Category not found.",
            field="categoryid",
            object_name="category",
            value=categoryid,
        )
    unit_cost = _need("bill_line", raw, "unit_cost", _money_amount)
    quantity = _need("bill_line", raw, "quantity", parse_decimal)
    if quantity <= 0:
        raise invalid("bill_line", "quantity", quantity, "must be positive")
    line = BillLine(
        id=lookups.next_id("bill_lines"),
        categoryid=categoryid,
        description=_read("bill_line", raw, "description", parse_text)
        if "description" in raw
        else None,
        quantity=quantity,
        unit_cost=unit_cost,
    )
    _apply(line, "bill_line", raw, _LINE_RULES)
    if line.tax_percent1 is not None and not line.tax_name1:
        raise required("bill_line", "tax_name1")
    if line.tax_percent2 is not None and not line.tax_name2:
        raise required("bill_line", "tax_name2")
    return line


_LINE_RULES: dict[str, FieldRule] = {
    "tax_name1": FieldRule(parse_text),
    "tax_percent1": FieldRule(_percent),
    "tax_authorityid1": FieldRule(parse_text),
    "tax_name2": FieldRule(parse_text),
    "tax_percent2": FieldRule(_percent),
    "tax_authorityid2": FieldRule(parse_text),
    "compounded_tax": FieldRule(parse_bool),
}


def _lines(body: Body, lookups: Lookups) -> list[BillLine]:
    raw = body.get("lines")
    if not raw:
        raise required("bill", "lines")
    if not isinstance(raw, list):
        raise invalid("bill", "lines", raw, "lines must be a list")
    return [_line(item, index, lookups) for index, item in enumerate(raw)]


def _vendor_ref(body: Body, lookups: Lookups) -> int:
    vendorid: int = _need("bill", body, "vendorid", parse_id)
    if not lookups.vendor_exists(vendorid):
        raise accounting_error(
            422,
            1012,
            "Bill vendor not found.",
            field="vendorid",
            object_name="bill_vendor",
            value=vendorid,
        )
    return vendorid


_BILL_RULES: dict[str, FieldRule] = {
    "bill_number": FieldRule(parse_text),
    "issue_date": FieldRule(parse_date),
    "due_offset_days": FieldRule(_non_negative_int),
    "currency_code": FieldRule(_currency),
    "language": FieldRule(parse_text),
}


def new_bill(body: Body, lookups: Lookups, now: datetime) -> Bill:
    vendorid = _vendor_ref(body, lookups)
    issue_date: date = _need("bill", body, "issue_date", parse_date)
    due_offset_days: int = _need("bill", body, "due_offset_days", _non_negative_int)
    currency: str = _need("bill", body, "currency_code", _currency)
    lines = _lines(body, lookups)
    bill = Bill(
        id=lookups.next_id("bills"),
        vendorid=vendorid,
        issue_date=issue_date,
        due_offset_days=due_offset_days,
        currency_code=currency,
        created=now,
        updated=now,
        lines=lines,
    )
    _apply(bill, "bill", body, _BILL_RULES)
    return bill


def update_bill(bill: Bill, body: Body, lookups: Lookups, now: datetime) -> None:
    if "vendorid" in body:
        bill.vendorid = _vendor_ref(body, lookups)
    if "lines" in body:
        bill.lines = _lines(body, lookups)
    for name in ("issue_date", "due_offset_days", "currency_code"):
        if name in body and body[name] is None:
            raise required("bill", name)
    _apply(bill, "bill", body, _BILL_RULES)
    bill.updated = now


# --- bill payments ---------------------------------------------------------------

_PAYMENT_RULES: dict[str, FieldRule] = {
    "paid_date": FieldRule(parse_date),
    "payment_type": FieldRule(parse_text),
    "note": FieldRule(lambda v: parse_text(v) or ""),
}


def _checked_amount(body: Body, billid: int, lookups: Lookups, already: Decimal) -> Decimal:
    amount: Decimal = _need("bill_payment", body, "amount", _money_amount)
    if amount <= 0:
        raise invalid("bill_payment", "amount", amount, "must be positive")
    state = lookups.bill_outstanding(billid)
    if state is None:
        raise accounting_error(
            422, 1012, "Bill not found.", field="billid", object_name="bill", value=billid
        )
    outstanding, _ = state
    if to_cents(amount) > outstanding + already:
        raise invalid("bill_payment", "amount", amount, "exceeds the bill's outstanding amount")
    return to_cents(amount)


def new_payment(body: Body, lookups: Lookups, now: datetime) -> BillPayment:
    billid: int = _need("bill_payment", body, "billid", parse_id)
    amount = _checked_amount(body, billid, lookups, Decimal(0))
    state = lookups.bill_outstanding(billid)
    code = state[1] if state else "USD"
    payment = BillPayment(
        id=lookups.next_id("bill_payments"),
        billid=billid,
        amount=amount,
        code=_money_code(body.get("amount"), code),
        paid_date=_need("bill_payment", body, "paid_date", parse_date),
        payment_type=_need("bill_payment", body, "payment_type", parse_text),
        note="",
        created=now,
        updated=now,
    )
    _apply(payment, "bill_payment", body, {"note": _PAYMENT_RULES["note"]})
    return payment


def update_payment(payment: BillPayment, body: Body, lookups: Lookups, now: datetime) -> None:
    if "amount" in body:
        payment.amount = _checked_amount(body, payment.billid, lookups, payment.amount)
    _apply(payment, "bill_payment", body, _PAYMENT_RULES)
    payment.updated = now


# --- expenses --------------------------------------------------------------------

_EXPENSE_RULES: dict[str, FieldRule] = {
    "vendor": FieldRule(parse_text),
    "notes": FieldRule(parse_text),
    "date": FieldRule(parse_date),
    "staffid": FieldRule(parse_id),
    "clientid": FieldRule(lambda v: parse_optional_id(v) or 0),
    "projectid": FieldRule(lambda v: parse_optional_id(v) or 0),
    "markup_percent": FieldRule(lambda v: _percent(v) or Decimal(0)),
    "taxName1": FieldRule(parse_text, "tax_name1"),
    "taxPercent1": FieldRule(_percent, "tax_percent1"),
    "taxName2": FieldRule(parse_text, "tax_name2"),
    "taxPercent2": FieldRule(_percent, "tax_percent2"),
    "compounded_tax": FieldRule(parse_bool),
    "has_receipt": FieldRule(parse_bool),
    "include_receipt": FieldRule(parse_bool),
    "is_cogs": FieldRule(parse_bool),
    "billable": FieldRule(parse_bool),
    "account_name": FieldRule(lambda v: parse_text(v) or ""),
    "bank_name": FieldRule(lambda v: parse_text(v) or ""),
    "transactionid": FieldRule(parse_optional_id),
}


def _expense_taxes(expense: Expense, body: Body) -> None:
    """Explicit tax amounts win; otherwise derive them from the percent.

    FreshBooks' own capture (amount 79.73, 13 % → taxAmount 9.17) shows the expense
    amount is tax-inclusive: tax = amount × p / (100 + p).
    """
    for slot, amount_key in ((1, "taxAmount1"), (2, "taxAmount2")):
        percent = getattr(expense, f"tax_percent{slot}")
        if amount_key in body and body[amount_key] is not None:
            value = _read("expense", body, amount_key, _money_amount)
            setattr(expense, f"tax_amount{slot}", to_cents(value))
        elif percent is not None:
            setattr(
                expense, f"tax_amount{slot}", to_cents(expense.amount * percent / (100 + percent))
            )
        elif amount_key in body or f"taxPercent{slot}" in body:
            setattr(expense, f"tax_amount{slot}", None)


def _category_ref(object_name: str, body: Body, lookups: Lookups) -> int:
    categoryid: int = _need(object_name, body, "categoryid", parse_id)
    if not lookups.category_exists(categoryid):
        raise accounting_error(
            422,
            1012,
            "Category not found.",
            field="categoryid",
            object_name="category",
            value=categoryid,
        )
    return categoryid


def new_expense(body: Body, lookups: Lookups, now: datetime, default_staffid: int) -> Expense:
    categoryid = _category_ref("expense", body, lookups)
    amount: Decimal = _need("expense", body, "amount", _money_amount)
    expense = Expense(
        id=lookups.next_id("expenses"),
        categoryid=categoryid,
        amount=to_cents(amount),
        code=_money_code(body.get("amount"), "USD"),
        date=_need("expense", body, "date", parse_date),
        staffid=default_staffid,
        updated=now,
    )
    _apply(expense, "expense", body, _EXPENSE_RULES)
    _expense_taxes(expense, body)
    return expense


def update_expense(expense: Expense, body: Body, lookups: Lookups, now: datetime) -> None:
    if "categoryid" in body:
        expense.categoryid = _category_ref("expense", body, lookups)
    if "amount" in body:
        expense.amount = to_cents(_need("expense", body, "amount", _money_amount))
        expense.code = _money_code(body["amount"], expense.code)
    _apply(expense, "expense", body, _EXPENSE_RULES)
    if any(k in body for k in ("amount", "taxPercent1", "taxPercent2", "taxAmount1", "taxAmount2")):
        _expense_taxes(expense, body)
    expense.updated = now


# --- categories and taxes -------------------------------------------------------


def new_category(body: Body, lookups: Lookups, now: datetime) -> Category:
    name: str = _need("category", body, "category", parse_text)
    parentid: int = _need("category", body, "parentid", parse_id)
    if not lookups.top_level_category(parentid):
        raise invalid(
            "category", "parentid", parentid, "custom categories go under a top-level category"
        )
    return Category(
        id=lookups.next_id("categories"),
        name=name,
        parentid=parentid,
        is_cogs=_read("category", body, "is_cogs", parse_bool) if "is_cogs" in body else False,
        is_editable=True,
        created=now,
        updated=now,
    )


def update_category(category: Category, body: Body, now: datetime) -> None:
    if not category.is_editable:
        raise accounting_error(
            422,
            1004,
            "System categories cannot be edited.",
            field="categoryid",
            object_name="category",
            value=category.id,
        )
    if "category" in body:
        category.name = _need("category", body, "category", parse_text)
    category.updated = now


_TAX_RULES: dict[str, FieldRule] = {
    "name": FieldRule(parse_text),
    "amount": FieldRule(lambda v: _percent(v) or Decimal(0)),
    "number": FieldRule(parse_text),
    "compound": FieldRule(parse_bool),
}


def new_tax(body: Body, lookups: Lookups, now: datetime) -> Tax:
    tax = Tax(
        id=lookups.next_id("taxes"),
        name=_need("tax", body, "name", parse_text),
        amount=_need("tax", body, "amount", lambda v: _percent(v) or Decimal(0)),
        number=None,
        compound=False,
        updated=now,
    )
    _apply(tax, "tax", body, _TAX_RULES)
    return tax


def update_tax(tax: Tax, body: Body, now: datetime) -> None:
    _apply(tax, "tax", body, _TAX_RULES)
    tax.updated = now


__all__ = [
    "Lookups",
    "new_bill",
    "new_category",
    "new_expense",
    "new_payment",
    "new_tax",
    "new_vendor",
    "update_bill",
    "update_category",
    "update_expense",
    "update_payment",
    "update_tax",
    "update_vendor",
]
