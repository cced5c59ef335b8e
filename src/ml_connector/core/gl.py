"""Expense category → Ramp GL account: resolution, suggestions and a coverage report.

Pure; no I/O. Resolution rules, in order (the decision records which one applied):

1. ``explicit`` — the category has a mapping.
2. ``parent_fallback`` — the nearest ancestor category with a mapping.
3. ``suspense`` — the suspense account, only if the user opted in by configuring one.

Otherwise the line cannot be coded and the bill waits with the reason. A mapping that
points at a missing or inactive GL account is a Problem, never silently skipped over:
the user asked for that account, so falling back would hide their mistake.
Mappings name a category by id or by name, and a GL account by its remote id or code.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from rapidfuzz import fuzz

from ml_connector.core.model import Category, GLAccount
from ml_connector.core.problems import Problem

__all__ = [
    "CategoryMappingRule",
    "CoverageReport",
    "GLDecision",
    "GLMap",
    "GLRule",
    "GLSuggestion",
    "build_gl_map",
    "category_path",
    "coverage_report",
    "find_gl_account",
    "render_coverage_report",
    "resolve_gl",
    "suggest_gl_accounts",
]

_MAX_DEPTH = 32


class GLRule(StrEnum):
    EXPLICIT = "explicit"
    PARENT_FALLBACK = "parent_fallback"
    SUSPENSE = "suspense"


@dataclass(frozen=True, slots=True)
class CategoryMappingRule:
    """One configured mapping: a category (by id or name) → a GL account (id or code)."""

    gl_account: str
    category_id: str | None = None
    category_name: str | None = None

    @property
    def label(self) -> str:
        return self.category_name if self.category_name is not None else f"#{self.category_id}"


@dataclass(frozen=True, slots=True)
class GLMap:
    """Mappings resolved against the FreshBooks categories and Ramp GL accounts."""

    explicit: Mapping[str, str]
    categories: Mapping[str, Category]
    accounts: tuple[GLAccount, ...]
    suspense: str | None
    unresolved: tuple[CategoryMappingRule, ...] = ()
    duplicates: tuple[CategoryMappingRule, ...] = ()


@dataclass(frozen=True, slots=True)
class GLDecision:
    """The GL account a category codes to, the rule that chose it and the reason."""

    account: GLAccount
    rule: GLRule
    category_id: str
    via_category_id: str | None
    reason: str


def find_gl_account(ref: str, accounts: Iterable[GLAccount]) -> GLAccount | None:
    """The account whose remote id is `ref`, else the one whose code is `ref`."""
    pool = tuple(accounts)
    by_id = next((a for a in pool if a.id == ref), None)
    return by_id or next((a for a in pool if a.code is not None and a.code == ref), None)


def _name_key(name: str) -> str:
    return " ".join(name.casefold().split())


def build_gl_map(
    rules: Sequence[CategoryMappingRule],
    categories: Iterable[Category],
    accounts: Iterable[GLAccount],
    suspense: str | None = None,
) -> GLMap:
    """Resolve configured mappings to category ids (first mapping for a category wins)."""
    cats = {c.id: c for c in categories}
    by_name: dict[str, list[str]] = {}
    for c in cats.values():
        by_name.setdefault(_name_key(c.name), []).append(c.id)
    explicit: dict[str, str] = {}
    unresolved: list[CategoryMappingRule] = []
    duplicates: list[CategoryMappingRule] = []
    for rule in rules:
        if rule.category_id is not None:
            ids = [rule.category_id]
        else:
            ids = by_name.get(_name_key(rule.category_name or ""), [])
        if not ids:
            unresolved.append(rule)
            continue
        for cid in ids:
            if cid in explicit:
                duplicates.append(rule)
            else:
                explicit[cid] = rule.gl_account
    return GLMap(explicit, cats, tuple(accounts), suspense, tuple(unresolved), tuple(duplicates))


def category_path(category_id: str, categories: Mapping[str, Category]) -> tuple[str, ...]:
    """`category_id` followed by its ancestors' ids, stopping at unknown ids and cycles."""
    path = [category_id]
    current = categories.get(category_id)
    while current is not None and current.parent_id is not None and len(path) < _MAX_DEPTH:
        if current.parent_id in path:
            break
        path.append(current.parent_id)
        current = categories.get(current.parent_id)
    return tuple(path)


def _name(cid: str, categories: Mapping[str, Category]) -> str:
    cat = categories.get(cid)
    return repr(cat.name) if cat is not None else f"#{cid}"


