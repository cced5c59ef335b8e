"""`ping`: verdict logic (pure) and the command against the emulators."""

from __future__ import annotations

import json

from cli_world import CliWorld, connect_both

from ml_connector.cli.errors import ExitCode
from ml_connector.core.gl import CategoryMappingRule, build_gl_map, coverage_report
from ml_connector.core.model import Category, GLAccount
from ml_connector.core.ping import (
    Check,
    Verdict,
    judge_business,
    judge_coverage,
    judge_entities,
    judge_scopes,
    overall,
)


def _check(verdict: Verdict) -> Check:
    return Check(id="x", system="s", title="t", verdict=verdict, detail="")


def test_overall_is_the_worst_verdict_and_skips_do_not_hide_failures() -> None:
    assert overall([]) is Verdict.PASS
    assert overall([_check(Verdict.PASS), _check(Verdict.WARN)]) is Verdict.WARN
    assert overall([_check(Verdict.SKIP), _check(Verdict.FAIL)]) is Verdict.FAIL
    assert overall([_check(Verdict.SKIP), _check(Verdict.PASS)]) is Verdict.SKIP


def test_business_scope_and_entity_judgments_name_the_fix() -> None:
    assert judge_business("ABC", ["ABC", "DEF"]).verdict is Verdict.PASS
    wrong = judge_business("XYZ", ["ABC"])
    assert wrong.verdict is Verdict.FAIL
    assert "connect freshbooks" in wrong.fix
    assert judge_business(None, ["ABC"]).verdict is Verdict.WARN
    assert judge_business("ABC", []).verdict is Verdict.FAIL
    missing = judge_scopes({"bills:write": "add bills:write in Ramp"})
    assert missing.verdict is Verdict.FAIL
    assert "bills:write" in missing.detail
    assert missing.fix == "add bills:write in Ramp"
    assert judge_entities(["e1", "e2"], None).verdict is Verdict.WARN
    assert judge_entities(["e1"], None).verdict is Verdict.PASS
    assert judge_entities(["e1"], "e9").verdict is Verdict.FAIL


def test_coverage_fails_on_unmapped_categories_and_inactive_accounts() -> None:
    categories = [Category(id="1", name="Travel"), Category(id="2", name="Software")]
    accounts = [
        GLAccount(id="6100", name="Travel", code="6100"),
        GLAccount(id="6200", name="Software", code="6200", active=False),
    ]
    rules = [CategoryMappingRule("6100", category_name="Travel")]
    report = coverage_report(build_gl_map(rules, categories, accounts), {"1": 3, "2": 1})
    judged = judge_coverage(report)
    assert judged.verdict is Verdict.FAIL
    assert "Software" in judged.detail
    inactive = coverage_report(
        build_gl_map([*rules, CategoryMappingRule("6200", category_id="2")], categories, accounts),
        {"1": 3, "2": 1},
    )
    assert "inactive" in judge_coverage(inactive).detail
    complete = coverage_report(build_gl_map(rules, categories, accounts), {"1": 3})
    assert judge_coverage(complete).verdict is Verdict.PASS
    assert judge_coverage(None).verdict is Verdict.WARN


def test_ping_reports_each_check_read_only(cli: CliWorld) -> None:
    connect_both(cli)
    bills_before = cli.ramp.counters.bills_created
    result = cli.invoke("ping", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    by_id = {c["id"]: c for c in data["checks"]}
    assert by_id["freshbooks.identity"]["verdict"] == "pass"
    assert by_id["ramp.scopes"]["verdict"] == "pass"
    assert by_id["ramp.token"]["latency_ms"] is not None
    # Nothing is set up yet: warnings that say setup will handle them, no failures.
    assert by_id["mapping.coverage"]["verdict"] == "warn"
    assert data["verdict"] == "warn"
    assert cli.ramp.counters.bills_created == bills_before
    assert cli.ramp.counters.vendors_created == 0
    table = cli.invoke("ping")
    assert "Ramp scopes" in table.stdout
    assert cli.invoke("ping", "--strict").exit_code == ExitCode.FAILED


def test_ping_fails_with_the_fix_when_a_scope_is_missing(cli: CliWorld) -> None:
    connect_both(cli)
    client = next(iter(cli.ramp.test_business.clients.values()))
    client.allowed_scopes = client.allowed_scopes - {"bills:write"}
    cli.ramp.tokens.clear()
    result = cli.invoke("ping", "--json")
    assert result.exit_code == ExitCode.FAILED
    scopes = next(c for c in json.loads(result.stdout)["checks"] if c["id"] == "ramp.scopes")
    assert scopes["verdict"] == "fail"
    assert "bills:write" in scopes["fix"]
