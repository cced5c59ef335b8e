"""Verdicts of `ping`, the read-only "see if we fit" check of both systems. Pure.

The I/O side (`sync.ping`) gathers facts and times each call; the judgments — what is
a pass, a warning or a failure, and what to do about it — are decided here from those
facts so that they can be tested without either system.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ml_connector.core.gl import CoverageReport


class Verdict(StrEnum):
    PASS = "pass"  # noqa: S105 - a verdict, not a password
    WARN = "warn"
    """Works, but something will need a decision (setup does most of these)."""
    FAIL = "fail"
    """The sync cannot work until this is fixed."""
    SKIP = "skip"
    """Not checked because an earlier check it depends on failed."""


_SEVERITY = {Verdict.PASS: 0, Verdict.SKIP: 1, Verdict.WARN: 2, Verdict.FAIL: 3}


@dataclass(frozen=True, kw_only=True)
class Check:
    """One check's outcome. `fix` says what to do when the verdict is not a pass."""

    id: str
    system: str
    title: str
    verdict: Verdict
    detail: str
    fix: str = ""
    latency_ms: float | None = None
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Judgment:
    verdict: Verdict
    detail: str
    fix: str = ""


def overall(checks: Iterable[Check]) -> Verdict:
    """The worst verdict (a skip never outranks the failure that caused it)."""
    worst = Verdict.PASS
    for check in checks:
        if _SEVERITY[check.verdict] > _SEVERITY[worst]:
            worst = check.verdict
    return worst


def judge_business(account_id: str | None, reachable: Sequence[str]) -> Judgment:
    """Is the connection's FreshBooks business among those the token can reach?"""
    if not reachable:
        return Judgment(
            Verdict.FAIL,
            "the authorized FreshBooks user has no business with accounting access",
            "authorize as an owner or admin of the business: `ml-connector connect freshbooks`",
        )
    if account_id is None:
        return Judgment(
            Verdict.WARN,
            f"{len(reachable)} business(es) reachable; none chosen yet",
            "finish `ml-connector connect freshbooks` (pick --account-id)",
        )
    if account_id not in reachable:
        return Judgment(
            Verdict.FAIL,
            f"business {account_id} is not reachable with this authorization "
            f"(reachable: {', '.join(reachable)})",
            "authorize the user who owns that business: `ml-connector connect freshbooks`",
        )
    return Judgment(Verdict.PASS, f"business {account_id} reachable")


def judge_readable(what: str, count: int | None, *, capped: bool = False) -> Judgment:
    if count is None:
        return Judgment(Verdict.FAIL, f"{what} are not readable")
    shown = f"{count}+" if capped else str(count)
    return Judgment(Verdict.PASS, f"{shown} {what} readable")


def judge_scopes(missing: Mapping[str, str]) -> Judgment:
    """`missing`: scope → remediation text."""
    if not missing:
        return Judgment(Verdict.PASS, "every scope the sync needs is granted")
    return Judgment(
        Verdict.FAIL,
        f"missing scope(s): {', '.join(sorted(missing))}",
        " ".join(missing[s] for s in sorted(missing)),
    )


def judge_entities(entity_ids: Sequence[str], chosen: str | None) -> Judgment:
    if not entity_ids:
        return Judgment(
            Verdict.FAIL,
            "the Ramp business has no entity; bills need one",
            "check the API client belongs to the right Ramp business",
        )
    if chosen is None:
        if len(entity_ids) == 1:
            return Judgment(Verdict.PASS, "one entity; setup will use it")
        return Judgment(
            Verdict.WARN,
            f"{len(entity_ids)} entities; none chosen for this connection",
            "choose the entity bills belong to during setup (or `connect ramp --entity-id`)",
        )
    if chosen not in entity_ids:
        return Judgment(
            Verdict.FAIL,
            f"the chosen entity {chosen} does not exist in Ramp",
            "choose an existing entity during setup",
        )
    return Judgment(Verdict.PASS, f"entity {chosen} exists")


def judge_accounting_connection(active: Sequence[str], *, ours: str | None = None) -> Judgment:
    """`active`: provider names of active accounting connections; `ours`: the name setup uses."""
    if not active:
        return Judgment(
            Verdict.WARN,
            "no accounting connection in Ramp yet",
            "setup creates an API accounting connection for the GL accounts",
        )
    name = active[0]
    if ours is not None and name != ours:
        return Judgment(
            Verdict.WARN,
            f"Ramp is linked to {name!r}; GL accounts come from it and may be read-only",
            "keep that link and map categories to its GL accounts, or unlink it in Ramp first",
        )
    return Judgment(Verdict.PASS, f"accounting connection {name!r} active")


def judge_gl_accounts(active: int, inactive: int) -> Judgment:
    if active == 0:
        return Judgment(
            Verdict.WARN,
            f"no active GL accounts ({inactive} inactive)",
            "setup uploads a chart derived from the FreshBooks categories",
        )
    return Judgment(Verdict.PASS, f"{active} active GL accounts ({inactive} inactive)")


def judge_coverage(report: CoverageReport | None) -> Judgment:
    """Mapping coverage of the categories actually used by bills and expenses."""
    if report is None:
        return Judgment(
            Verdict.WARN,
            "no mapping yet",
            "run setup to get a suggested mapping, or `ml-connector mappings import FILE`",
        )
    problems: list[str] = []
    if report.unmapped:
        names = ", ".join(c.name for c, *_ in report.unmapped[:5])
        more = "" if len(report.unmapped) <= 5 else f" and {len(report.unmapped) - 5} more"
        problems.append(f"{len(report.unmapped)} categories in use map nowhere ({names}{more})")
    if report.to_missing:
        problems.append(
            f"{len(report.to_missing)} mapping(s) point at GL accounts Ramp does not have ("
            + ", ".join(f"{label} → {ref}" for label, ref in report.to_missing[:5])
            + ")"
        )
    if report.to_inactive:
        problems.append(
            f"{len(report.to_inactive)} mapping(s) point at inactive GL accounts ("
            + ", ".join(f"{label} → {a.code or a.id}" for label, a in report.to_inactive[:5])
            + ")"
        )
    if report.unknown_categories:
        problems.append(
            f"{len(report.unknown_categories)} mapping(s) name categories FreshBooks does not have"
        )
    if problems:
        # Unmapped categories park their bills; broken mappings park them too. Either way
        # the rest flows, so this is a failure of fit, not of the connection.
        return Judgment(
            Verdict.FAIL,
            "; ".join(problems),
            "edit the mapping (Mappings page or `ml-connector mappings export`/`import`)",
        )
    return Judgment(
        Verdict.PASS,
        f"{len(report.in_use)} categories in use, all coded to active GL accounts",
    )


__all__ = [
    "Check",
    "Judgment",
    "Verdict",
    "judge_accounting_connection",
    "judge_business",
    "judge_coverage",
    "judge_entities",
    "judge_gl_accounts",
    "judge_readable",
    "judge_scopes",
    "overall",
]
