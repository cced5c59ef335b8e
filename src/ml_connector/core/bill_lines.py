"""FreshBooks bill lines (and their taxes) → Ramp bill lines with exact amounts and coding.

Pure; no I/O. Checks, each a `Problem` when it fails (the bill then goes to review with
all of them, never half-written):

* every line amount is exact in the bill's currency (``1234.565 USD`` is refused);
* FreshBooks' line amount equals quantity × unit cost when both are given;
* taxes are exact and in the bill's currency (see `taxes`);
* every line (and tax line) codes to an active GL account and valid cost centers;
* the Ramp lines sum exactly to the FreshBooks bill total, when FreshBooks gives one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation, localcontext
from typing import Any

from ml_connector.core.coding import Coding, CodingSetup, code_category, context_for, tax_account
from ml_connector.core.model import Bill, BillLine, Category
from ml_connector.core.money import Money, sum_money, to_ramp_decimal, validate_money
from ml_connector.core.problems import Problem
from ml_connector.core.taxes import TaxPolicy, TaxTreatment, line_taxes

__all__ = ["LINE_MEMO_LIMIT", "PlannedLine", "clip", "item_amount", "plan_bill_lines", "split_line"]

LINE_MEMO_LIMIT = 255
"""Ramp documents no limit for line memos; transaction memos stop at 255, so we do too."""


def clip(text: str, limit: int) -> str:
    """`text` shortened to `limit` characters with an ellipsis (memos only, never amounts)."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


@dataclass(frozen=True, slots=True)
class PlannedLine:
    """One Ramp bill line, and where it came from."""

    amount: Money
    memo: str
    selections: tuple[tuple[str, str], ...]
    source: int
    is_tax: bool
    explanation: tuple[str, ...]

    def payload(self) -> dict[str, Any]:
        """The ``line_items[]`` element Ramp takes (amount as an exact decimal string)."""
        amount = to_ramp_decimal(self.amount)
        assert isinstance(amount, str), "amounts are validated before lines are planned"
        out: dict[str, Any] = {"amount": amount, "memo": self.memo}
        out["accounting_field_selections"] = [
            {"field_external_id": f, "field_option_external_id": o} for f, o in self.selections
        ]
        return out


def item_amount(line: BillLine, currency: str, field: str) -> Money | Problem:  # noqa: PLR0911 - total function: each early return is one specific Problem
    """The line's amount before tax, exact in `currency`."""
    computed: Money | Problem | None = None
    if line.unit_cost is not None:
        cost = validate_money(line.unit_cost, f"{field}.unit_cost")
        if isinstance(cost, Problem):
            return cost
        if cost.currency != currency:
            return Problem(
                "bill.currency_mismatch",
                f"unit cost is in {cost.currency} but the bill is in {currency}",
                f"{field}.unit_cost",
            )
        qty = line.quantity
        if not isinstance(qty, Decimal) or not qty.is_finite() or qty < 0:
            return Problem("bill.bad_quantity", f"quantity {qty!r} is not a usable number", field)
        with localcontext() as ctx:
            ctx.prec = 60
            try:
                product = qty * cost.amount
            except InvalidOperation:
                return Problem("bill.bad_quantity", f"quantity {qty} × {cost} overflows", field)
        computed = validate_money(Money(product, currency), f"{field}.amount")
    if line.amount is not None:
        amount = validate_money(line.amount, f"{field}.amount")
        if isinstance(amount, Problem):
            return amount
        if amount.currency != currency:
            return Problem(
                "bill.currency_mismatch",
                f"line amount is in {amount.currency} but the bill is in {currency}",
                f"{field}.amount",
            )
        if isinstance(computed, Money) and computed.amount != amount.amount:
            return Problem(
                "bill.line_amount_mismatch",
                f"FreshBooks says the line is {amount} but {line.quantity} × "
                f"{line.unit_cost} = {computed}",
                field,
            )
        return amount
    if computed is None:
        return Problem(
            "bill.line_no_amount", "the line has neither an amount nor a unit cost", field
        )
    return computed


