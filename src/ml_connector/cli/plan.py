"""`ml-connector plan`: the exact Ramp writes a sync would make now, and why. No writes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

import typer

from ml_connector.cli.audit import parse_object
from ml_connector.cli.context import (
    ConnectionOption,
    JsonOption,
    open_runtime,
    resolve_connection,
    run,
)
from ml_connector.cli.errors import CliError, ExitCode, guard
from ml_connector.cli.output import Output, jsonable
from ml_connector.core.actions import Action, PendingRef, Subject
from ml_connector.core.model import FreshBooksKind
from ml_connector.sync.planning import plan_connection, plan_object

_KINDS = {
    "vendors": FreshBooksKind.VENDOR,
    "bills": FreshBooksKind.BILL,
    "expenses": FreshBooksKind.EXPENSE,
}
_DETAILS = (
    "ramp_vendor_id",
    "ramp_bill_id",
    "ramp_transaction_id",
    "rule",
    "confidence",
    "code",
    "problems",
    "candidates",
    "until",
)


def _plain(value: Any) -> Any:
    """JSON-ready payload; ids created earlier in the same plan read as placeholders."""
    if isinstance(value, PendingRef):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return jsonable(value)


def action_view(action: Action) -> dict[str, Any]:
    """One action as the CLI and `--json` show it: what, why, and the exact request."""
    view: dict[str, Any] = {
        "action": action.kind.value,
        "reason": action.reason,
        "explanation": list(action.explanation),
    }
    method = getattr(action, "method", None)
    if method is not None:
        view["request"] = {
            "method": method,
            "path": f"/developer/v1{action.path}",  # type: ignore[union-attr]
            "payload": _plain(getattr(action, "payload", None)),
        }
    for name in _DETAILS:
        if hasattr(action, name):
            view[name] = _plain(getattr(action, name))
    return view


def plan(
    ctx: typer.Context,
    *,
    connection: ConnectionOption = None,
    object_ref: Annotated[
        str | None,
        typer.Option("--object", help="One object: bill:ID, vendor:ID or expense:ID."),
    ] = None,
    kind: Annotated[
        list[str] | None,
        typer.Option(help="Only these: vendors, bills, expenses (default: all three)."),
    ] = None,
    limit: Annotated[
        int | None, typer.Option(min=1, help="At most this many objects per kind.")
    ] = None,
    changes_only: Annotated[
        bool, typer.Option("--changes-only", help="Hide objects whose plan is only a skip.")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Dry run: per FreshBooks object, the Ramp writes a sync would make now and why.

    Shows which vendor rule matched, which GL and cost-center rules fired, and what would
    be skipped, wait, or go to review. Reads both systems; writes nothing anywhere.
    """
    out = Output(json_mode=json_output)
    with guard(out.err):
        kinds = _chosen_kinds(kind)
        single = parse_syncable(object_ref) if object_ref else None

    async def work() -> list[tuple[Subject, tuple[Action, ...]]]:
        async with open_runtime(ctx) as runtime:
            conn = await resolve_connection(runtime, connection)
            if single is not None:
                fb_kind, fb_id = single
                actions = await plan_object(runtime, conn.id, fb_kind.value, fb_id)
                return [(Subject(fb_kind, fb_id), actions)]
            results: list[tuple[Subject, tuple[Action, ...]]] = []
            progress = out.err.status("planning…") if not json_output else None
            if progress is not None:
                progress.start()
            try:
                async for subject, actions in plan_connection(
                    runtime, conn.id, kinds=kinds, limit=limit
                ):
                    results.append((subject, actions))
                    if progress is not None:
                        progress.update(f"planning… {len(results)} objects")
            finally:
                if progress is not None:
                    progress.stop()
            return results

    planned = run(out, work)
    shown = [
        (s, a) for s, a in planned if not changes_only or any(x.kind.value != "skip" for x in a)
    ]
    totals = Counter(a.kind.value for _, actions in planned for a in actions)
    if json_output:
        out.emit_json(
            {
                "objects": [
                    {
                        "subject": {"kind": s.kind.value, "id": s.id},
                        "actions": [action_view(a) for a in actions],
                    }
                    for s, actions in shown
                ],
                "totals": dict(sorted(totals.items())),
            }
        )
        return
    render(out, shown, totals)


def render(
    out: Output, planned: Sequence[tuple[Subject, tuple[Action, ...]]], totals: Counter[str]
) -> None:
    for subject, actions in planned:
        out.out.print(f"[bold]{subject}[/]", highlight=False)
        for action in actions:
            view = action_view(action)
            request = view.get("request")
            head = f"{request['method']} {request['path']}" if request else view["action"]
            out.say(f"  {view['action']:<24} {head}")
            out.say(f"    why: {action.reason}")
            for line in action.explanation:
                out.say(f"      · {line}")
    out.say("")
    summary = ", ".join(f"{n} {k}" for k, n in sorted(totals.items())) or "nothing"
    out.say(f"{len(planned)} object(s) shown; actions: {summary}")


def _chosen_kinds(kind: list[str] | None) -> tuple[FreshBooksKind, ...]:
    if not kind:
        return tuple(_KINDS.values())
    unknown = [k for k in kind if k not in _KINDS]
    if unknown:
        raise CliError(
            f"unknown kind {unknown[0]!r}", code=ExitCode.USAGE, hint="vendors, bills or expenses"
        )
    return tuple(_KINDS[k] for k in kind)


def parse_syncable(ref: str) -> tuple[FreshBooksKind, str]:
    object_type, ident, is_freshbooks = parse_object(ref)
    mapping = {
        "bill": FreshBooksKind.BILL,
        "bill_vendor": FreshBooksKind.VENDOR,
        "expense": FreshBooksKind.EXPENSE,
    }
    if not is_freshbooks or object_type not in mapping:
        raise CliError(
            f"cannot plan {ref!r}", code=ExitCode.USAGE, hint="use bill:ID, vendor:ID or expense:ID"
        )
    return mapping[object_type], ident


__all__ = ["action_view", "parse_syncable", "plan"]
