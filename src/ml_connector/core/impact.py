"""What a mapping change does to objects already in Ramp: which ones, and field by field.

Pure. For each synced object the sync layer plans it twice *as if Ramp needed the full
write* — once with the current mapping, once with the proposed one — so the two plans
carry the complete payloads whatever the link's stored hash says. Their difference is
the mapping change's effect on that object, and nothing else: a FreshBooks edit that has
not synced yet shows up in both plans alike and cancels out.

Whether the change can actually reach Ramp is read from a third plan, the real one (the
new mapping against the stored link and the live Ramp object): a write means the object
will be re-pushed, a review means it will be parked with that reason (a paid bill, a
locked transaction, a category the new mapping leaves unmapped), a skip means Ramp
already holds the new values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ml_connector.core.actions import (
    Action,
    CodeTransaction,
    CreateBill,
    CreateVendor,
    LinkVendor,
    PendingRef,
    Review,
    SetMemo,
    Skip,
    Subject,
    UpdateBill,
    Wait,
)

__all__ = [
    "FieldChange",
    "ImpactReport",
    "ObjectImpact",
    "Outcome",
    "desired_state",
    "diff",
    "object_impact",
]


class Outcome(StrEnum):
    REPUSH = "re-push"
    """The new mapping changes what Ramp should hold; the object's sync will write it."""
    RELINK = "relink"
    """A vendor now points at another Ramp vendor (no Ramp write; its bills follow)."""
    BLOCKED = "blocked"
    """The change cannot be written as is; the object's sync parks it with `reason`."""


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One leaf of a Ramp payload that differs: `path` like ``line_items[2].memo``."""

    path: str
    before: Any
    after: Any


@dataclass(frozen=True, kw_only=True)
class ObjectImpact:
    subject: Subject
    ramp_kind: str
    ramp_id: str
    outcome: Outcome
    reason: str
    """Why (the planned action's reason, or the review's)."""
    request: str | None
    """The Ramp request the sync will send (``PATCH /bills/…``), when it writes."""
    changes: tuple[FieldChange, ...] = ()


@dataclass(frozen=True, kw_only=True)
class ImpactReport:
    connection_id: int
    from_version: int | None
    examined: int
    """Synced objects compared."""
    objects: tuple[ObjectImpact, ...] = ()
    skipped: tuple[tuple[Subject, str], ...] = field(default=())
    """Synced objects that could not be compared, and why (e.g. deleted in FreshBooks)."""

    @property
    def count(self) -> int:
        return len(self.objects)

    def by_outcome(self, outcome: Outcome) -> tuple[ObjectImpact, ...]:
        return tuple(o for o in self.objects if o.outcome is outcome)


def _plain(value: Any) -> Any:
    if isinstance(value, PendingRef):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def desired_state(actions: Sequence[Action], linked_ramp_id: str | None = None) -> dict[str, Any]:
    """What the actions would make Ramp hold, keyed by target (``bill``, ``coding``…).

    A vendor plan that keeps the stored link (a skip) still "holds" that link, so a
    vendor-link edit reads as a change from the old Ramp vendor to the new one.
    """
    out: dict[str, Any] = {}
    for action in actions:
        if isinstance(action, CreateBill | UpdateBill):
            out["bill"] = _plain(action.content)
        elif isinstance(action, CodeTransaction):
            out["coding"] = _plain(action.payload)
        elif isinstance(action, SetMemo):
            out["memo"] = _plain(action.payload)
        elif isinstance(action, LinkVendor):
            out["vendor"] = {"ramp_vendor_id": action.ramp_vendor_id}
        elif isinstance(action, CreateVendor):
            out["vendor"] = {"ramp_vendor_id": None, "create": _plain(action.payload)}
        elif isinstance(action, Skip) and action.subject.kind.value == "vendor" and linked_ramp_id:
            out["vendor"] = {"ramp_vendor_id": linked_ramp_id}
    return out


def diff(before: Any, after: Any, path: str = "") -> list[FieldChange]:
    """Leaf-level differences between two JSON-like values, in document order."""
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        out: list[FieldChange] = []
        for key in dict.fromkeys([*before.keys(), *after.keys()]):
            sub = f"{path}.{key}" if path else str(key)
            out.extend(diff(before.get(key), after.get(key), sub))
        return out
    if isinstance(before, list) and isinstance(after, list):
        out = []
        for i in range(max(len(before), len(after))):
            out.extend(
                diff(
                    before[i] if i < len(before) else None,
                    after[i] if i < len(after) else None,
                    f"{path}[{i + 1}]",
                )
            )
        return out
    return [] if before == after else [FieldChange(path, before, after)]


_WRITES = (CreateBill, UpdateBill, CodeTransaction, SetMemo, CreateVendor)


def _review(actions: Sequence[Action], subject: Subject) -> Review | None:
    return next((a for a in actions if isinstance(a, Review) and a.subject == subject), None)


def _verdict(
    subject: Subject, after: Sequence[Action], real: Sequence[Action], newly_reviewed: bool
) -> tuple[Outcome, str, str | None] | None:
    """(outcome, reason, request) from the plans, or None when Ramp already agrees."""
    if newly_reviewed:
        review = _review(after, subject)
        assert review is not None
        return Outcome.BLOCKED, review.reason, None
    write = next((a for a in real if isinstance(a, _WRITES) and a.subject == subject), None)
    if write is not None:
        return Outcome.REPUSH, write.reason, f"{write.method} {write.path}"
    relink = next((a for a in real if isinstance(a, LinkVendor) and a.subject == subject), None)
    if relink is not None:
        return Outcome.RELINK, relink.reason, None
    parked = _review(real, subject) or next((a for a in real if isinstance(a, Wait)), None)
    if parked is not None:
        return Outcome.BLOCKED, parked.reason, None
    # Only skips: Ramp already holds the new values (synced under them before).
    return None


def object_impact(
    subject: Subject,
    *,
    ramp_kind: str,
    ramp_id: str,
    before: Sequence[Action],
    after: Sequence[Action],
    real: Sequence[Action],
) -> ObjectImpact | None:
    """The mapping change's effect on one synced object, or None when it has none.

    Args:
        before: the full-write plan under the current mapping.
        after: the full-write plan under the proposed mapping.
        real: the proposed mapping's plan against the stored link and live Ramp state.
    """
    anchor = ramp_id if ramp_kind == "vendor" else None
    changes = tuple(diff(desired_state(before, anchor), desired_state(after, anchor)))
    newly_reviewed = _review(after, subject) is not None and _review(before, subject) is None
    if not changes and not newly_reviewed:
        return None
    verdict = _verdict(subject, after, real, newly_reviewed)
    if verdict is None:
        return None
    outcome, reason, request = verdict
    return ObjectImpact(
        subject=subject, ramp_kind=ramp_kind, ramp_id=ramp_id, outcome=outcome,
        reason=reason, request=request, changes=changes,
    )  # fmt: skip
