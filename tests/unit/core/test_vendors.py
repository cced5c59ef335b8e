"""Vendor canonical keys and the match ladder."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ml_connector.core.model import RampVendorRef
from ml_connector.core.vendors import (
    MatchOutcome,
    VendorMatch,
    VendorRule,
    canonical_vendor_key,
    company_form_key,
    is_short_form,
    match_vendor,
    name_similarity,
)


@pytest.mark.parametrize(
    "names",
    [
        ("Acme, Inc.", "ACME Inc", "Acme Incorporated", "acme", "  ACME   INC. "),
        ("Café Olé", "Cafe Ole", "CAFÉ OLÉ", "Cafe\u0301 Ole\u0301"),  # composed and decomposed
        ("The UPS Store", "UPS Store", "the ups store, inc."),
        ("Smith & Sons", "Smith and Sons", "SMITH & SONS LLC"),
        ("Regus Management Group, LLC", "Regus Management Group L.L.C."),
        ("GitHub, Inc.", "Github"),
        ("Müller GmbH", "Muller"),
        ("Ali's Art Shop Ltd", "Alis Art Shop", "Ali’s Art Shop"),
        ("ＡＣＭＥ　Ｉｎｃ", "Acme"),  # full-width forms (NFKC)
        ("Staples Inc.", "Staples"),
        ("O'Connell Corp.", "OConnell Corporation"),
    ],
)
def test_equivalent_names_share_a_key(names: tuple[str, ...]) -> None:
    keys = {canonical_vendor_key(n) for n in names}
    assert len(keys) == 1, keys
    assert keys.pop() != ""


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Acme Corp", "Acme Co"),  # "Co" may be a legal form or part of the name
        ("Delta Air Lines", "United Airlines"),
        ("Acme Holdings", "Acme"),
        ("Amazon", "Amazon Web Services"),
    ],
)
def test_different_names_keep_different_keys(a: str, b: str) -> None:
    assert canonical_vendor_key(a) != canonical_vendor_key(b)


def test_key_keeps_a_lone_suffix_or_article() -> None:
    assert canonical_vendor_key("Inc") == "inc"
    assert canonical_vendor_key("The") == "the"
    assert canonical_vendor_key("!!!") == ""
    assert canonical_vendor_key(None) == ""
    assert canonical_vendor_key(42) == ""


@settings(max_examples=500)
@given(st.text(max_size=40))
def test_canonical_key_is_idempotent(name: str) -> None:
    key = canonical_vendor_key(name)
    assert canonical_vendor_key(key) == key
    assert company_form_key(company_form_key(name)) == company_form_key(name)


@settings(max_examples=200)
@given(st.text(alphabet=st.sampled_from("AaCcEeMmIiNn &.,-'éÉ"), max_size=20))
def test_key_ignores_case_and_spacing(name: str) -> None:
    assert canonical_vendor_key(name) == canonical_vendor_key(f"  {name.upper()}  ")


def vendor(vid: str, name: str, **kw: object) -> RampVendorRef:
    return RampVendorRef(id=vid, name=name, contact_ids=(f"c-{vid}",), **kw)  # type: ignore[arg-type]


RAMP = (
    vendor("1", "ACME Inc"),
    vendor("2", "Staples"),
    vendor("3", "Delta Air Lines"),
    vendor("4", "Cafe Ole"),
    vendor("5", "Old Supplier", is_active=False),
    vendor("6", "Northwind Traders", external_vendor_id="freshbooks:ABC:vendor:77"),
)


@pytest.mark.parametrize(
    ("name", "kwargs", "outcome", "rule", "vendor_id"),
    [
        ("Whatever", {"linked_ramp_vendor_id": "2"}, "matched", "stored_link", "2"),
        ("Whatever", {"linked_ramp_vendor_id": "gone"}, "review", "stored_link", None),
        ("Whatever", {"linked_ramp_vendor_id": "5"}, "review", "stored_link", None),
        ("Northwind", {"external_vendor_id": "freshbooks:ABC:vendor:77"}, "matched", "external_vendor_id", "6"),
        ("Acme, Inc.", {}, "matched", "exact_name", "1"),
        ("Acme Incorporated", {}, "matched", "exact_name", "1"),
        ("Café Olé", {}, "matched", "exact_name", "4"),
        ("Delta Airlines", {}, "matched", "fuzzy_name", "3"),
        ("Acme Co", {}, "review", "company_form", None),
        ("Old Supplier LLC", {}, "review", "exact_name", None),
        ("Blue Bottle Coffee", {}, "no_match", "none", None),
        ("???", {}, "review", "none", None),
    ],
)  # fmt: skip
def test_match_ladder(
    name: str, kwargs: dict[str, str], outcome: str, rule: str, vendor_id: str | None
) -> None:
    result = match_vendor(name, RAMP, **kwargs)  # type: ignore[arg-type]
    assert (result.outcome.value, result.rule.value) == (outcome, rule), result.reason
    assert (result.vendor.id if result.vendor else None) == vendor_id
    assert result.reason
    if result.outcome is MatchOutcome.MATCHED:
        assert 0.9 <= result.confidence <= 1.0
    else:
        assert result.vendor is None


def test_acme_corp_against_acme_co_goes_to_review_never_a_guess() -> None:
    result = match_vendor("Acme Corp", [vendor("9", "Acme Co")])
    assert result.outcome is MatchOutcome.REVIEW
    assert result.rule is VendorRule.COMPANY_FORM
    assert [c.vendor.id for c in result.candidates] == ["9"]


def test_two_plausible_candidates_go_to_review() -> None:
    result = match_vendor(
        "Acme Supplies",
        [vendor("a", "Acme Suppliers"), vendor("b", "Acme Suplies"), vendor("c", "Zeta")],
    )
    # each alone would be a confident fuzzy match (96); together they are a coin toss
    assert result.outcome is MatchOutcome.REVIEW
    assert result.code == "vendor.ambiguous"
    assert [c.vendor.id for c in result.candidates] == ["a", "b"]


def test_two_vendors_with_the_same_canonical_name_go_to_review() -> None:
    result = match_vendor("Acme", [vendor("a", "Acme Inc"), vendor("b", "ACME LLC")])
    assert result.outcome is MatchOutcome.REVIEW
    assert result.code == "vendor.ambiguous"
    assert [c.vendor.id for c in result.candidates] == ["a", "b"]


def test_weak_fuzzy_match_is_review_with_its_score() -> None:
    result = match_vendor("Acme Supplies", [vendor("a", "Acme Supply Depot")], review_threshold=60)
    assert result.outcome is MatchOutcome.REVIEW
    assert result.code == "vendor.weak_match"
    assert 0.6 <= result.confidence < 0.92


def test_similarity_scale() -> None:
    assert name_similarity("Delta Air Lines", "Delta Airlines") == 100.0
    assert name_similarity("Lines Delta Air", "Delta Air Lines") == 100.0
    assert name_similarity("", "x") == 0.0
    assert name_similarity("Amazon", "Staples") < 50


names = st.text(max_size=25)
refs = st.builds(
    RampVendorRef, id=st.text(min_size=1, max_size=4), name=names,
    external_vendor_id=st.none() | st.text(max_size=6), is_active=st.booleans(),
    contact_ids=st.lists(st.text(max_size=3), max_size=2).map(tuple),
)  # fmt: skip


@settings(max_examples=200)
@given(
    name=names, candidates=st.lists(refs, max_size=6), linked=st.none() | st.text(max_size=4),
    external=st.none() | st.text(max_size=6),
)  # fmt: skip
def test_ladder_never_raises_and_always_explains(
    name: str, candidates: list[RampVendorRef], linked: str | None, external: str | None
) -> None:
    result = match_vendor(
        name, candidates, linked_ramp_vendor_id=linked, external_vendor_id=external
    )
    assert isinstance(result, VendorMatch)
    assert result.reason
    assert result.code
    if result.outcome is MatchOutcome.MATCHED:
        assert result.vendor is not None
        assert result.vendor in candidates
        assert result.vendor.is_active


@pytest.mark.parametrize(
    ("name", "existing"),
    [
        ("Zoom", "Zoom Video Communications"),
        ("AWS", "Amazon Web Services"),
        ("Regus", "Regus Management Group, LLC"),
        ("ConEd", "Con Edison"),
        ("Hartford Insurance", "The Hartford"),
        ("Amazon", "Amazon Web Services"),
    ],
)
def test_short_forms_go_to_review_never_to_a_new_vendor(name: str, existing: str) -> None:
    ramp = [RampVendorRef(id="v1", name=existing, is_active=True)]
    match = match_vendor(name, ramp)
    assert match.outcome is MatchOutcome.REVIEW
    assert match.rule is VendorRule.SHORT_FORM
    assert [c.vendor.id for c in match.candidates] == ["v1"]
    # and symmetrically, the long name against the short one
    reverse = match_vendor(existing, [RampVendorRef(id="v2", name=name, is_active=True)])
    assert reverse.outcome is MatchOutcome.REVIEW


@pytest.mark.parametrize(
    ("name", "existing"),
    [("Staples", "Stripe"), ("Lyft", "Uber"), ("Figma", "FedEx"), ("Co", "Costco Wholesale")],
)
def test_unrelated_or_too_short_names_are_not_short_forms(name: str, existing: str) -> None:
    assert not is_short_form(canonical_vendor_key(name), canonical_vendor_key(existing))


def test_a_vendor_confirmed_distinct_skips_the_resemblance_rungs() -> None:
    ramp = [RampVendorRef(id="aws", name="Amazon Web Services", is_active=True)]
    assert match_vendor("Amazon", ramp, confirmed_distinct=True).outcome is MatchOutcome.NO_MATCH
    exact = [RampVendorRef(id="amz", name="Amazon", is_active=True)]
    confirmed = match_vendor("Amazon", exact, confirmed_distinct=True)
    assert confirmed.outcome is MatchOutcome.MATCHED
    assert confirmed.rule is VendorRule.EXACT_NAME
