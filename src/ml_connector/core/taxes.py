"""FreshBooks line taxes, and how they become Ramp bill lines.

Pure; no I/O. A FreshBooks bill line carries up to two taxes (name, percent, amount).
Ramp bills have no tax fields, so the connection's policy decides:

* ``separate_line`` — each tax becomes its own Ramp line coded to a tax GL account
  (configured per tax name, or a default), carrying the same cost-center coding as the
  line it came from, so the expense and the tax stay separately reportable.
* ``fold_into_line`` — the tax is added into the line's amount (gross coding).

The tax amount FreshBooks reports is used as is. Only when FreshBooks gives a percentage
without an amount is the tax computed (half-up to the currency's places), and the plan
says so, with the exact figure.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from ml_connector.core.model import LineTax
from ml_connector.core.money import Money, percent_of, validate_money
from ml_connector.core.problems import Problem

__all__ = ["TaxPolicy", "TaxTreatment", "line_taxes"]


class TaxPolicy(StrEnum):
    SEPARATE_LINE = "separate_line"
    FOLD_INTO_LINE = "fold_into_line"


@dataclass(frozen=True, slots=True)
class TaxTreatment:
    """One tax on one line: its amount and where the amount came from."""

    name: str
    percent: Decimal | None
    amount: Money
    computed: bool = False
    exact: Decimal | None = None

    def describe(self) -> str:
        pct = f" {format(self.percent, 'f')}%" if self.percent is not None else ""
        if self.computed:
            rounded = (
                ""
                if self.exact == self.amount.amount
                else f", exactly {self.exact}, rounded half-up"
            )
            return f"{self.name}{pct} = {self.amount} (computed from the percentage{rounded})"
        return f"{self.name}{pct} = {self.amount}"


def line_taxes(
    taxes: tuple[LineTax, ...],
    base: Money,
    *,
    compounded: bool = False,
    field: str | None = None,
) -> tuple[TaxTreatment, ...] | Problem:
    """The taxes of one line as exact amounts in the line's currency (zero taxes dropped).

    `base` is the line amount before tax. With `compounded`, the second tax applies to the
    base plus the first tax (FreshBooks' ``compounded_tax``) when it must be computed.
    """
    out: list[TaxTreatment] = []
    running = base
    for position, tax in enumerate(taxes, start=1):
        where = f"{field}.tax{position}" if field else f"tax{position}"
        if tax.name is None and tax.percent is None and tax.amount is None:
            continue
        name = (tax.name or "").strip() or f"Tax {position}"
        if tax.amount is not None:
            amount = validate_money(tax.amount, where)
            if isinstance(amount, Problem):
                return amount
            if amount.currency != base.currency:
                return Problem(
                    "tax.currency_mismatch",
                    f"{name} is in {amount.currency} but the line is in {base.currency}",
                    where,
                )
            treatment = TaxTreatment(name, tax.percent, amount)
        elif tax.percent is not None:
            on = running if compounded and position > 1 else base
            computed = percent_of(on, tax.percent, where)
            if isinstance(computed, Problem):
                return computed
            treatment = TaxTreatment(name, tax.percent, computed.value, True, computed.exact)
        else:
            return Problem(
                "tax.incomplete", f"tax {name!r} has neither a percentage nor an amount", where
            )
        if treatment.amount.amount < 0:
            return Problem("tax.negative", f"{name} is negative ({treatment.amount})", where)
        running = Money(running.amount + treatment.amount.amount, base.currency)
        if treatment.amount.amount != 0:
            out.append(treatment)
    return tuple(out)
