"""Wire models → the domain objects the mapping core plans with.

FreshBooks wire objects (`clients.freshbooks.models`) become `core.model` values; Ramp
wire objects become the pieces of `core.model.RampState`. The conversion is total:
values the core validates itself (money precision, currencies, dates) are carried as
they came, and what the core cannot even represent (an unknown bill status or
visibility state) raises `NeedsAttentionError` with the field and value named, so the
object is parked with a reason instead of being guessed at.
"""

from __future__ import annotations

import re
from decimal import Decimal

from ml_connector.clients.freshbooks import models as fb
from ml_connector.clients.ramp import models as ramp
from ml_connector.core.errors import NeedsAttentionError
from ml_connector.core.model import (
    Bill,
    BillLine,
    BillPayment,
    BillStatus,
    CardTransaction,
    Category,
    Expense,
    FieldOption,
    GLAccount,
    LineTax,
    PaidWith,
    RampBill,
    RampBillStatus,
    RampVendorRef,
    Vendor,
    VisState,
)
from ml_connector.core.money import Money, from_minor_units, to_minor_units
from ml_connector.core.problems import Problem

__all__ = [
    "bill",
    "card_transaction",
    "category",
    "expense",
    "field_option",
    "gl_account",
    "paid_with",
    "ramp_bill",
    "ramp_vendor",
    "vendor",
]


def _id(value: int | None) -> str | None:
    """FreshBooks uses 0 for "none" on optional references (client, project, staff)."""
    return None if value in (None, 0) else str(value)


def _vis_state(value: int, what: str) -> VisState:
    try:
        return VisState(value)
    except ValueError:
        raise NeedsAttentionError(
            f"{what} has vis_state {value!r}; FreshBooks defines 0 (active), 1 (deleted) "
            "and 2 (archived) only",
            code="freshbooks.unknown_vis_state",
        ) from None


def _money(value: fb.Money | None) -> Money | None:
    return None if value is None else Money(value.amount, value.code)


def _text(value: str | None) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def vendor(wire: fb.BillVendor) -> Vendor:
    """A FreshBooks bill vendor; the display name is kept exactly as entered."""
    return Vendor(
        id=str(wire.vendorid),
        name=wire.vendor_name,
        email=_text(wire.primary_contact_email),
        first_name=_text(wire.primary_contact_first_name),
        last_name=_text(wire.primary_contact_last_name),
        phone=_text(wire.phone),
        street=_text(wire.street),
        street2=_text(wire.street2),
        city=_text(wire.city),
        province=_text(wire.province),
        postal_code=_text(wire.postal_code),
        country=_text(wire.country),
        currency=_text(wire.currency_code),
        vis_state=_vis_state(wire.vis_state, f"FreshBooks vendor {wire.vendorid}"),
    )


def _tax(name: str | None, percent: Decimal | None, amount: fb.Money | None) -> LineTax | None:
    if not (name or percent or amount):
        return None
    return LineTax(name=name, percent=percent, amount=_money(amount))


def _line(position: int, wire: fb.BillLine) -> BillLine:
    taxes = tuple(
        t
        for t in (
            _tax(wire.tax_name1, wire.tax_percent1, wire.tax_amount1),
            _tax(wire.tax_name2, wire.tax_percent2, wire.tax_amount2),
        )
        if t is not None
    )
    category_id = wire.category_id
    return BillLine(
        index=wire.list_index or position,
        category_id=None if category_id is None else str(category_id),
        description=(wire.description or "").strip(),
        quantity=wire.quantity,
        unit_cost=_money(wire.unit_cost),
        amount=_money(wire.amount),
        taxes=taxes,
        compounded_tax=bool(getattr(wire, "compounded_tax", False)),
        id=None if wire.id is None else str(wire.id),
    )


def bill(wire: fb.Bill) -> Bill:
    """A FreshBooks bill with its lines and payments (deleted payments marked inactive)."""
    raw_status = (wire.status or "unpaid").strip().lower()
    try:
        status = BillStatus(raw_status)
    except ValueError:
        raise NeedsAttentionError(
            f"FreshBooks bill {wire.id} has status {wire.status!r}; expected one of "
            + ", ".join(s.value for s in BillStatus),
            code="freshbooks.unknown_bill_status",
        ) from None
    vendor_id = wire.vendor_id
    return Bill(
        id=str(wire.id),
        vendor_id=None if vendor_id is None else str(vendor_id),
        issue_date=wire.issue_date,
        due_offset_days=wire.due_offset_days,
        currency=wire.currency_code,
        lines=tuple(_line(i, line) for i, line in enumerate(wire.lines, start=1)),
        bill_number=wire.bill_number,
        status=status,
        payments=tuple(
            BillPayment(
                id=str(p.id),
                amount=Money(p.amount.amount, p.amount.code),
                paid_date=p.paid_date,
                payment_type=p.payment_type,
                active=p.vis_state == VisState.ACTIVE,
            )
            for p in wire.bill_payments
        ),
        total_amount=_money(wire.total_amount),
        vis_state=_vis_state(wire.vis_state, f"FreshBooks bill {wire.id}"),
    )