def split_line(
    source: int,
    base: Money,
    *,
    description: str,
    taxes: tuple[TaxTreatment, ...],
    coding: Coding,
    setup: CodingSetup,
    field: str,
) -> tuple[PlannedLine, ...] | Problem:
    """One FreshBooks line's Ramp lines under the tax policy."""
    explained = coding.explain()
    selections = coding.selections(setup.gl_field)
    if setup.tax_policy is TaxPolicy.FOLD_INTO_LINE or not taxes:
        gross = Money(base.amount + sum(t.amount.amount for t in taxes), base.currency)
        notes = tuple(f"includes {t.describe()} [tax policy fold_into_line]" for t in taxes)
        return (
            PlannedLine(
                gross,
                clip(description, LINE_MEMO_LIMIT),
                selections,
                source,
                False,
                explained + notes,
            ),
        )
    lines = [
        PlannedLine(base, clip(description, LINE_MEMO_LIMIT), selections, source, False, explained)
    ]
    centers = selections[1:]
    for tax in taxes:
        account = tax_account(tax.name, setup, field)
        if isinstance(account, Problem):
            return account
        memo = clip(f"{tax.name} on line {source}: {description}", LINE_MEMO_LIMIT)
        note = (
            f"{tax.describe()} as its own line coded to {account.code or account.id} "
            f"{account.name!r} [tax policy separate_line]",
        )
        lines.append(
            PlannedLine(
                tax.amount, memo, ((setup.gl_field, account.id), *centers), source, True, note
            )
        )
    return tuple(lines)


def plan_bill_lines(  # noqa: PLR0912 - one branch per documented rule, read top to bottom
    bill: Bill,
    setup: CodingSetup,
    categories: Mapping[str, Category],
    *,
    vendor_name: str | None,
) -> tuple[PlannedLine, ...] | tuple[Problem, ...]:
    """All Ramp lines of a bill, or every problem found (never a partial bill)."""
    problems: list[Problem] = []
    planned: list[PlannedLine] = []
    if not bill.lines:
        return (Problem("bill.no_lines", "the bill has no lines", "lines"),)
    for position, line in enumerate(sorted(bill.lines, key=lambda ln: ln.index), start=1):
        field = f"lines[{position}]"
        base = item_amount(line, bill.currency, field)
        if isinstance(base, Problem):
            problems.append(base)
            continue
        taxes = line_taxes(line.taxes, base, compounded=line.compounded_tax, field=field)
        if isinstance(taxes, Problem):
            problems.append(taxes)
            continue
        ctx = context_for(
            line.category_id, categories, vendor_id=bill.vendor_id, vendor_name=vendor_name
        )
        coding, coding_problems = code_category(line.category_id, ctx, setup, field)
        problems.extend(coding_problems)
        if coding is None:
            continue
        description = line.description or f"Line {position}"
        lines = split_line(
            position,
            base,
            description=description,
            taxes=taxes,
            coding=coding,
            setup=setup,
            field=field,
        )
        if isinstance(lines, Problem):
            problems.append(lines)
            continue
        for planned_line in lines:
            if planned_line.amount.amount < 0:
                problems.append(
                    Problem(
                        "bill.negative_line",
                        f"{planned_line.amount} is negative; Ramp bill lines cannot be "
                        "(enter discounts as a vendor credit in Ramp)",
                        field,
                    )
                )
        planned.extend(lines)
    if problems:
        return tuple(problems)
    total = sum_money((p.amount for p in planned), bill.currency, "total_amount")
    if isinstance(total, Problem):
        return (total,)
    if bill.total_amount is not None:
        expected = validate_money(bill.total_amount, "total_amount")
        if isinstance(expected, Problem):
            return (expected,)
        if expected != total:
            return (
                Problem(
                    "bill.total_mismatch",
                    f"the Ramp lines would sum to {total} but the FreshBooks bill total is "
                    f"{expected}; the bill is not sent until they agree",
                    "total_amount",
                ),
            )
    return tuple(planned)
