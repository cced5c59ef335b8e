"""The demo's closing tally: every FreshBooks object is in Ramp, waiting for a person, or skipped.

"Nothing lost, nothing duplicated" is only worth saying if it is counted. Per object kind
(bill vendors, bills, expenses) each FreshBooks object is put in exactly one place:

- **in Ramp** — the connector links it to a Ramp object *and Ramp itself has that object*
  (read from Ramp, not from our links, so a link to nothing is caught);
- **waiting for review** — not in Ramp, and its sync job is parked ("attention") or dead,
  with its reason (an object already in Ramp whose later change is parked counts as in
  Ramp; its job is still listed as needing a person);
- **skipped** — its last sync outcome wrote nothing on purpose (deleted before it was
  ever synced, a policy that skips it), with the reason the plan gave; an object deleted
  in FreshBooks that the connector never saw is skipped for that reason;
- **unaccounted** — anything else (still queued, or linked to a Ramp object that is not
  there). There must be none.

So FreshBooks = Ramp + waiting + skipped holds exactly when nothing is unaccounted. Duplicates
are counted from Ramp too: two live Ramp bills carrying one FreshBooks object's
`remote_id`, a Ramp bill of ours that no link claims, one card transaction linked to two
expenses, and the vendors Ramp saw created twice under one name.

The caller reads both systems (the demo reads its emulators) and passes plain values, so
this module depends on neither.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ml_connector.core.model import FreshBooksKind, RampKind
from ml_connector.core.plan_context import freshbooks_ref
from ml_connector.queue import WAITING, JobState, list_jobs
from ml_connector.store import audit, read
from ml_connector.store import links as links_store
from ml_connector.sync.kinds import Kind
from ml_connector.sync.trail import Step

__all__ = [
    "KindTally",
    "RampView",
    "SourceObject",
    "Tally",
    "tally_connection",
]

_NOT_SEEN_DELETED = "deleted in FreshBooks before the connector listed it"
_PAGE = 1000


@dataclass(frozen=True, kw_only=True)
class SourceObject:
    """One FreshBooks object as FreshBooks itself has it."""

    fb_id: str
    deleted: bool = False


@dataclass(frozen=True, kw_only=True)
class RampView:
    """What the Ramp business holds, read from Ramp."""

    vendor_ids: frozenset[str]
    bills: Mapping[str, str | None]
    """Ramp bill id → its `remote_id`."""
    archived_bill_ids: frozenset[str]
    coded_transaction_ids: frozenset[str]
    """Card transactions carrying GL coding or a memo."""
    vendors_created_twice: int = 0
    """Vendor creations Ramp saw under a name it already had."""


@dataclass(frozen=True, kw_only=True)
class KindTally:
    """Where every FreshBooks object of one kind ended up."""

    kind: str
    """`bill_vendors`, `bills` or `expenses`."""
    in_freshbooks: int
    deleted_in_freshbooks: int
    in_ramp: int
    archived_in_ramp: int
    """Of `in_ramp`: Ramp bills archived because FreshBooks deleted the bill."""
    waiting_for_review: int
    skipped: int
    skipped_reasons: dict[str, int] = field(default_factory=dict)
    unaccounted: dict[str, str] = field(default_factory=dict)
    """FreshBooks id → why it is in none of the three places."""
    duplicates: int = 0
    duplicate_details: list[str] = field(default_factory=list)

    @property
    def balanced(self) -> bool:
        return (
            not self.unaccounted
            and self.duplicates == 0
            and self.in_freshbooks == self.in_ramp + self.waiting_for_review + self.skipped
        )

    @property
    def equation(self) -> str:
        sign = (
            "="
            if self.in_freshbooks == self.in_ramp + self.waiting_for_review + self.skipped
            else "≠"
        )
        text = (
            f"{self.in_freshbooks} {self.kind} in FreshBooks {sign} {self.in_ramp} in Ramp"
            f" + {self.waiting_for_review} waiting for review + {self.skipped} skipped"
        )
        if self.unaccounted:
            text += f" ({len(self.unaccounted)} unaccounted)"
        return text + f"; {self.duplicates} duplicates"

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "in_freshbooks": self.in_freshbooks,
            "deleted_in_freshbooks": self.deleted_in_freshbooks,
            "in_ramp": self.in_ramp,
            "archived_in_ramp": self.archived_in_ramp,
            "waiting_for_review": self.waiting_for_review,
            "skipped": self.skipped,
            "skipped_reasons": dict(self.skipped_reasons),
            "unaccounted": dict(self.unaccounted),
            "duplicates": self.duplicates,
            "duplicate_details": list(self.duplicate_details),
            "balanced": self.balanced,
            "equation": self.equation,
        }


@dataclass(frozen=True)
class Tally:
    kinds: tuple[KindTally, ...]

    @property
    def balanced(self) -> bool:
        return all(k.balanced for k in self.kinds)

    def problems(self) -> list[str]:
        return [f"does not reconcile: {k.equation}" for k in self.kinds if not k.balanced]


@dataclass(frozen=True)
class _Shape:
    """How one FreshBooks kind is stored: its names in links, audit and the queue."""

    name: str
    fb_type: str
    ramp_types: tuple[RampKind, ...]
    job_kind: Kind
    ref_kind: str | None
    """The kind in our `remote_id` on Ramp bills, if this kind can become a Ramp bill."""


_VENDORS = _Shape(
    "bill_vendors", FreshBooksKind.VENDOR.value, (RampKind.VENDOR,), Kind.SYNC_VENDOR, None
)
_BILLS = _Shape("bills", FreshBooksKind.BILL.value, (RampKind.BILL,), Kind.SYNC_BILL, "bill")
_EXPENSES = _Shape(
    "expenses",
    FreshBooksKind.EXPENSE.value,
    (RampKind.TRANSACTION, RampKind.BILL),
    Kind.SYNC_EXPENSE,
    "expense",
)


async def _jobs_by_object(
    db: AsyncConnection, connection_id: int, kind: Kind, states: Iterable[JobState]
) -> dict[str, str]:
    """FreshBooks id → the newest matching job's error (or state), for one job kind."""
    wanted = tuple(states)
    found: dict[str, str] = {}
    offset = 0
    while True:
        page = await list_jobs(
            db, states=wanted, kind=kind.value, connection_id=connection_id,
            limit=_PAGE, offset=offset,
        )  # fmt: skip
        for job in page:
            fb_id = job.args.get("fb_id")
            if fb_id is not None:
                found.setdefault(str(fb_id), job.last_error or job.state.value)
        if len(page) < _PAGE:
            return found
        offset += _PAGE


