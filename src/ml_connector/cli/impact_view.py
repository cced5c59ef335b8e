"""How the CLI shows a mapping change's impact: a count, then each object's field diff."""

from __future__ import annotations

from typing import Any

from ml_connector.cli.output import Output, jsonable
from ml_connector.core.impact import ImpactReport


def impact_json(report: ImpactReport) -> dict[str, Any]:
    return {
        "from_version": report.from_version,
        "examined": report.examined,
        "affected": report.count,
        "objects": [
            {
                "object": f"{o.subject.kind.value}:{o.subject.id}",
                "ramp": f"{o.ramp_kind}:{o.ramp_id}",
                "outcome": o.outcome.value,
                "request": o.request,
                "reason": o.reason,
                "changes": [
                    {"field": c.path, "before": jsonable(c.before), "after": jsonable(c.after)}
                    for c in o.changes
                ],
            }
            for o in report.objects
        ],
        "not_compared": [
            {"object": f"{s.kind.value}:{s.id}", "why": why} for s, why in report.skipped
        ],
    }


def show_impact(out: Output, impact: dict[str, Any]) -> None:
    out.say(
        f"{impact['affected']} of {impact['examined']} synced objects would change "
        f"(compared with version {impact['from_version']}); nothing saved"
    )
    for obj in impact["objects"]:
        out.table(
            ["field", "now", "after"],
            [(c["field"], c["before"], c["after"]) for c in obj["changes"]],
            title=f"{obj['object']} → {obj['ramp']}: {obj['outcome']}"
            + (f" ({obj['request']})" if obj["request"] else "")
            + f" — {obj['reason']}",
        )


__all__ = ["impact_json", "show_impact"]
