"""The mapping core is total on hostile input: a value or a specific refusal, never a crash.

Two entry points face text nobody vetted:

- the flow-config loader (TOML typed or uploaded by a person): any text yields a
  `FlowConfig` or line-numbered `ConfigErrors`, and what loads survives export;
- the path from FreshBooks' JSON to a plan: the wire model refuses what it cannot type
  (pydantic's `ValidationError`, which the client reports as an API validation error),
  the conversion parks what the core cannot represent (`NeedsAttentionError`), and the
  planner answers everything else with actions — a review with a reason for bad
  content — whose Ramp payloads carry money as integers, never floats.

The well-formed side (determinism, idempotence of plans) is property-tested in
`tests/unit/core/test_plan.py`; this module only feeds the hostile side.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from ml_connector.clients.freshbooks import models as fb
from ml_connector.core.actions import Action
from ml_connector.core.errors import NeedsAttentionError
from ml_connector.core.flow_config import (
    ConfigErrors,
    FlowConfig,
    dump_flow_config,
    load_flow_config,
)
from ml_connector.core.plan import PlanContext, plan_bill, plan_expense, plan_vendor
from ml_connector.sync import convert
from unit.core.mapping_world import ACME, CATEGORIES, config, ramp_state

FUZZ = settings(
    max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
README = Path(__file__).resolve().parents[2] / "README.md"
TODAY = date(2026, 9, 12)

HOSTILE_TEXT = st.sampled_from(
    [
        "", " ", "\x00", "🦄" * 50, "\u202eevil", "A" * 5000, "Ａｃｍｅ，　Ｉｎｃ．", "' OR 1=1 --",
        "<script>", "Acme\nInc", "ﬀ", "İstanbul Ltd", "\ud7ff", "Ω" * 255, "${x}", "null",
    ]
) | st.text(st.characters(codec="utf-8"), max_size=80)  # fmt: skip
HOSTILE_NUMBER = st.sampled_from(
    [
        "0", "-0", "-1", "1e3", "1E-7", "0.001", "12.345", "99999999999999999999.99", "NaN",
        "Infinity", "-Infinity", "1_000", " 5", "５", "0x10", "", "12.", ".5", "1e400",
    ]
) | st.decimals(allow_nan=False, allow_infinity=False, places=4).map(str)  # fmt: skip
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | HOSTILE_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(HOSTILE_TEXT, inner, max_size=3),
    max_leaves=8,
)
ANY_VALUE = HOSTILE_TEXT | HOSTILE_NUMBER | JSONISH
MONEY = st.fixed_dictionaries(
    {
        "amount": HOSTILE_NUMBER | ANY_VALUE,
        "code": st.sampled_from(["USD", "CAD", "usd", "XXX", ""]),
    }
)
DATES = st.sampled_from(["2026-09-01", "2026-02-30", "0001-01-01", "9999-12-31", "", "yesterday"])


def _readme_sample() -> str:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"<!-- readme-flow-config -->\s*```toml\n(.*?)```", text, re.S)
    assert match, "the README's flow-config sample marker moved"
    return match.group(1)


def _ctx() -> PlanContext:
    return PlanContext.build(config(), ramp=ramp_state(), categories=CATEGORIES, today=TODAY)


def _no_floats(value: Any, where: str = "payload") -> None:
    assert not isinstance(value, float), f"a float reached {where}"
    if isinstance(value, dict):
        for key, item in value.items():
            _no_floats(item, f"{where}.{key}")
    elif isinstance(value, list | tuple):
        for n, item in enumerate(value):
            _no_floats(item, f"{where}[{n}]")


def _check_actions(actions: tuple[Action, ...]) -> None:
    assert isinstance(actions, tuple)
    for action in actions:
        assert action.reason, action
        _no_floats(getattr(action, "payload", None))


# --- the flow-config loader ----------------------------------------------------------------


def _loaded(text: str) -> FlowConfig | ConfigErrors:
    result = load_flow_config(text)
    assert isinstance(result, FlowConfig | ConfigErrors), type(result)
    if isinstance(result, ConfigErrors):
        assert result.errors
        assert all(str(e) for e in result.errors)
    else:
        assert load_flow_config(dump_flow_config(result)) == result
    return result


@FUZZ
@given(text=st.text(st.characters(codec="utf-8"), max_size=400))
def test_any_text_loads_or_is_refused_with_reasons(text: str) -> None:
    _loaded(text)


@FUZZ
@given(data=st.data())
def test_hostile_edits_of_the_readme_sample_load_or_are_refused(data: st.DataObject) -> None:
    lines = _readme_sample().splitlines()
    for _ in range(data.draw(st.integers(1, 4))):
        where = data.draw(st.integers(0, len(lines) - 1))
        edit = data.draw(st.sampled_from(["value", "drop", "duplicate", "key", "table"]))
        line = lines[where]
        if edit == "value" and "=" in line:
            key = line.split("=", 1)[0]
            value = data.draw(ANY_VALUE)
            literal = data.draw(
                st.sampled_from(
                    [f'"{value!s}"'.replace("\\", "\\\\"), str(value), f"[{value!r}]", "{}"]
                )
            )
            lines[where] = f"{key}= {literal}"
        elif edit == "drop":
            del lines[where]
        elif edit == "duplicate":
            lines.insert(where, line)
        elif edit == "key":
            lines.insert(where, f'"{data.draw(HOSTILE_TEXT)}" = 1'.replace("\\", "\\\\"))
        else:
            lines.insert(where, data.draw(st.sampled_from(["[[gl.mappings]]", "[bills]", "[x]"])))
        if not lines:
            break
    _loaded("\n".join(lines))


def test_the_untouched_sample_loads() -> None:
    assert isinstance(_loaded(_readme_sample()), FlowConfig)


# --- FreshBooks JSON → wire → domain → plan ---------------------------------------------------


def _through(model: type[Any], payload: dict[str, Any], to_domain: Any) -> Any:
    """The wire object's domain value, or None where a specific refusal ends the road."""
    try:
        wire = model.model_validate(payload)
    except ValidationError:
        event("refused by the wire model")  # the client reports an ApiValidationError
        return None
    try:
        value = to_domain(wire)
    except NeedsAttentionError as exc:
        reason = str(exc)
        value = None
    else:
        reason = "planned"
    assert reason, "a parked object needs a reason"
    event("planned" if value is not None else "parked by the conversion")
    return value