_PAID_WITH_NOTE = re.compile(r"paid\s+with\s*:\s*(?P<how>[a-z ]+?)\s*\.?\s*$", re.IGNORECASE)
_PAID_WITH_WORDS = {
    "company card": PaidWith.COMPANY_CARD,
    "corporate card": PaidWith.COMPANY_CARD,
    "card": PaidWith.COMPANY_CARD,
    "personal card": PaidWith.PERSONAL_CARD,
    "cash": PaidWith.CASH,
    "bank": PaidWith.BANK,
    "bank transfer": PaidWith.BANK,
}


def paid_with(wire: fb.Expense) -> PaidWith:
    """How an expense was paid, as far as FreshBooks records it.

    FreshBooks has no payment-method field on expenses. Two traces exist: an expense
    imported from a card feed carries the feed's `account_name`/`bank_name` (or a
    `transactionid`), and firms note it by hand ("Paid with: cash"). The note wins,
    because a person wrote it; without either trace the method is unknown and the
    expense is matched like a card expense.
    """
    note = _PAID_WITH_NOTE.search((wire.notes or "").strip())
    if note is not None:
        found = _PAID_WITH_WORDS.get(" ".join(note.group("how").lower().split()))
        if found is not None:
            return found
    extra = wire.model_extra or {}
    if wire.transactionid or _text(extra.get("account_name")) or _text(extra.get("bank_name")):
        return PaidWith.COMPANY_CARD
    return PaidWith.UNKNOWN


def expense(wire: fb.Expense) -> Expense:
    """A FreshBooks expense; its amount includes its taxes (see `core.model.Expense`)."""
    categoryid = wire.categoryid
    if categoryid is None and wire.category is not None:
        categoryid = wire.category.categoryid
    return Expense(
        id=str(wire.expenseid),
        amount=Money(wire.amount.amount, wire.amount.code),
        date=wire.date,
        category_id=_id(categoryid),
        vendor_name=_text(wire.vendor),
        notes=(wire.notes or "").strip(),
        staff_id=_id(wire.staffid),
        client_id=_id(wire.clientid),
        project_id=_id(wire.projectid),
        taxes=tuple(
            t
            for t in (
                _tax(wire.tax_name1, wire.tax_percent1, wire.tax_amount1),
                _tax(wire.tax_name2, wire.tax_percent2, wire.tax_amount2),
            )
            if t is not None
        ),
        paid_with=paid_with(wire),
        vis_state=_vis_state(wire.vis_state, f"FreshBooks expense {wire.expenseid}"),
    )


def category(wire: fb.Category) -> Category:
    return Category(
        id=str(wire.categoryid),
        name=wire.category,
        parent_id=_id(wire.parentid),
        active=wire.vis_state == VisState.ACTIVE,
    )


# --- Ramp ------------------------------------------------------------------------------


def ramp_vendor(wire: ramp.Vendor) -> RampVendorRef:
    return RampVendorRef(
        id=wire.id,
        name=wire.name,
        external_vendor_id=wire.external_vendor_id,
        contact_ids=tuple(wire.contacts),
        is_active=wire.is_active,
    )


def gl_account(wire: ramp.GLAccount) -> GLAccount | None:
    """None for an account without a remote id: nothing could code to it by our mapping."""
    if not wire.id:
        return None
    return GLAccount(
        id=wire.id,
        name=wire.name,
        code=wire.code,
        active=wire.is_active,
        ramp_id=wire.ramp_id,
        classification=wire.classification,
    )


def field_option(field_external_id: str, wire: ramp.FieldOption) -> FieldOption | None:
    if not wire.id:
        return None
    return FieldOption(
        field=field_external_id,
        id=wire.id,
        name=wire.display_name or wire.value,
        code=wire.code,
        active=wire.is_active,
    )


def _transaction_minor(wire: ramp.Transaction) -> tuple[int, str] | None:
    original = wire.original_transaction_amount
    if original is not None:
        return original.amount, original.currency_code
    if wire.amount is None or not wire.currency_code:
        return None
    minor = to_minor_units(Money(wire.amount, wire.currency_code))
    return None if isinstance(minor, Problem) else (minor, wire.currency_code)


def card_transaction(wire: ramp.Transaction) -> CardTransaction | None:
    """None when Ramp did not say how much or when: such a charge cannot be matched."""
    amount = _transaction_minor(wire)
    when = wire.user_transaction_time or wire.settlement_date
    if amount is None or when is None:
        return None
    holder = wire.card_holder
    name = " ".join(filter(None, (holder.first_name, holder.last_name))) if holder else ""
    if isinstance(from_minor_units(amount[0], amount[1]), Problem):
        return None
    return CardTransaction(
        id=wire.id,
        amount_minor=amount[0],
        currency=amount[1],
        transacted_on=when.date(),
        merchant_name=wire.merchant_name or "",
        card_holder_user_id=holder.user_id if holder else None,
        card_holder_name=name or None,
        state=(wire.state or "CLEARED").upper(),
        sync_status=wire.sync_status,
        memo=wire.memo,
    )


def ramp_bill(wire: ramp.Bill) -> RampBill:
    return RampBill(
        id=wire.id,
        status=RampBillStatus.PAID if wire.is_paid else RampBillStatus.OPEN,
        archived=wire.is_archived,
        currency=wire.amount.currency_code,
    )