async def _last_outcome(
    db: AsyncConnection, connection_id: int, fb_type: str, fb_id: str
) -> Mapping[str, Any] | None:
    entries = await audit.for_fb_object(
        db, fb_id=fb_id, object_type=fb_type, connection_id=connection_id
    )
    for entry in reversed(entries):
        if entry.step == Step.OUTCOME and entry.fb_id == fb_id and isinstance(entry.detail, dict):
            return entry.detail
    return None


async def _links(
    db: AsyncConnection, shape: _Shape, connection_id: int, fb_id: str
) -> list[links_store.Link]:
    found = []
    for ramp_type in shape.ramp_types:
        link = await links_store.get(
            db,
            connection_id=connection_id,
            fb_type=shape.fb_type,
            fb_id=fb_id,
            ramp_type=ramp_type.value,
        )
        if link is not None and link.ramp_id is not None:
            found.append(link)
    return found


def _skip_reason(outcome: Mapping[str, Any]) -> str:
    reasons = [r for r in outcome.get("reasons", ()) if isinstance(r, str) and r]
    if reasons:
        return reasons[0]
    reason = outcome.get("reason")
    return reason if isinstance(reason, str) and reason else str(outcome.get("result"))


def _in_ramp(ramp_type: str, ramp_id: str, ramp: RampView) -> bool:
    if ramp_type == RampKind.VENDOR.value:
        return ramp_id in ramp.vendor_ids
    if ramp_type == RampKind.BILL.value:
        return ramp_id in ramp.bills
    return ramp_id in ramp.coded_transaction_ids


