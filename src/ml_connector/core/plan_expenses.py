"""Planner for FreshBooks expenses: code the matching Ramp card transaction, or follow policy.

Pure (see `plan` for the calling pattern). An expense paid by company card is matched to
its Ramp card transaction (`matching`); the transaction is then coded (``PATCH
/transactions/{id}`` line items: GL + cost centers) and given a memo pointing back to
FreshBooks (``POST /memos/{id}``). Both actions carry the same content hash; the engine
stores the link after both succeed. Cash, personal-card and bank expenses skip matching and
follow ``expenses.non_card``; card expenses with no transaction follow ``expenses.no_match``.
A manually paid bill is a Ramp bill with ``PAID_MANUALLY`` and the expense date.
"""

from __future__ import annotations

from typing import Any

from ml_connector.core.actions import (
    Action,
    CodeTransaction,
    CreateManualPaidBill,
    Review,
    SetMemo,
    Skip,
    Subject,
    UpdateBill,
    Wait,
)
from ml_connector.core.bill_lines import LINE_MEMO_LIMIT, clip, split_line
from ml_connector.core.coding import Coding, code_category, context_for
from ml_connector.core.hashing import content_hash
from ml_connector.core.matching import (
    MatchSettings,
    NoMatchPolicy,
    TxOutcome,
    decide_unmatched,
    match_expense,
)
from ml_connector.core.model import Expense, FreshBooksKind, Link, PaidWith, RampKind, VisState
from ml_connector.core.money import Money, to_minor_units, to_ramp_decimal, validate_money
from ml_connector.core.plan_context import (
    MEMO_LIMIT,
    TRANSACTION_MEMO_LIMIT,
    PlanContext,
    invoice_number_for,
    manual_method_for_expense,
)
from ml_connector.core.problems import Problem
from ml_connector.core.taxes import TaxTreatment
from ml_connector.core.vendors import MatchOutcome, match_vendor

__all__ = ["LOCKED_SYNC_STATUSES", "NON_CARD", "plan_expense"]

NON_CARD = frozenset({PaidWith.CASH, PaidWith.PERSONAL_CARD, PaidWith.BANK})
LOCKED_SYNC_STATUSES = frozenset({"SYNCED", "SYNC_READY"})
"""Ramp refuses coding changes (403) once a transaction is synced or ready to sync."""


def _review(subject: Subject, code: str, reason: str, **extra: Any) -> tuple[Action, ...]:
    return (Review(subject=subject, code=code, reason=reason, **extra),)


def plan_expense(  # noqa: PLR0911, PLR0912 - total function: one early return per documented rule
    expense: Expense, ctx: PlanContext, *, claimed: frozenset[str] = frozenset()
) -> tuple[Action, ...]:
    """Plan one FreshBooks expense.

    Args:
        expense: the FreshBooks expense.
        ctx: configuration, Ramp state (card transactions, vendors, GL, options), links, today.
        claimed: transaction ids taken by other expenses in the same run but not yet linked.
    """
    subject = Subject(FreshBooksKind.EXPENSE, expense.id)
    link = ctx.links.get(FreshBooksKind.EXPENSE, expense.id)
    if expense.vis_state is VisState.DELETED:
        if link is None:
            return (
                Skip(subject=subject, reason="deleted in FreshBooks before it was ever synced"),
            )
        return _review(
            subject, "expense.deleted_after_sync",
            f"deleted in FreshBooks after it was synced to Ramp {link.ramp_kind.value} "
            f"{link.ramp_id}; Ramp keeps its coding until someone changes it",
        )  # fmt: skip
    amount = validate_money(expense.amount, "amount")
    if isinstance(amount, Problem):
        return _review(subject, "expense.invalid", str(amount), problems=(amount,))
    if amount.amount < 0:
        return _review(subject, "expense.negative", f"the expense amount {amount} is negative")
    ctx_ = context_for(
        expense.category_id, ctx.categories, vendor_name=expense.vendor_name,
        staff_id=expense.staff_id, client_id=expense.client_id, project_id=expense.project_id,
    )  # fmt: skip
    coding, problems = code_category(expense.category_id, ctx_, ctx.setup, "category")
    if coding is None:
        return _review(
            subject, "expense.invalid", "; ".join(str(p) for p in problems), problems=problems
        )
    memo = clip(
        f"FreshBooks expense {expense.id}"
        + (f": {expense.notes}" if expense.notes.strip() else ""),
        TRANSACTION_MEMO_LIMIT,
    )
    if link is not None and link.ramp_kind is RampKind.TRANSACTION:
        return _code(
            expense,
            amount,
            coding=coding,
            memo=memo,
            transaction_id=link.ramp_id,
            ctx=ctx,
            subject=subject,
            link=link,
        )
    if link is not None and link.ramp_kind is RampKind.BILL:
        return _manual_bill(expense, amount, coding=coding, ctx=ctx, subject=subject, link=link)
    cfg = ctx.config.expenses
    if expense.paid_with in NON_CARD:
        why = (
            f"paid by {expense.paid_with.value.replace('_', ' ')}, so there is no Ramp card charge"
        )
        if cfg.non_card == "skip":
            return (Skip(subject=subject, reason=f"{why}; expenses.non_card is 'skip'"),)
        if cfg.non_card == "review":
            return _review(subject, "expense.non_card", f"{why}; expenses.non_card is 'review'")
        return _manual_bill(
            expense, amount, coding=coding, ctx=ctx, subject=subject, link=None, why=why
        )
    settings = MatchSettings(
        window_days=cfg.match_window_days,
        min_merchant_similarity=float(cfg.min_merchant_similarity),
        clear_margin=float(cfg.clear_margin),
        staff_users={s.staff_id: s.ramp_user_id for s in cfg.staff_card_holders} or None,
    )
    taken = ctx.links.ramp_ids(RampKind.TRANSACTION) | claimed
    match = match_expense(expense, ctx.ramp.transactions, settings, claimed=taken)
    if isinstance(match, Problem):
        return _review(subject, "expense.invalid", str(match), problems=(match,))
    if match.outcome is TxOutcome.MATCHED and match.transaction is not None:
        return _code(
            expense,
            amount,
            coding=coding,
            memo=memo,
            transaction_id=match.transaction.id,
            ctx=ctx,
            subject=subject,
            link=None,
            why=match.reason,
        )
    if match.outcome is TxOutcome.REVIEW:
        return _review(
            subject, match.code, match.reason,
            candidates=tuple(
                f"{c.transaction.id} {c.transaction.merchant_name} {c.transaction.transacted_on} "
                f"({c.components.describe()})"
                for c in match.candidates
            ),
        )  # fmt: skip
    decision = decide_unmatched(
        expense, ctx.today, NoMatchPolicy(cfg.no_match), wait_days=cfg.wait_days,
        after_wait=NoMatchPolicy(cfg.after_wait),
    )  # fmt: skip
    why = f"{match.reason}; {decision.reason}"
    if decision.policy is NoMatchPolicy.WAIT and decision.until is not None:
        return (Wait(subject=subject, reason=why, until=decision.until),)
    if decision.policy is NoMatchPolicy.MANUAL_BILL:
        return _manual_bill(
            expense, amount, coding=coding, ctx=ctx, subject=subject, link=None, why=why
        )
    return _review(subject, "expense.no_transaction", why)


