"""Category → GL: explicit, parent fallback, suspense; suggestions; the coverage report."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mapping_world import CATEGORIES, GL_ACCOUNTS

from ml_connector.core.gl import (
    CategoryMappingRule,
    GLDecision,
    GLRule,
    build_gl_map,
    category_path,
    coverage_report,
    render_coverage_report,
    resolve_gl,
    suggest_gl_accounts,
)
from ml_connector.core.model import Category, GLAccount
from ml_connector.core.problems import Problem

RULES = (
    CategoryMappingRule("6300", category_name="office supplies"),  # names match case-insensitively
    CategoryMappingRule("6200", category_name="Car & Truck Expenses"),
    CategoryMappingRule("6600", category_id="2016"),
    CategoryMappingRule("6610", category_name="Hosting"),  # inactive GL account
    CategoryMappingRule("6150", category_name="Meals and Entertainment"),  # no such GL account
    CategoryMappingRule("6700", category_name="Subscriptions"),  # no such category
    CategoryMappingRule("6700", category_name="Software"),  # duplicate of 2016
)


def gl_map(suspense: str | None = None):  # type: ignore[no-untyped-def]
    return build_gl_map(RULES, CATEGORIES, GL_ACCOUNTS, suspense)


@pytest.mark.parametrize(
    ("category", "rule", "account", "via"),
    [
        ("2006", GLRule.EXPLICIT, "6300", None),
        ("2016", GLRule.EXPLICIT, "6600", None),
        ("2003", GLRule.PARENT_FALLBACK, "6200", "2002"),  # Gas → Car & Truck Expenses
    ],
)
def test_resolution_rules(category: str, rule: GLRule, account: str, via: str | None) -> None:
    decision = resolve_gl(category, gl_map())
    assert isinstance(decision, GLDecision)
    assert (decision.rule, decision.account.id, decision.via_category_id) == (rule, account, via)
    assert decision.reason


@pytest.mark.parametrize(
    ("category", "code"),
    [
        ("2017", "gl.account_inactive"),
        ("2011", "gl.account_missing"),
        ("2018", "gl.unmapped"),
        ("2007", "gl.unmapped"),  # Shipping: neither it nor its parent is mapped
        ("9999", "gl.unmapped"),
        (None, "gl.no_category"),
        ("", "gl.no_category"),
    ],
)
def test_unresolvable_categories_are_problems(category: object, code: str) -> None:
    result = resolve_gl(category, gl_map(), "lines[1]")
    assert isinstance(result, Problem)
    assert result.code == code
    assert result.field == "lines[1]"


def test_broken_explicit_mapping_is_not_hidden_by_suspense() -> None:
    assert isinstance(resolve_gl("2017", gl_map(suspense="6700")), Problem)
    decision = resolve_gl("2018", gl_map(suspense="6700"))
    assert isinstance(decision, GLDecision)
    assert decision.rule is GLRule.SUSPENSE
    assert "opted into" in decision.reason
    missing = resolve_gl("2018", gl_map(suspense="nope"))
    assert isinstance(missing, Problem)
    assert missing.code == "gl.account_missing"


def test_category_path_stops_at_cycles() -> None:
    cats = {
        "a": Category(id="a", name="A", parent_id="b"),
        "b": Category(id="b", name="B", parent_id="a"),
    }
    assert category_path("a", cats) == ("a", "b")


def test_suggestions_rank_by_name_and_number() -> None:
    accounts = (*GL_ACCOUNTS, GLAccount(id="7100", code="7100", name="Bank Fees"))
    hints = suggest_gl_accounts(Category(id="x", name="Professional Services"), accounts)
    assert hints[0].account.id == "6700"
    by_number = suggest_gl_accounts(Category(id="y", name="7100 Charges"), accounts)
    assert by_number[0].account.id == "7100"
    assert by_number[0].score == 100.0
    inactive = suggest_gl_accounts(Category(id="z", name="Cloud Hosting"), accounts)
    assert all(h.account.active for h in inactive)
    assert suggest_gl_accounts(Category(id="q", name="Zzyzx"), accounts) == ()


def test_coverage_report_lists_every_kind_of_gap() -> None:
    usage = {"2006": 23, "2003": 7, "2016": 41, "2017": 14, "2011": 31, "2018": 2, "2007": 0}
    report = coverage_report(gl_map(), usage)
    assert [c.name for c, _ in report.decisions] == ["Gas", "Office Supplies", "Software"]
    assert [c.name for c, *_ in report.unmapped] == [
        "Hosting",
        "Meals and Entertainment",
        "Professional Services",
    ]
    assert report.to_missing == (("Meals and Entertainment", "6150"),)
    assert [a.id for _, a in report.to_inactive] == ["6610"]
    assert [r.category_name for r in report.unknown_categories] == ["Subscriptions"]
    assert [r.gl_account for r in report.duplicates] == ["6700"]
    assert not report.complete
    text = render_coverage_report(report)
    assert "3 coded, 3 unmapped" in text
    assert "via parent 'Car & Truck Expenses'" in text
    assert "6700 Professional Fees" in text  # the suggestion for Professional Services
    assert "Status: needs attention" in text


def test_complete_coverage() -> None:
    report = coverage_report(
        build_gl_map(RULES[:3], CATEGORIES, GL_ACCOUNTS), {"2006": 1, "2003": 1}
    )
    assert report.complete
    assert render_coverage_report(report).endswith("Status: complete\n")


@settings(max_examples=150)
@given(
    category=st.none() | st.text(max_size=5) | st.integers(),
    parents=st.dictionaries(st.text(max_size=3), st.none() | st.text(max_size=3), max_size=6),
    refs=st.lists(st.tuples(st.text(max_size=3), st.text(max_size=5)), max_size=5),
)
def test_resolution_never_raises(
    category: object, parents: dict[str, str | None], refs: list[tuple[str, str]]
) -> None:
    cats = [Category(id=k, name=k * 2, parent_id=v) for k, v in parents.items()]
    rules = [CategoryMappingRule(gl, category_id=cid) for cid, gl in refs]
    gl = build_gl_map(rules, cats, GL_ACCOUNTS, None)
    assert isinstance(resolve_gl(category, gl), GLDecision | Problem)
    coverage_report(gl, {c.id: 1 for c in cats})
