"""Cost centers: ordered rules choose a Ramp accounting-field option for a line.

Pure; no I/O. A rule names the accounting field it sets (a department field, a cost
center field…), the option, and conditions on the FreshBooks category (or any of its
ancestors; by id or name), vendor (id or name), staff, client or project id. Conditions
of different kinds must all hold; values within one kind are alternatives; a rule with
no conditions always fires (a default). For each field the **first** rule that fires
wins, and the decision records its 1-based index and description.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ml_connector.core.model import FieldOption
from ml_connector.core.problems import Problem
from ml_connector.core.vendors import canonical_vendor_key

__all__ = [
    "CodingContext",
    "CostCenterDecision",
    "CostCenterRule",
    "assign_cost_centers",
    "find_option",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class CostCenterRule:
    """One rule. Empty condition tuples mean "any"."""

    description: str
    field: str
    option: str
    categories: tuple[str, ...] = ()
    vendors: tuple[str, ...] = ()
    staff: tuple[str, ...] = ()
    clients: tuple[str, ...] = ()
    projects: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class CodingContext:
    """What the rules can look at for one line or expense.

    `category_ids` / `category_names` list the category first, then its ancestors.
    """

    category_ids: tuple[str, ...] = ()
    category_names: tuple[str, ...] = ()
    vendor_id: str | None = None
    vendor_name: str | None = None
    staff_id: str | None = None
    client_id: str | None = None
    project_id: str | None = None


@dataclass(frozen=True, slots=True)
class CostCenterDecision:
    """The option chosen for one field, and the rule that fired."""

    field: str
    option: FieldOption
    rule_index: int
    description: str
    matched_on: str


def find_option(field: str, ref: str, options: Iterable[FieldOption]) -> FieldOption | None:
    """The option of `field` whose id is `ref`, else whose code, else whose name is `ref`."""
    pool = [o for o in options if o.field == field]
    for attr in ("id", "code", "name"):
        hit = next((o for o in pool if getattr(o, attr) == ref), None)
        if hit is not None:
            return hit
    return None


def _fires(rule: CostCenterRule, ctx: CodingContext) -> str | None:
    """Why `rule` fires for `ctx` ("any" for a default), or None when it does not."""
    why: list[str] = []
    if rule.categories:
        wanted = {c.casefold() for c in rule.categories}
        pairs = zip(ctx.category_ids, ctx.category_names, strict=False)
        hit = next((n for i, n in pairs if i.casefold() in wanted or n.casefold() in wanted), None)
        if hit is None:
            return None
        why.append(f"category {hit!r}")
    if rule.vendors:
        keys = {canonical_vendor_key(v) for v in rule.vendors} - {""}
        by_id = ctx.vendor_id is not None and ctx.vendor_id in rule.vendors
        by_name = canonical_vendor_key(ctx.vendor_name) in keys if ctx.vendor_name else False
        if not (by_id or by_name):
            return None
        why.append(f"vendor {ctx.vendor_name or ctx.vendor_id!r}")
    for label, wanted_ids, value in (
        ("staff", rule.staff, ctx.staff_id),
        ("client", rule.clients, ctx.client_id),
        ("project", rule.projects, ctx.project_id),
    ):
        if wanted_ids:
            if value is None or value not in wanted_ids:
                return None
            why.append(f"{label} {value}")
    return " and ".join(why) if why else "any (default rule)"


def assign_cost_centers(
    ctx: CodingContext,
    rules: Sequence[CostCenterRule],
    options: Iterable[FieldOption],
    *,
    required_fields: Sequence[str] = (),
    field_path: str | None = None,
) -> tuple[tuple[CostCenterDecision, ...], tuple[Problem, ...]]:
    """First firing rule per field → its option; problems for broken or missing coding.

    Returns decisions in rule order and problems (an option that is missing or inactive in
    Ramp; a required field that no rule set).
    """
    pool = tuple(options)
    decided: dict[str, CostCenterDecision] = {}
    problems: list[Problem] = []
    for index, rule in enumerate(rules, start=1):
        if rule.field in decided:
            continue
        why = _fires(rule, ctx)
        if why is None:
            continue
        option = find_option(rule.field, rule.option, pool)
        label = f"rule {index} ({rule.description})"
        if option is None:
            problems.append(
                Problem(
                    "cost_center.option_missing",
                    f"{label} sets {rule.field} to {rule.option!r}, which Ramp does not have",
                    field_path,
                )
            )
            decided[rule.field] = _BLOCKED
            continue
        if not option.active:
            problems.append(
                Problem(
                    "cost_center.option_inactive",
                    f"{label} sets {rule.field} to {option.name!r}, which is inactive in Ramp",
                    field_path,
                )
            )
            decided[rule.field] = _BLOCKED
            continue
        decided[rule.field] = CostCenterDecision(rule.field, option, index, rule.description, why)
    for name in required_fields:
        if name not in decided:
            problems.append(
                Problem(
                    "cost_center.required",
                    f"{name} is required but no cost-center rule applies",
                    field_path,
                )
            )
    decisions = tuple(d for d in decided.values() if d is not _BLOCKED)
    return tuple(sorted(decisions, key=lambda d: d.rule_index)), tuple(problems)


_BLOCKED = CostCenterDecision("", FieldOption(field="", id="", name=""), 0, "", "")
"""Marks a field whose first firing rule was broken: later rules must not paper over it."""