def _code(
    expense: Expense,
    amount: Money,
    *,
    coding: Coding,
    memo: str,
    transaction_id: str,
    ctx: PlanContext,
    subject: Subject,
    link: Link | None,
    why: str = "",
) -> tuple[Action, ...]:
    decimal = to_ramp_decimal(amount)
    assert isinstance(decimal, str), "validated and non-negative above"
    line = {
        "amount": decimal,
        "memo": clip(
            expense.vendor_name or expense.notes or f"FreshBooks expense {expense.id}",
            LINE_MEMO_LIMIT,
        ),
        "accounting_field_selections": [
            {"field_external_id": f, "field_option_external_id": o}
            for f, o in coding.selections(ctx.setup.gl_field)
        ],
    }
    coding_payload = {"line_items": [line]}
    memo_payload = {"memo": memo}
    digest = content_hash(
        {"transaction_id": transaction_id, "coding": coding_payload, "memo": memo_payload}
    )
    if link is not None and link.content_hash == digest:
        return (
            Skip(subject=subject, reason=f"unchanged since transaction {transaction_id} was coded"),
        )
    tx = next((t for t in ctx.ramp.transactions if t.id == transaction_id), None)
    if tx is not None:
        if (tx.sync_status or "").upper() in LOCKED_SYNC_STATUSES:
            return _review(
                subject, "expense.transaction_locked",
                f"card transaction {transaction_id} is {tx.sync_status} in Ramp; its coding can no "
                "longer be changed by API — code it in Ramp or your ERP",
            )  # fmt: skip
        minor = to_minor_units(amount)
        if minor != tx.amount_minor or tx.currency != amount.currency:
            return _review(
                subject, "expense.amount_changed",
                f"the expense is now {amount} but card transaction {transaction_id} is "
                f"{tx.amount_minor} minor units of {tx.currency}; relink or fix the expense",
            )  # fmt: skip
    explanation = (*((f"match: {why}",) if why else ()), *coding.explain())
    verb = "code" if link is None else "re-code (changed in FreshBooks)"
    return (
        CodeTransaction(
            subject=subject, ramp_transaction_id=transaction_id, payload=coding_payload,
            content_hash=digest, explanation=explanation,
            reason=f"{verb} card transaction {transaction_id}",
        ),
        SetMemo(
            subject=subject, ramp_transaction_id=transaction_id, payload=memo_payload,
            content_hash=digest, reason=f"memo linking transaction {transaction_id} to FreshBooks",
        ),
    )  # fmt: skip