def _usable(ref: str, gl: GLMap, what: str, field: str | None) -> GLAccount | Problem:
    account = find_gl_account(ref, gl.accounts)
    if account is None:
        return Problem(
            "gl.account_missing",
            f"{what} names GL account {ref!r}, which is not among Ramp's GL accounts; "
            "upload it or change the mapping",
            field,
        )
    if not account.active:
        return Problem(
            "gl.account_inactive",
            f"{what} names GL account {account.code or account.id} {account.name!r}, "
            "which is inactive in Ramp; reactivate it or change the mapping",
            field,
        )
    return account


def resolve_gl(category_id: object, gl: GLMap, field: str | None = None) -> GLDecision | Problem:
    """The GL account for a category, or the specific reason there is none."""
    if not isinstance(category_id, str) or not category_id:
        return Problem("gl.no_category", "the line has no expense category", field)
    path = category_path(category_id, gl.categories)
    for depth, cid in enumerate(path):
        ref = gl.explicit.get(cid)
        if ref is None:
            continue
        rule = GLRule.EXPLICIT if depth == 0 else GLRule.PARENT_FALLBACK
        what = f"the mapping for {_name(cid, gl.categories)}"
        account = _usable(ref, gl, what, field)
        if isinstance(account, Problem):
            return account
        if depth == 0:
            reason = f"{_name(cid, gl.categories)} is mapped to {account.code or account.id} {account.name!r}"
        else:
            reason = (
                f"{_name(category_id, gl.categories)} has no mapping; its parent "
                f"{_name(cid, gl.categories)} is mapped to {account.code or account.id} {account.name!r}"
            )
        return GLDecision(account, rule, category_id, None if depth == 0 else cid, reason)
    if gl.suspense is not None:
        account = _usable(gl.suspense, gl, "the suspense setting", field)
        if isinstance(account, Problem):
            return account
        return GLDecision(
            account, GLRule.SUSPENSE, category_id, None,
            f"{_name(category_id, gl.categories)} has no mapping (nor its parents); coded to the "
            f"suspense account {account.code or account.id} {account.name!r} you opted into",
        )  # fmt: skip
    return Problem(
        "gl.unmapped",
        f"category {_name(category_id, gl.categories)} has no GL mapping and neither do its parents; "
        "add a mapping (or opt into a suspense account)",
        field,
    )


@dataclass(frozen=True, slots=True)
class GLSuggestion:
    """A GL account that might suit a category, ranked by `score` (0–100)."""

    account: GLAccount
    score: float
    reason: str


_SPLIT = re.compile(r"[\s:/\-&,._]+")
_DIGITS = re.compile(r"\d{3,}")


def _words(text: str) -> str:
    return " ".join(w for w in _SPLIT.split(text.casefold()) if w)


def suggest_gl_accounts(
    category: Category,
    accounts: Iterable[GLAccount],
    *,
    parent: Category | None = None,
    limit: int = 3,
    min_score: float = 60.0,
) -> tuple[GLSuggestion, ...]:
    """Active GL accounts ranked by name similarity (and number, if the name has one).

    For the mapping UI: a suggestion is never applied by itself.
    """
    name = _words(category.name)
    numbers = _DIGITS.findall(category.name)
    out: list[GLSuggestion] = []
    for account in accounts:
        if not account.active:
            continue
        score = float(fuzz.token_set_ratio(name, _words(account.name))) if name else 0.0
        reason = f"name similarity {round(score, 1)}"
        if parent is not None and name:
            via_parent = 0.9 * float(
                fuzz.token_set_ratio(_words(parent.name), _words(account.name))
            )
            if via_parent > score:
                score, reason = (
                    via_parent,
                    f"parent {parent.name!r} name similarity {round(via_parent, 1)}",
                )
        if account.code and numbers:
            if account.code in numbers:
                score, reason = 100.0, f"number {account.code} appears in the category name"
            elif any(account.code.startswith(n) or n.startswith(account.code) for n in numbers):
                score, reason = max(score, 85.0), f"number prefix matches {account.code}"
        if score >= min_score:
            out.append(GLSuggestion(account, round(score, 1), reason))
    out.sort(key=lambda s: (-s.score, s.account.code or "", s.account.name, s.account.id))
    return tuple(out[: max(limit, 0)])


