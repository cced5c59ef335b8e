"""Accounting coding: a category and its context → Ramp accounting-field selections.

Pure; no I/O. Combines the GL decision (`gl.resolve_gl`) and the cost-center decisions
(`cost_centers.assign_cost_centers`) into the ``accounting_field_selections`` Ramp takes
on bill lines and transaction lines, and keeps the reasons. `CodingSetup` is compiled
once per plan run from the flow configuration and the Ramp/FreshBooks reference data.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from ml_connector.core.cost_centers import (
    CodingContext,
    CostCenterDecision,
    CostCenterRule,
    assign_cost_centers,
)
from ml_connector.core.flow_config.models import FlowConfig
from ml_connector.core.gl import (
    GLDecision,
    GLMap,
    build_gl_map,
    category_path,
    find_gl_account,
    resolve_gl,
)
from ml_connector.core.model import Category, FieldOption, GLAccount, RampState
from ml_connector.core.problems import Problem
from ml_connector.core.taxes import TaxPolicy

__all__ = ["Coding", "CodingSetup", "code_category", "context_for", "tax_account"]

Selection = tuple[str, str]


@dataclass(frozen=True, slots=True)
class CodingSetup:
    """Everything coding needs, resolved once: mappings, rules, Ramp options."""

    gl: GLMap
    gl_field: str
    rules: tuple[CostCenterRule, ...]
    required_fields: tuple[str, ...]
    options: tuple[FieldOption, ...]
    tax_policy: TaxPolicy
    tax_accounts: Mapping[str, str]
    default_tax_account: str | None

    @classmethod
    def build(
        cls, config: FlowConfig, categories: Iterable[Category], ramp: RampState
    ) -> CodingSetup:
        gl = build_gl_map(
            [m.rule() for m in config.gl.mappings],
            categories,
            ramp.gl_accounts,
            config.gl.suspense_account,
        )
        return cls(
            gl=gl,
            gl_field=config.connection.gl_field,
            rules=tuple(r.rule() for r in config.cost_centers.rules),
            required_fields=config.cost_centers.required_fields,
            options=ramp.field_options,
            tax_policy=TaxPolicy(config.bills.tax_policy),
            tax_accounts=MappingProxyType(
                {t.tax.casefold(): t.gl_account for t in config.bills.tax_accounts}
            ),
            default_tax_account=config.bills.default_tax_gl_account,
        )


@dataclass(frozen=True, slots=True)
class Coding:
    """The selections for one line and why each was made."""

    gl: GLDecision
    cost_centers: tuple[CostCenterDecision, ...]

    def selections(self, gl_field: str) -> tuple[Selection, ...]:
        """(field_external_id, field_option_external_id) pairs: GL first, then cost centers."""
        return (
            (gl_field, self.gl.account.id),
            *((d.field, d.option.id) for d in self.cost_centers),
        )

    def explain(self) -> tuple[str, ...]:
        out = [f"GL [{self.gl.rule.value}]: {self.gl.reason}"]
        out.extend(
            f"{d.field} = {d.option.name!r} [rule {d.rule_index}: {d.description}; {d.matched_on}]"
            for d in self.cost_centers
        )
        return tuple(out)


def context_for(
    category_id: str | None,
    categories: Mapping[str, Category],
    *,
    vendor_id: str | None = None,
    vendor_name: str | None = None,
    staff_id: str | None = None,
    client_id: str | None = None,
    project_id: str | None = None,
) -> CodingContext:
    """The cost-center rule context, with the category's ancestors filled in."""
    ids = category_path(category_id, categories) if category_id else ()
    names = tuple(categories[i].name if i in categories else "" for i in ids)
    return CodingContext(
        category_ids=ids, category_names=names, vendor_id=vendor_id, vendor_name=vendor_name,
        staff_id=staff_id, client_id=client_id, project_id=project_id,
    )  # fmt: skip


def code_category(
    category_id: str | None, ctx: CodingContext, setup: CodingSetup, field: str | None = None
) -> tuple[Coding | None, tuple[Problem, ...]]:
    """GL + cost centers for one category in context; problems instead of guesses."""
    problems: list[Problem] = []
    gl = resolve_gl(category_id, setup.gl, field)
    if isinstance(gl, Problem):
        problems.append(gl)
    centers, center_problems = assign_cost_centers(
        ctx, setup.rules, setup.options, required_fields=setup.required_fields, field_path=field
    )
    problems.extend(center_problems)
    if problems or isinstance(gl, Problem):
        return None, tuple(problems)
    return Coding(gl, centers), ()


def tax_account(name: str, setup: CodingSetup, field: str | None = None) -> GLAccount | Problem:
    """The GL account a tax line is coded to (by tax name, else the default)."""
    ref = setup.tax_accounts.get(name.casefold(), setup.default_tax_account)
    if ref is None:
        return Problem(
            "tax.no_account",
            f"tax {name!r} must go on its own line but no tax GL account is configured "
            "(bills.tax_accounts or bills.default_tax_gl_account)",
            field,
        )
    account = find_gl_account(ref, setup.gl.accounts)
    if account is None:
        return Problem("tax.account_missing", f"tax GL account {ref!r} is not in Ramp", field)
    if not account.active:
        return Problem("tax.account_inactive", f"tax GL account {ref!r} is inactive in Ramp", field)
    return account