def _expense_taxes(expense: Expense, amount: Money) -> tuple[TaxTreatment, ...] | Problem:
    out: list[TaxTreatment] = []
    for position, tax in enumerate(expense.taxes, start=1):
        if tax.amount is None:
            if tax.percent is None or tax.percent == 0:
                continue
            return Problem(
                "tax.inclusive_without_amount",
                f"tax {tax.name or position!r} has a percentage but no amount; the expense amount "
                "includes tax, so it cannot be split exactly — use tax_policy 'fold_into_line'",
                f"tax{position}",
            )
        checked = validate_money(tax.amount, f"tax{position}")
        if isinstance(checked, Problem):
            return checked
        if checked.currency != amount.currency or checked.amount < 0:
            return Problem(
                "tax.malformed", f"tax {checked} does not fit the expense", f"tax{position}"
            )
        if checked.amount:
            out.append(
                TaxTreatment((tax.name or "").strip() or f"Tax {position}", tax.percent, checked)
            )
    return tuple(out)


def _manual_bill(  # noqa: PLR0911 - total function: each early return is one specific Problem
    expense: Expense,
    amount: Money,
    *,
    coding: Coding,
    ctx: PlanContext,
    subject: Subject,
    link: Link | None,
    why: str = "",
) -> tuple[Action, ...]:
    cfg = ctx.config
    match = match_vendor(
        expense.vendor_name or "", ctx.ramp.vendors,
        auto_threshold=float(cfg.vendors.auto_match_threshold),
        review_threshold=float(cfg.vendors.review_threshold),
    )  # fmt: skip
    vendor = match.vendor if match.outcome is MatchOutcome.MATCHED else None
    vendor_note = f"vendor: {match.reason} [rule {match.rule.value}]"
    if vendor is None and cfg.expenses.manual_bill_vendor is not None:
        vendor = ctx.ramp.vendor(cfg.expenses.manual_bill_vendor)
        vendor_note = f"vendor: {match.reason}; using expenses.manual_bill_vendor"
    if vendor is None or vendor.default_contact_id is None:
        return _review(
            subject, "expense.no_vendor",
            f"{why + '; ' if why else ''}a manually paid bill needs a Ramp vendor with a contact and "
            f"{expense.vendor_name!r} has none ({match.reason}); set expenses.manual_bill_vendor",
        )  # fmt: skip
    taxes = _expense_taxes(expense, amount) if ctx.setup.tax_policy.value == "separate_line" else ()
    if isinstance(taxes, Problem):
        return _review(subject, "expense.invalid", str(taxes), problems=(taxes,))
    base = Money(amount.amount - sum(t.amount.amount for t in taxes), amount.currency)
    if base.amount < 0:
        return _review(subject, "expense.invalid", f"taxes exceed the expense amount {amount}")
    description = expense.notes.strip() or expense.vendor_name or f"FreshBooks expense {expense.id}"
    lines = split_line(
        1,
        base,
        description=description,
        taxes=taxes,
        coding=coding,
        setup=ctx.setup,
        field="amount",
    )
    if isinstance(lines, Problem):
        return _review(subject, "expense.invalid", str(lines), problems=(lines,))
    number = invoice_number_for(None, f"FB-EXP-{expense.id}", "shorten")
    assert not isinstance(number, Problem), "shorten never fails"
    content: dict[str, Any] = {
        "vendor_id": vendor.id,
        "vendor_contact_id": vendor.default_contact_id,
        "entity_id": cfg.connection.ramp_entity_id,
        "invoice_number": number[0],
        "invoice_currency": amount.currency,
        "issued_at": expense.date.isoformat(),
        "due_at": expense.date.isoformat(),
        "memo": clip(f"FreshBooks expense {expense.id} · {description}", MEMO_LIMIT),
        "remote_id": ctx.ref("expense", expense.id),
        "line_items": [line.payload() for line in lines],
    }
    digest = content_hash(content)
    explanation = (
        *((why,) if why else ()),
        vendor_note,
        f"tax policy: {ctx.setup.tax_policy.value}",
        *(f"line: {'; '.join(line.explanation)}" for line in lines),
    )
    if link is not None:
        if link.content_hash == digest:
            return (
                Skip(
                    subject=subject,
                    reason=f"unchanged since manual bill {link.ramp_id} was created",
                ),
            )
        patch = {k: v for k, v in content.items() if k != "invoice_currency"}
        return (
            UpdateBill(
                subject=subject, ramp_bill_id=link.ramp_id, payload=patch, content=content,
                content_hash=digest, explanation=explanation,
                reason=f"changed in FreshBooks; update manual bill {link.ramp_id}",
            ),
        )  # fmt: skip
    method = manual_method_for_expense(expense.paid_with)
    payment = {
        "payment_method": "PAID_MANUALLY",
        "payment_details": {
            "manual_payment_method": method,
            "payment_date": expense.date.isoformat(),
        },
    }
    return (
        CreateManualPaidBill(
            subject=subject, payload={**content, **payment}, content=content, content_hash=digest,
            explanation=explanation,
            reason=f"record as a bill paid manually ({method})",
        ),
    )  # fmt: skip
