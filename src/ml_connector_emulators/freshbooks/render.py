"""Internal records → the JSON objects FreshBooks returns, quirks included.

Quirks reproduced: bill/vendor timestamps in UTC but expense/category/tax ones in
US/Eastern; bill line `quantity` and percentages as strings; ids as ints; money as
`{"amount": "12.30", "code": "USD"}`; vendor balances as arrays per currency; lines
carry a nested `category` object and no flat `categoryid`; expense taxes in camelCase.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from ml_connector_emulators.freshbooks.bill_math import VendorBalances, bill_totals, line_totals
from ml_connector_emulators.freshbooks.formats import (
    decimal_text,
    eastern_stamp,
    money,
    utc_stamp,
)
from ml_connector_emulators.freshbooks.records import (
    ACTIVE,
    Bill,
    BillPayment,
    Category,
    Expense,
    Staff,
    Tax,
    Vendor,
)

Wire = dict[str, Any]


def _pct(value: Decimal | None) -> str | None:
    return None if value is None else decimal_text(value)


def category(record: Category) -> Wire:
    return {
        "category": record.name,
        "categoryid": record.id,
        "id": record.id,
        "parentid": record.parentid,
        "is_cogs": record.is_cogs,
        "is_editable": record.is_editable,
        "transaction_posted": False,
        "created_at": eastern_stamp(record.created),
        "updated_at": eastern_stamp(record.updated),
        "vis_state": record.vis_state,
    }


def tax(record: Tax, accounting_systemid: str) -> Wire:
    return {
        "taxid": record.id,
        "id": record.id,
        "name": record.name,
        "amount": decimal_text(record.amount),
        "number": record.number,
        "compound": record.compound,
        "accounting_systemid": accounting_systemid,
        "updated": eastern_stamp(record.updated),
    }


def staff(record: Staff, accounting_systemid: str) -> Wire:
    return {
        "id": record.id,
        "userid": record.id,
        "fname": record.first_name,
        "lname": record.last_name,
        "first_name": record.first_name,
        "last_name": record.last_name,
        "email": record.email,
        "username": record.email,
        "accounting_systemid": accounting_systemid,
        "signup_date": utc_stamp(record.created),
        "updated": eastern_stamp(record.updated),
        "vis_state": record.vis_state,
    }


def payment(record: BillPayment) -> Wire:
    return {
        "id": record.id,
        "billid": record.billid,
        "amount": money(record.amount, record.code),
        "paid_date": record.paid_date.isoformat(),
        "payment_type": record.payment_type,
        "note": record.note,
        "matched_with_expense": False,
        "vis_state": record.vis_state,
    }


def vendor(record: Vendor, balances: VendorBalances) -> Wire:
    return {
        "vendorid": record.id,
        "vendor_name": record.vendor_name,
        "account_number": record.account_number,
        "primary_contact_email": record.primary_contact_email,
        "primary_contact_first_name": record.primary_contact_first_name,
        "primary_contact_last_name": record.primary_contact_last_name,
        "phone": record.phone,
        "website": record.website,
        "street": record.street,
        "street2": record.street2,
        "city": record.city,
        "province": record.province,
        "postal_code": record.postal_code,
        "country": record.country,
        "currency_code": record.currency_code,
        "language": record.language,
        "is_1099": record.is_1099,
        "note": record.note,
        "outstanding_balance": [
            {"amount": money(amount, code)} for code, amount in sorted(balances.outstanding.items())
        ],
        "overdue_balance": [
            {"amount": money(amount, code)} for code, amount in sorted(balances.overdue.items())
        ],
        "tax_defaults": [
            {
                "taxid": default.taxid,
                "system_taxid": default.system_taxid,
                "name": default.name,
                "amount": decimal_text(default.amount),
                "enabled": default.enabled,
                "tax_authorityid": None,
                "vendorid": record.id,
                "created_at": utc_stamp(default.created),
                "updated_at": utc_stamp(default.updated),
            }
            for default in record.tax_defaults
        ],
        "created_at": utc_stamp(record.created),
        "updated_at": utc_stamp(record.updated),
        "vis_state": record.vis_state,
    }


def bill(
    record: Bill,
    payments: list[BillPayment],
    categories: Mapping[int, Category],
    today: date,
) -> Wire:
    totals = bill_totals(record, payments, today)
    code = record.currency_code
    lines = []
    for index, line in enumerate(record.lines, start=1):
        amounts = line_totals(line)
        cat = categories.get(line.categoryid)
        lines.append(
            {
                "id": line.id,
                "list_index": index,
                "description": line.description,
                "quantity": decimal_text(line.quantity),
                "unit_cost": money(line.unit_cost, code),
                "amount": money(amounts.amount, code),
                "total_amount": money(amounts.total, code),
                "category": category(cat) if cat else None,
                "tax_name1": line.tax_name1,
                "tax_percent1": _pct(line.tax_percent1),
                "tax_amount1": money(amounts.tax1, code) if amounts.tax1 is not None else None,
                "tax_authorityid1": line.tax_authorityid1,
                "tax_name2": line.tax_name2,
                "tax_percent2": _pct(line.tax_percent2),
                "tax_amount2": money(amounts.tax2, code) if amounts.tax2 is not None else None,
                "tax_authorityid2": line.tax_authorityid2,
                "compounded_tax": line.compounded_tax,
            }
        )
    first = record.lines[0] if record.lines else None
    first_category = categories.get(first.categoryid) if first else None
    return {
        "id": record.id,
        "vendorid": record.vendorid,
        "bill_number": record.bill_number,
        "issue_date": record.issue_date.isoformat(),
        "due_offset_days": record.due_offset_days,
        "due_date": totals.due_date.isoformat(),
        "currency_code": code,
        "language": record.language,
        "status": totals.status,
        "amount": money(totals.amount, code),
        "tax_amount": money(totals.tax_amount, code),
        "total_amount": money(totals.total_amount, code),
        "outstanding": money(totals.outstanding, code),
        "paid": money(totals.paid, code),
        "overall_category": first_category.name if first_category else None,
        "overall_description": first.description if first else None,
        "attachment": None,
        "bill_payments": [payment(p) for p in payments if p.vis_state == ACTIVE],
        "lines": lines,
        "created_at": utc_stamp(record.created),
        "updated_at": utc_stamp(record.updated),
        "vis_state": record.vis_state,
    }


def expense(record: Expense, accounting_systemid: str) -> Wire:
    code = record.code
    return {
        "expenseid": record.id,
        "id": record.id,
        "categoryid": record.categoryid,
        "vendor": record.vendor,
        "amount": money(record.amount, code),
        "date": record.date.isoformat(),
        "notes": record.notes,
        "staffid": record.staffid,
        "clientid": record.clientid,
        "projectid": record.projectid,
        "invoiceid": None,
        "status": 1 if record.clientid and record.billable else 0,
        "markup_percent": decimal_text(record.markup_percent),
        "compounded_tax": record.compounded_tax,
        "taxName1": record.tax_name1,
        "taxPercent1": _pct(record.tax_percent1),
        "taxAmount1": money(record.tax_amount1, code) if record.tax_amount1 is not None else None,
        "taxName2": record.tax_name2,
        "taxPercent2": _pct(record.tax_percent2),
        "taxAmount2": money(record.tax_amount2, code) if record.tax_amount2 is not None else None,
        "has_receipt": record.has_receipt,
        "include_receipt": record.include_receipt,
        "is_cogs": record.is_cogs,
        "isduplicate": False,
        "from_bulk_import": False,
        "billable": record.billable,
        "bill_matches": [],
        "profileid": None,
        "transactionid": record.transactionid,
        "account_name": record.account_name,
        "accountid": None,
        "accounting_systemid": accounting_systemid,
        "bank_name": record.bank_name,
        "background_jobid": None,
        "ext_invoiceid": 0,
        "ext_systemid": 0,
        "updated": eastern_stamp(record.updated),
        "vis_state": record.vis_state,
    }


__all__ = ["Wire", "bill", "category", "expense", "payment", "staff", "tax", "vendor"]