LINES = st.lists(
    st.fixed_dictionaries(
        {"quantity": HOSTILE_NUMBER, "unit_cost": MONEY},
        optional={
            "categoryid": st.sampled_from([2011, 2016, 0, -1, 10**12]) | ANY_VALUE,
            "description": HOSTILE_TEXT,
            "tax_name1": HOSTILE_TEXT,
            "tax_percent1": HOSTILE_NUMBER,
            "tax_amount1": MONEY,
            "amount": MONEY,
        },
    ),
    max_size=4,
)


@FUZZ
@given(
    payload=st.fixed_dictionaries(
        {"id": st.integers(1, 10**9), "issue_date": DATES, "currency_code": HOSTILE_TEXT},
        optional={
            "vendorid": st.sampled_from([ACME.id, "1", 0]) | ANY_VALUE,
            "bill_number": HOSTILE_TEXT,
            "due_offset_days": st.integers(-(10**6), 10**6) | ANY_VALUE,
            "status": st.sampled_from(["unpaid", "paid", "partial", "overdue", "weird"]),
            "total_amount": MONEY,
            "lines": LINES,
            "vis_state": st.sampled_from([0, 1, 2, 7]),
            "bill_payments": st.lists(
                st.fixed_dictionaries(
                    {
                        "id": st.integers(1, 99),
                        "billid": st.integers(1, 99),
                        "amount": MONEY,
                        "paid_date": DATES,
                    }
                ),
                max_size=2,
            ),
        },
    )
)
def test_hostile_bills_plan_or_are_refused(payload: dict[str, Any]) -> None:
    bill = _through(fb.Bill, payload, convert.bill)
    if bill is not None:
        _check_actions(plan_bill(bill, ACME, _ctx()))


@FUZZ
@given(
    payload=st.fixed_dictionaries(
        {"vendorid": st.integers(1, 10**9), "vendor_name": HOSTILE_TEXT},
        optional={
            "primary_contact_email": HOSTILE_TEXT,
            "country": HOSTILE_TEXT,
            "province": HOSTILE_TEXT,
            "currency_code": HOSTILE_TEXT,
            "street": HOSTILE_TEXT,
            "phone": HOSTILE_TEXT,
            "vis_state": st.sampled_from([0, 1, 2, 9]),
        },
    )
)
def test_hostile_vendors_plan_or_are_refused(payload: dict[str, Any]) -> None:
    vendor = _through(fb.BillVendor, payload, convert.vendor)
    if vendor is not None:
        _check_actions(plan_vendor(vendor, _ctx()))


@FUZZ
@given(
    payload=st.fixed_dictionaries(
        {"expenseid": st.integers(1, 10**9), "amount": MONEY, "date": DATES},
        optional={
            "categoryid": st.sampled_from([2011, 2016, 2003, 0]) | ANY_VALUE,
            "vendor": HOSTILE_TEXT,
            "notes": HOSTILE_TEXT,
            "staffid": st.integers(-5, 10**9),
            "taxAmount1": MONEY,
            "taxPercent1": HOSTILE_NUMBER,
            "vis_state": st.sampled_from([0, 1, 2, 5]),
        },
    )
)
def test_hostile_expenses_plan_or_are_refused(payload: dict[str, Any]) -> None:
    expense = _through(fb.Expense, payload, convert.expense)
    if expense is not None:
        _check_actions(plan_expense(expense, _ctx()))