async def _tally_kind(
    db: AsyncConnection,
    shape: _Shape,
    *,
    connection_id: int,
    account_id: str,
    objects: Sequence[SourceObject],
    ramp: RampView,
) -> KindTally:
    parked = await _jobs_by_object(
        db, connection_id, shape.job_kind, (JobState.ATTENTION, JobState.DEAD)
    )
    queued = await _jobs_by_object(db, connection_id, shape.job_kind, WAITING)
    in_ramp = archived = waiting = 0
    skipped: Counter[str] = Counter()
    unaccounted: dict[str, str] = {}
    linked_ramp_ids: Counter[str] = Counter()
    twice: list[str] = []
    for obj in objects:
        links = await _links(db, shape, connection_id, obj.fb_id)
        present = [link for link in links if _in_ramp(link.ramp_type, str(link.ramp_id), ramp)]
        for link in present:
            linked_ramp_ids[f"{link.ramp_type}:{link.ramp_id}"] += 1
        if len(present) > 1:
            twice.append(
                f"FreshBooks {shape.fb_type} {obj.fb_id} is in Ramp twice: "
                + ", ".join(f"{link.ramp_type} {link.ramp_id}" for link in present)
            )
        if present:
            in_ramp += 1
            archived += any(link.ramp_id in ramp.archived_bill_ids for link in present)
        elif obj.fb_id in parked:
            waiting += 1
        elif obj.fb_id in queued:
            unaccounted[obj.fb_id] = f"still queued: {queued[obj.fb_id]}"
        elif links:
            unaccounted[obj.fb_id] = (
                f"linked to Ramp {links[0].ramp_type} {links[0].ramp_id}, which Ramp does not have"
            )
        elif (outcome := await _last_outcome(db, connection_id, shape.fb_type, obj.fb_id)) and (
            outcome.get("result") in ("unchanged", "not_found")
        ):
            skipped[_skip_reason(outcome)] += 1
        elif obj.deleted and outcome is None:
            skipped[_NOT_SEEN_DELETED] += 1
        else:
            unaccounted[obj.fb_id] = (
                "no sync outcome recorded"
                if outcome is None
                else f"last outcome {outcome.get('result')!r} left nothing in Ramp"
            )
    duplicates = twice + [
        f"Ramp {key} is linked to {n} FreshBooks {shape.name}"
        for key, n in sorted(linked_ramp_ids.items())
        if n > 1 and not key.startswith(f"{RampKind.VENDOR.value}:")
    ]
    duplicates += _bill_duplicates(shape, account_id, objects, ramp, linked_ramp_ids)
    if shape is _VENDORS and ramp.vendors_created_twice:
        duplicates.append(
            f"Ramp saw {ramp.vendors_created_twice} vendor(s) created under a name it already had"
        )
    return KindTally(
        kind=shape.name,
        in_freshbooks=len(objects),
        deleted_in_freshbooks=sum(o.deleted for o in objects),
        in_ramp=in_ramp,
        archived_in_ramp=archived,
        waiting_for_review=waiting,
        skipped=sum(skipped.values()),
        skipped_reasons=dict(sorted(skipped.items())),
        unaccounted=unaccounted,
        duplicates=len(duplicates),
        duplicate_details=duplicates,
    )


def _bill_duplicates(
    shape: _Shape,
    account_id: str,
    objects: Sequence[SourceObject],
    ramp: RampView,
    linked: Counter[str],
) -> list[str]:
    """Ramp bills carrying this kind's `remote_id`: one live bill per object, each linked."""
    if shape.ref_kind is None:
        return []
    wanted = {freshbooks_ref(account_id, shape.ref_kind, o.fb_id) for o in objects}
    prefix = freshbooks_ref(account_id, shape.ref_kind, "")
    live: Counter[str] = Counter()
    out: list[str] = []
    for bill_id, remote_id in sorted(ramp.bills.items()):
        if remote_id is None or not remote_id.startswith(prefix):
            continue
        if remote_id not in wanted:
            out.append(f"Ramp bill {bill_id} carries {remote_id}, which FreshBooks does not have")
        elif not linked[f"{RampKind.BILL.value}:{bill_id}"]:
            out.append(f"Ramp bill {bill_id} ({remote_id}) is linked to no FreshBooks object")
        if bill_id not in ramp.archived_bill_ids:
            live[remote_id] += 1
    out += [f"{n} live Ramp bills carry {ref}" for ref, n in sorted(live.items()) if n > 1]
    return out


async def tally_connection(
    engine: AsyncEngine,
    *,
    connection_id: int,
    account_id: str,
    vendors: Sequence[SourceObject],
    bills: Sequence[SourceObject],
    expenses: Sequence[SourceObject],
    ramp: RampView,
) -> Tally:
    """Account for every FreshBooks object of one connection (read-only)."""
    async with read(engine) as db:
        kinds = []
        for shape, objects in ((_VENDORS, vendors), (_BILLS, bills), (_EXPENSES, expenses)):
            kinds.append(
                await _tally_kind(
                    db,
                    shape,
                    connection_id=connection_id,
                    account_id=account_id,
                    objects=objects,
                    ramp=ramp,
                )
            )
    return Tally(tuple(kinds))
