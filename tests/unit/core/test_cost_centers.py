"""Cost-center rules: ordered, first match per field wins, every decision explained."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from mapping_world import CATEGORIES

from ml_connector.core.coding import context_for
from ml_connector.core.cost_centers import (
    CodingContext,
    CostCenterRule,
    assign_cost_centers,
    find_option,
)
from ml_connector.core.model import FieldOption

CATS = {c.id: c for c in CATEGORIES}
OPTIONS = (
    FieldOption(field="Department", id="DEP-DESIGN", name="Design", code="200"),
    FieldOption(field="Department", id="DEP-OPS", name="Operations"),
    FieldOption(field="Department", id="DEP-CONSULT", name="Consulting"),
    FieldOption(field="Department", id="DEP-OLD", name="Old", active=False),
    FieldOption(field="Cost Center", id="CC-CLIENT", name="Client work"),
)
RULES = (
    CostCenterRule(description="Design team", field="Department", option="DEP-DESIGN", staff=("4", "5")),
    CostCenterRule(description="Client Globex", field="Department", option="Consulting", clients=("17",)),
    CostCenterRule(description="Vehicles", field="Department", option="DEP-OPS", categories=("Car & Truck Expenses",)),
    CostCenterRule(description="Acme is consulting", field="Department", option="200", vendors=("ACME INC",)),
    CostCenterRule(description="Billable project", field="Cost Center", option="CC-CLIENT", projects=("P1",)),
    CostCenterRule(description="Default", field="Department", option="DEP-OPS"),
)  # fmt: skip


def decide(**ctx: object):  # type: ignore[no-untyped-def]
    category = ctx.pop("category", None)
    context = context_for(category, CATS, **ctx)  # type: ignore[arg-type]
    return assign_cost_centers(context, RULES, OPTIONS, required_fields=("Department",))


def test_first_matching_rule_wins_and_is_recorded() -> None:
    decisions, problems = decide(staff_id="4", client_id="17")
    assert problems == ()
    [dept] = decisions
    assert (dept.field, dept.option.id, dept.rule_index) == ("Department", "DEP-DESIGN", 1)
    assert dept.description == "Design team"
    assert dept.matched_on == "staff 4"


def test_category_rules_match_ancestors() -> None:
    [dept], _ = decide(category="2003")  # Gas, under Car & Truck Expenses
    assert (dept.rule_index, dept.option.id) == (3, "DEP-OPS")
    assert "Car & Truck Expenses" in dept.matched_on


def test_vendor_rules_match_canonical_names_and_options_match_by_code() -> None:
    [dept], _ = decide(vendor_name="Acme, Inc.")
    assert (dept.rule_index, dept.option.id) == (4, "DEP-DESIGN")


def test_each_field_gets_its_own_first_match() -> None:
    decisions, _ = decide(client_id="17", project_id="P1")
    assert [(d.field, d.option.id, d.rule_index) for d in decisions] == [
        ("Department", "DEP-CONSULT", 2),
        ("Cost Center", "CC-CLIENT", 5),
    ]


def test_default_rule_fires_last() -> None:
    [dept], _ = decide(staff_id="99")
    assert (dept.rule_index, dept.matched_on) == (6, "any (default rule)")


def test_missing_and_inactive_options_are_problems_and_block_later_rules() -> None:
    rules = (
        CostCenterRule(description="Gone", field="Department", option="DEP-NOPE", staff=("1",)),
        CostCenterRule(description="Retired", field="Department", option="DEP-OLD", staff=("2",)),
        CostCenterRule(description="Default", field="Department", option="DEP-OPS"),
    )
    for staff, code in (("1", "cost_center.option_missing"), ("2", "cost_center.option_inactive")):
        decisions, problems = assign_cost_centers(CodingContext(staff_id=staff), rules, OPTIONS)
        assert decisions == ()
        assert [p.code for p in problems] == [code]
    decisions, problems = assign_cost_centers(CodingContext(staff_id="3"), rules, OPTIONS)
    assert problems == ()
    assert decisions[0].option.id == "DEP-OPS"


def test_required_field_without_a_rule_is_a_problem() -> None:
    _, problems = assign_cost_centers(
        CodingContext(), RULES[:1], OPTIONS, required_fields=("Department", "Location")
    )
    assert [p.code for p in problems] == ["cost_center.required", "cost_center.required"]
    assert "Location" in problems[1].reason


def test_find_option_prefers_id_then_code_then_name() -> None:
    assert find_option("Department", "200", OPTIONS).id == "DEP-DESIGN"  # type: ignore[union-attr]
    assert find_option("Department", "Consulting", OPTIONS).id == "DEP-CONSULT"  # type: ignore[union-attr]
    assert find_option("Cost Center", "Design", OPTIONS) is None


ids = st.none() | st.text(max_size=3)


@settings(max_examples=150)
@given(staff=ids, client=ids, project=ids, vendor=ids, category=ids)
def test_rules_never_raise(staff, client, project, vendor, category) -> None:  # type: ignore[no-untyped-def]
    decisions, problems = decide(
        staff_id=staff, client_id=client, project_id=project, vendor_name=vendor, category=category
    )
    fields = [d.field for d in decisions]
    assert len(fields) == len(set(fields))
    assert "Department" in fields or problems