@dataclass(frozen=True, slots=True)
class CoverageReport:
    """How well the mappings cover the categories actually in use.

    Attributes:
        in_use: (category, number of uses) for every category used, by name.
        decisions: (category, decision) for categories in use that resolve.
        unmapped: (category, uses, problem, suggestions) for categories in use that do not.
        to_missing / to_inactive: mappings whose GL account is missing / inactive.
        unknown_categories: mappings naming a category FreshBooks does not have.
        duplicates: mappings that repeat a category already mapped (ignored).
        suspense: the suspense account reference, if opted into.
    """

    in_use: tuple[tuple[Category, int], ...]
    decisions: tuple[tuple[Category, GLDecision], ...]
    unmapped: tuple[tuple[Category, int, Problem, tuple[GLSuggestion, ...]], ...]
    to_missing: tuple[tuple[str, str], ...]
    to_inactive: tuple[tuple[str, GLAccount], ...]
    unknown_categories: tuple[CategoryMappingRule, ...]
    duplicates: tuple[CategoryMappingRule, ...]
    suspense: str | None
    names: Mapping[str, str]

    @property
    def complete(self) -> bool:
        """True when every category in use codes to an active account and nothing is broken."""
        return not (self.unmapped or self.to_missing or self.to_inactive or self.unknown_categories)


def coverage_report(gl: GLMap, usage: Mapping[str, int]) -> CoverageReport:
    """The coverage report for the categories in `usage` (category id → number of uses)."""
    in_use: list[tuple[Category, int]] = []
    for cid, uses in usage.items():
        if uses > 0:
            in_use.append((gl.categories.get(cid) or Category(id=cid, name=f"#{cid}"), uses))
    in_use.sort(key=lambda item: (item[0].name.casefold(), item[0].id))
    decisions: list[tuple[Category, GLDecision]] = []
    unmapped: list[tuple[Category, int, Problem, tuple[GLSuggestion, ...]]] = []
    for category, uses in in_use:
        decision = resolve_gl(category.id, gl)
        if isinstance(decision, GLDecision):
            decisions.append((category, decision))
        else:
            parent = gl.categories.get(category.parent_id) if category.parent_id else None
            hints = suggest_gl_accounts(category, gl.accounts, parent=parent)
            unmapped.append((category, uses, decision, hints))
    missing: list[tuple[str, str]] = []
    inactive: list[tuple[str, GLAccount]] = []
    for cid, ref in sorted(
        gl.explicit.items(), key=lambda kv: _name(kv[0], gl.categories).casefold()
    ):
        account = find_gl_account(ref, gl.accounts)
        known = gl.categories.get(cid)
        label = known.name if known is not None else f"#{cid}"
        if account is None:
            missing.append((label, ref))
        elif not account.active:
            inactive.append((label, account))
    if gl.suspense is not None:
        account = find_gl_account(gl.suspense, gl.accounts)
        if account is None:
            missing.append(("(suspense)", gl.suspense))
        elif not account.active:
            inactive.append(("(suspense)", account))
    return CoverageReport(
        tuple(in_use), tuple(decisions), tuple(unmapped), tuple(missing), tuple(inactive),
        gl.unresolved, gl.duplicates, gl.suspense,
        MappingProxyType({c.id: c.name for c in gl.categories.values()}),
    )  # fmt: skip


def _acct(account: GLAccount) -> str:
    return f"{account.code or account.id} {account.name}"


def render_coverage_report(report: CoverageReport) -> str:
    """Plain-text rendering for the CLI, the admin UI and the docs."""
    lines = [
        f"Category → GL coverage: {len(report.in_use)} categories in use, "
        f"{len(report.decisions)} coded, {len(report.unmapped)} unmapped"
    ]
    if report.decisions:
        lines.append("")
        lines.append("Coded:")
        for category, d in report.decisions:
            via = ""
            if d.rule is GLRule.PARENT_FALLBACK and d.via_category_id is not None:
                parent = report.names.get(d.via_category_id, f"#{d.via_category_id}")
                via = f" via parent {parent!r}"
            lines.append(f"  {category.name:<28} → {_acct(d.account)}  [{d.rule.value}{via}]")
    if report.unmapped:
        lines.append("")
        lines.append("Unmapped (bills and expenses using these wait):")
        for category, uses, _problem, hints in report.unmapped:
            hint = ", ".join(f"{_acct(h.account)} ({h.score:g})" for h in hints) or "none"
            lines.append(f"  {category.name:<28} used {uses}×; suggestions: {hint}")
    broken = [
        *(f"  {label} → {ref}: no such GL account in Ramp" for label, ref in report.to_missing),
        *(f"  {label} → {_acct(a)}: inactive in Ramp" for label, a in report.to_inactive),
        *(
            f"  {r.label} → {r.gl_account}: FreshBooks has no such category"
            for r in report.unknown_categories
        ),
        *(f"  {r.label} → {r.gl_account}: duplicate mapping, ignored" for r in report.duplicates),
    ]
    if broken:
        lines.append("")
        lines.append("Mapping problems:")
        lines.extend(broken)
    lines.append("")
    lines.append(
        f"Suspense account: {report.suspense}" if report.suspense else "Suspense account: not used"
    )
    lines.append("Status: " + ("complete" if report.complete else "needs attention"))
    return "\n".join(lines) + "\n"
