"""Flow configuration: load with line-numbered errors, export round-trips, schema, docs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flow_doc import DOC, fenced_block, sample_config, sample_report
from hypothesis import given, settings
from hypothesis import strategies as st
from mapping_world import CONFIG_TOML

from ml_connector.core.errors import ConfigurationError
from ml_connector.core.flow_config import (
    ConfigErrors,
    FlowConfig,
    dump_flow_config,
    load_flow_config,
    load_flow_config_or_raise,
    render_json_schema,
)

SCHEMA = Path(__file__).resolve().parents[3] / "docs" / "flow-config.schema.json"


@pytest.fixture(scope="module")
def doc_text() -> str:
    return DOC.read_text(encoding="utf-8")


def test_the_doc_sample_validates(doc_text: str) -> None:
    config = sample_config(doc_text)
    assert config.connection.name == "Northwind Studio"
    assert len(config.gl.mappings) == 12
    assert config.cost_centers.rules[-1].description == "Everything else"
    assert config.vendors.terms[0].payment_terms.days == 30


def test_the_doc_shows_the_coverage_report_the_sample_produces(doc_text: str) -> None:
    assert fenced_block("coverage-report", doc_text) == sample_report(sample_config(doc_text))


def test_the_doc_shows_the_errors_its_broken_example_produces(doc_text: str) -> None:
    errors = load_flow_config(fenced_block("validation-input", doc_text), source="northwind.toml")
    assert isinstance(errors, ConfigErrors)
    assert fenced_block("validation-example", doc_text) == str(errors) + "\n"


def test_published_json_schema_is_current() -> None:
    assert SCHEMA.read_text(encoding="utf-8") == render_json_schema(), (
        "regenerate docs/flow-config.schema.json from ml_connector.core.flow_config.render_json_schema()"
    )
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    assert schema["$schema"].endswith("2020-12/schema")
    assert schema["properties"]["version"]["const"] == 1
    assert set(schema["required"]) == {"version", "connection"}


def test_export_round_trips(doc_text: str) -> None:
    for config in (sample_config(doc_text), load_flow_config_or_raise(CONFIG_TOML)):
        text = dump_flow_config(config)
        assert load_flow_config(text) == config
        assert dump_flow_config(load_flow_config_or_raise(text)) == text


HEAD = 'version = 1\n[connection]\nname = "N"\nfreshbooks_account_id = "A"\nramp_entity_id = "E"\n'


@pytest.mark.parametrize(
    ("text", "line", "path", "fragment"),
    [
        ("[connection]\nname = 'x'\n", None, "version", "format version missing"),
        ("version = 2\n", 1, "version", "this build reads version 1"),
        ("version = 1\n[connection\n", 2, "", "not valid TOML"),
        ("version = 1\n", None, "connection", "Field required"),
        (HEAD + "colour = 'red'\n", 6, "connection.colour", "unknown key"),
        (HEAD + "[bills]\nterms_policy = 'strict'\n", 7, "bills.terms_policy", "'keep', 'enforce' or 'flag'"),
        (HEAD + "[vendors]\nreview_threshold = 95\n", 6, "vendors", "must not exceed"),
        (HEAD + "[vendors]\ndefault_country = 'USA'\n", 7, "vendors.default_country", "pattern"),
        (HEAD + "[[gl.mappings]]\ngl_account = '1'\n", 6, "gl.mappings[1]", "exactly one of"),
        (
            HEAD + "[[gl.mappings]]\ncategory='A'\ngl_account='1'\n[[gl.mappings]]\ncategory='a'\ngl_account='2'\n",
            None, "gl", "mapped twice",
        ),
        (
            HEAD + "[[cost_centers.rules]]\ndescription='d'\nfield='F'\noption='o'\n"
            "[[cost_centers.rules]]\ndescription='e'\nfield='F'\noption='o'\nwhen = { staf = ['1'] }\n",
            14, "cost_centers.rules[2].when.staf", "unknown key",
        ),
        (HEAD + "[expenses]\nwait_days = 365\n", 7, "expenses.wait_days", "less than or equal to 90"),
    ],
)  # fmt: skip
def test_errors_name_line_and_path(text: str, line: int | None, path: str, fragment: str) -> None:
    result = load_flow_config(text, source="f.toml")
    assert isinstance(result, ConfigErrors), result
    matching = [e for e in result.errors if e.path == path and fragment in e.message]
    assert matching, str(result)
    if line is not None:
        assert matching[0].line == line, str(result)
        assert str(matching[0]).startswith(f"f.toml:{line}: ")


def test_load_or_raise() -> None:
    with pytest.raises(ConfigurationError, match="format version missing"):
        load_flow_config_or_raise("")
    assert isinstance(load_flow_config_or_raise(HEAD), FlowConfig)


@settings(max_examples=200)
@given(st.text(max_size=200))
def test_loading_never_raises(text: str) -> None:
    assert isinstance(load_flow_config(text), FlowConfig | ConfigErrors)
    assert isinstance(load_flow_config(HEAD + text), FlowConfig | ConfigErrors)


words = (
    st.text(
        alphabet=st.characters(min_codepoint=32, max_codepoint=0x2FF, exclude_characters="\x7f"),
        min_size=1,
        max_size=12,
    )
    .map(str.strip)
    .filter(bool)
)


@settings(max_examples=75)
@given(
    name=words,
    mappings=st.lists(st.tuples(words, words), max_size=4, unique_by=lambda t: t[0].casefold()),
    rules=st.lists(st.tuples(words, words, st.lists(words, max_size=2)), max_size=3),
    tax=st.sampled_from(["separate_line", "fold_into_line"]),
    thresholds=st.tuples(st.integers(0, 100), st.integers(0, 100)).map(sorted),
    suspense=st.none() | words,
)
def test_generated_configs_round_trip(*, name, mappings, rules, tax, thresholds, suspense) -> None:  # type: ignore[no-untyped-def]
    config = FlowConfig.model_validate(
        {
            "version": 1,
            "connection": {"name": name, "freshbooks_account_id": "A", "ramp_entity_id": "E"},
            "bills": {"tax_policy": tax},
            "vendors": {"review_threshold": thresholds[0], "auto_match_threshold": thresholds[1]},
            "gl": {
                "suspense_account": suspense,
                "mappings": [{"category": c, "gl_account": g} for c, g in mappings],
            },
            "cost_centers": {
                "rules": [
                    {"description": d, "field": "Department", "option": o, "when": {"staff": s}}
                    for d, o, s in rules
                ]
            },
        }
    )
    assert load_flow_config(dump_flow_config(config)) == config
