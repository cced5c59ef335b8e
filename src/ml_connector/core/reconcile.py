"""Month-end reconciliation: what Ramp should hold for a period's bills against what it holds.

Pure; no I/O. The sync layer reads both systems and hands each FreshBooks bill over as a
`FreshBooksSide` (the bill, the planner's verdict under the mapping version recorded on its
link, and the content the planner says Ramp should hold) and each Ramp bill as a `RampSide`
(its content rebuilt in the planner's shape). Three hashes then say who changed what:

- the link's hash: what we last wrote;
- the planner's hash: what FreshBooks says Ramp should hold now;
- the Ramp hash: what Ramp holds now.

Planner ≠ link and Ramp = link → FreshBooks changed since our last write: heal re-pushes it.
Ramp ≠ link → somebody edited Ramp by hand: flagged, never overwritten (even when FreshBooks
changed too, because re-pushing would silently undo the person's edit).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

from ml_connector.core.actions import Action, Review, UpdateBill
from ml_connector.core.hashing import content_hash
from ml_connector.core.model import Bill, FreshBooksKind, Link, RampKind, Vendor
from ml_connector.core.plan import ARCHIVED_HASH, PlanContext, plan_bill

__all__ = [
    "DIMENSIONS",
    "Difference",
    "Entry",
    "FreshBooksSide",
    "Period",
    "RampLine",
    "RampSide",
    "Report",
    "Status",
    "TotalRow",
    "expected_bill_content",
    "reconcile",
    "report_document",
]

DIMENSIONS = ("vendor", "gl_account", "cost_center", "month")
UNCODED = "(uncoded)"


class Status(StrEnum):
    MATCH = "match"
    ORPHAN_IN_FRESHBOOKS = "orphan_in_freshbooks"
    ORPHAN_IN_RAMP = "orphan_in_ramp"
    DRIFT_FROM_FRESHBOOKS = "drift_from_freshbooks"
    DRIFT_FROM_RAMP = "drift_from_ramp"
    WAITING_FOR_REVIEW = "waiting_for_review"

    @property
    def is_difference(self) -> bool:
        """Orphans and drift are differences; reviews are listed apart, matches are not."""
        return self not in (Status.MATCH, Status.WAITING_FOR_REVIEW)


@dataclass(frozen=True, slots=True)
class Period:
    """Inclusive range of issue dates."""

    start: date
    end: date

    @classmethod
    def month(cls, text: str) -> Period:
        """``"2026-10"`` → 2026-10-01..2026-10-31; ValueError for anything else."""
        year_text, sep, month_text = text.strip().partition("-")
        if not sep or len(year_text) != 4 or len(month_text) != 2:
            raise ValueError(f"{text!r} is not a month like 2026-10")
        year, month = int(year_text), int(month_text)
        start = date(year, month, 1)
        following = date(year + month // 12, month % 12 + 1, 1)
        return cls(start, date.fromordinal(following.toordinal() - 1))

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"the period ends ({self.end}) before it starts ({self.start})")

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end

    @property
    def label(self) -> str:
        if self.start.day == 1 and Period.month(self.start.strftime("%Y-%m")) == self:
            return self.start.strftime("%Y-%m")
        return f"{self.start.isoformat()}..{self.end.isoformat()}"


@dataclass(frozen=True, slots=True)
class RampLine:
    amount: Decimal
    gl_account: str | None
    cost_centers: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class RampSide:
    """One Ramp bill as read, with its content rebuilt in the planner's shape."""

    id: str
    remote_id: str | None
    content: Mapping[str, Any]
    currency: str
    archived: bool = False
    paid: bool = False

    @property
    def content_hash(self) -> str:
        return content_hash(dict(self.content))


@dataclass(frozen=True, slots=True, kw_only=True)
class FreshBooksSide:
    """One FreshBooks bill of the period and what the planner says about it."""

    bill: Bill
    vendor_name: str | None
    actions: tuple[Action, ...]
    expected: Mapping[str, Any] | None
    """The content Ramp should hold (None when the planner cannot produce it: review)."""
    link: Link | None
    mapping_version: int | None = None


@dataclass(frozen=True, slots=True)
class Difference:
    field: str
    freshbooks: str
    ramp: str

    def __str__(self) -> str:
        return f"{self.field}: FreshBooks says {self.freshbooks}, Ramp has {self.ramp}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Entry:
    """One object's verdict, with the reason a person reads and what heal would do."""

    status: Status
    reason: str
    fb_id: str | None = None
    ramp_id: str | None = None
    vendor: str | None = None
    issued_at: date | None = None
    currency: str | None = None
    freshbooks_amount: Decimal | None = None
    ramp_amount: Decimal | None = None
    differences: tuple[Difference, ...] = ()
    healable: bool = False
    review_code: str | None = None
    mapping_version: int | None = None

    @property
    def audit_ref(self) -> str:
        """The object as `ml-connector audit` names it (its audit timeline)."""
        return f"bill:{self.fb_id}" if self.fb_id is not None else f"ramp:{self.ramp_id}"


@dataclass(frozen=True, slots=True, kw_only=True)
class TotalRow:
    dimension: str
    key: str
    label: str
    currency: str
    freshbooks_count: int = 0
    freshbooks_amount: Decimal = Decimal(0)
    ramp_count: int = 0
    ramp_amount: Decimal = Decimal(0)

    @property
    def difference(self) -> Decimal:
        return self.ramp_amount - self.freshbooks_amount

    @property
    def agrees(self) -> bool:
        return (
            self.freshbooks_count == self.ramp_count and self.freshbooks_amount == self.ramp_amount
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    period: Period
    entries: tuple[Entry, ...]
    totals: tuple[TotalRow, ...]
    review_totals: Mapping[str, Decimal] = field(default_factory=dict)

    @property
    def differences(self) -> tuple[Entry, ...]:
        return tuple(e for e in self.entries if e.status.is_difference)

    @property
    def waiting(self) -> tuple[Entry, ...]:
        return tuple(e for e in self.entries if e.status is Status.WAITING_FOR_REVIEW)

    @property
    def healable(self) -> tuple[Entry, ...]:
        return tuple(e for e in self.entries if e.healable)

    def counts(self) -> dict[str, int]:
        out = {s.value: 0 for s in Status}
        for entry in self.entries:
            out[entry.status.value] += 1
        return out


# --- what Ramp should hold -----------------------------------------------------------


def expected_bill_content(
    bill: Bill,
    vendor: Vendor | None,
    ctx: PlanContext,
    *,
    vendor_recent_offsets: Sequence[int] = (),
) -> Mapping[str, Any] | None:
    """The content the planner would write for `bill` now, whatever was written before.

    The planner only spells the content out when it has something to write, so it is asked
    as if the bill were linked with a stale hash and Ramp's copy were unknown: that yields
    an `UpdateBill` carrying the full content, or a review (then None) when the bill
    cannot be planned at all.
    """
    if bill.vendor_id is None:
        return None
    probe = Link(
        fb_kind=FreshBooksKind.BILL,
        fb_id=bill.id,
        ramp_kind=RampKind.BILL,
        ramp_id="reconcile-probe",
        content_hash="sha256:reconcile-probe",
    )
    others = [lk for lk in ctx.links.by_fb.values() if lk.fb_kind is not FreshBooksKind.BILL]
    probing = PlanContext.build(
        ctx.config,
        ramp=replace(ctx.ramp, bills=()),
        links=[*others, probe],
        categories=ctx.categories.values(),
        today=ctx.today,
    )
    actions = plan_bill(bill, vendor, probing, vendor_recent_offsets=vendor_recent_offsets)
    update = next((a for a in actions if isinstance(a, UpdateBill)), None)
    if update is None or update.content_hash is None:
        return None
    return update.content


# --- comparison ----------------------------------------------------------------------


def _money_text(amount: Decimal | None, currency: str | None) -> str:
    return "—" if amount is None else f"{amount} {currency or ''}".strip()


def _lines(content: Mapping[str, Any], gl_field: str) -> list[RampLine]:
    out = []
    for line in content.get("line_items") or ():
        selections = {
            s["field_external_id"]: s["field_option_external_id"]
            for s in line.get("accounting_field_selections") or ()
        }
        gl = selections.pop(gl_field, None)
        out.append(
            RampLine(
                amount=Decimal(str(line["amount"])),
                gl_account=gl,
                cost_centers=tuple(f"{k}:{v}" for k, v in sorted(selections.items())),
            )
        )
    return out


def _total(content: Mapping[str, Any]) -> Decimal:
    return sum(
        (Decimal(str(line["amount"])) for line in content.get("line_items") or ()), Decimal(0)
    )


_FIELDS = (
    ("vendor_id", "vendor"),
    ("vendor_contact_id", "vendor contact"),
    ("entity_id", "entity"),
    ("invoice_number", "invoice number"),
    ("invoice_currency", "currency"),
    ("issued_at", "issue date"),
    ("due_at", "due date"),
    ("memo", "memo"),
    ("remote_id", "remote id"),
)


def compare_content(
    expected: Mapping[str, Any],
    actual: Mapping[str, Any],
    *,
    gl_field: str,
    names: Mapping[str, str] | None = None,
) -> tuple[Difference, ...]:
    """Field-by-field differences a person can read (amounts, dates, vendor, coding)."""
    names = names or {}

    def show(value: object) -> str:
        text = "—" if value in (None, "") else str(value)
        return f"{names[text]} ({text})" if text in names else text

    out: list[Difference] = []
    for key, label in _FIELDS:
        if expected.get(key) != actual.get(key):
            out.append(Difference(label, show(expected.get(key)), show(actual.get(key))))
    want, have = _lines(expected, gl_field), _lines(actual, gl_field)
    currency = str(expected.get("invoice_currency") or "")
    if len(want) != len(have):
        out.append(Difference("line count", str(len(want)), str(len(have))))
    for number, (a, b) in enumerate(zip(want, have, strict=False), start=1):
        if a.amount != b.amount:
            out.append(
                Difference(
                    f"line {number} amount",
                    _money_text(a.amount, currency),
                    _money_text(b.amount, currency),
                )
            )
        if a.gl_account != b.gl_account:
            out.append(
                Difference(f"line {number} GL account", show(a.gl_account), show(b.gl_account))
            )
        if a.cost_centers != b.cost_centers:
            out.append(
                Difference(
                    f"line {number} cost center",
                    ", ".join(show(c) for c in a.cost_centers) or "—",
                    ", ".join(show(c) for c in b.cost_centers) or "—",
                )
            )
    want_memos = [line.get("memo") for line in expected.get("line_items") or ()]
    have_memos = [line.get("memo") for line in actual.get("line_items") or ()]
    if want_memos != have_memos and len(want_memos) == len(have_memos):
        out.append(
            Difference(
                "line memos", "; ".join(map(str, want_memos)), "; ".join(map(str, have_memos))
            )
        )
    if _total(expected) != _total(actual):
        out.append(
            Difference(
                "total",
                _money_text(_total(expected), currency),
                _money_text(_total(actual), currency),
            )
        )
    return tuple(out)


def _review(actions: Iterable[Action], fb_id: str) -> Review | None:
    return next(
        (
            a
            for a in actions
            if isinstance(a, Review)
            and a.subject.kind is FreshBooksKind.BILL
            and a.subject.id == fb_id
        ),
        None,
    ) or next((a for a in actions if isinstance(a, Review)), None)


def _classify_freshbooks(  # noqa: PLR0911 - one return per verdict, read top to bottom
    side: FreshBooksSide,
    ramp: RampSide | None,
    *,
    gl_field: str,
    names: Mapping[str, str],
) -> Entry:
    bill = side.bill
    expected = side.expected
    fb_amount = (
        _total(expected)
        if expected is not None
        else (bill.total_amount.amount if bill.total_amount is not None else None)
    )
    base = Entry(
        status=Status.MATCH,
        reason="",
        fb_id=bill.id,
        vendor=side.vendor_name,
        issued_at=bill.issue_date,
        currency=bill.currency,
        freshbooks_amount=fb_amount,
        mapping_version=side.mapping_version,
    )
    review = _review(side.actions, bill.id)
    link = side.link
    if link is None:
        if review is not None:
            return replace(
            base,
                status=Status.WAITING_FOR_REVIEW, reason=review.reason,
                review_code=review.code,
            )  # fmt: skip
        if ramp is not None:
            # Our remote_id is on a Ramp bill we have no link for (a lost response, or a
            # restored database): the next sync adopts it rather than creating another.
            return replace(
            base,
                status=Status.DRIFT_FROM_FRESHBOOKS, ramp_id=ramp.id, healable=True,
                ramp_amount=_total(ramp.content),
                reason=f"Ramp bill {ramp.id} carries this bill's remote id but no link records "
                "it; a sync adopts it",
            )  # fmt: skip
        return replace(
            base,
            status=Status.ORPHAN_IN_FRESHBOOKS, healable=True,
            reason="in FreshBooks but not in Ramp: never synced (a missed webhook?)",
        )  # fmt: skip
    ramp_id = link.ramp_id
    if ramp is None:
        return replace(
            base,
            status=Status.ORPHAN_IN_FRESHBOOKS, ramp_id=ramp_id,
            reason=f"linked to Ramp bill {ramp_id}, which Ramp no longer returns; "
            "check it in Ramp before re-syncing",
        )  # fmt: skip
    ramp_amount = _total(ramp.content)
    if ramp.archived and link.content_hash != ARCHIVED_HASH:
        return replace(
            base,
            status=Status.DRIFT_FROM_RAMP, ramp_id=ramp.id, ramp_amount=ramp_amount,
            reason=f"Ramp bill {ramp.id} was archived in Ramp while the FreshBooks bill is "
            "active; flagged, not overwritten — unarchive it in Ramp or delete the "
            "FreshBooks bill",
            differences=(Difference("archived", "no", "yes"),),
        )  # fmt: skip
    ramp_changed = ramp.content_hash != link.content_hash
    if expected is None:
        reason = review.reason if review is not None else "the planner cannot describe this bill"
        if ramp_changed:
            return replace(
            base,
                status=Status.DRIFT_FROM_RAMP, ramp_id=ramp.id, ramp_amount=ramp_amount,
                reason=f"edited in Ramp since our last write, and FreshBooks now needs review: "
                f"{reason}", review_code=None if review is None else review.code,
            )  # fmt: skip
        return replace(
            base,
            status=Status.WAITING_FOR_REVIEW, ramp_id=ramp.id, ramp_amount=ramp_amount,
            reason=reason, review_code=None if review is None else review.code,
        )  # fmt: skip
    fb_changed = content_hash(dict(expected)) != link.content_hash
    differences = compare_content(expected, ramp.content, gl_field=gl_field, names=names)
    if ramp_changed:
        also = (
            " FreshBooks changed too; heal leaves the bill alone so the Ramp edit is not "
            "lost — reconcile the two by hand"
            if fb_changed
            else ""
        )
        return replace(
            base,
            status=Status.DRIFT_FROM_RAMP, ramp_id=ramp.id, ramp_amount=ramp_amount,
            differences=differences,
            reason=f"edited in Ramp by hand since our last write ({_summary(differences)}); "
            f"flagged, not overwritten.{also}",
        )  # fmt: skip
    if fb_changed:
        blocked = review is not None
        return replace(
            base,
            status=Status.DRIFT_FROM_FRESHBOOKS, ramp_id=ramp.id, ramp_amount=ramp_amount,
            differences=differences, healable=not blocked,
            review_code=None if review is None else review.code,
            reason=f"changed in FreshBooks since our last write ({_summary(differences)})"
            + (f"; cannot be re-pushed: {review.reason}" if review is not None else
               "; heal re-pushes it"),
        )  # fmt: skip
    if review is not None:
        return replace(
            base,
            status=Status.WAITING_FOR_REVIEW, ramp_id=ramp.id, ramp_amount=ramp_amount,
            reason=review.reason, review_code=review.code,
        )  # fmt: skip
    return replace(
            base,
        status=Status.MATCH, ramp_id=ramp.id, ramp_amount=ramp_amount,
        reason="Ramp holds what FreshBooks says",
    )  # fmt: skip


def _summary(differences: Sequence[Difference]) -> str:
    if not differences:
        return "content differs"
    return "; ".join(str(d) for d in differences[:4]) + (
        f"; and {len(differences) - 4} more" if len(differences) > 4 else ""
    )


class _Totals:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str, str], dict[str, Any]] = {}

    def add(self, side: str, row_key: tuple[str, str, str], label: str, amount: Decimal) -> None:
        row = self.rows.setdefault(
            row_key,
            {"label": label, "freshbooks": [0, Decimal(0)], "ramp": [0, Decimal(0)]},
        )
        row[side][0] += 1
        row[side][1] += amount

    def add_content(
        self,
        side: str,
        content: Mapping[str, Any],
        issued: date | None,
        *,
        gl_field: str,
        names: Mapping[str, str],
    ) -> None:
        currency = str(content.get("invoice_currency") or "")
        vendor = str(content.get("vendor_id") or "")
        total = _total(content)
        self.add(side, ("vendor", vendor, currency), names.get(vendor, vendor or "—"), total)
        month = issued.strftime("%Y-%m") if issued is not None else "—"
        self.add(side, ("month", month, currency), month, total)
        for line in _lines(content, gl_field):
            gl = line.gl_account or UNCODED
            self.add(side, ("gl_account", gl, currency), names.get(gl, gl), line.amount)
            for center in line.cost_centers or (UNCODED,):
                self.add(
                    side, ("cost_center", center, currency), names.get(center, center), line.amount
                )

    def result(self) -> tuple[TotalRow, ...]:
        order = {d: i for i, d in enumerate(DIMENSIONS)}
        return tuple(
            TotalRow(
                dimension=dimension,
                key=key,
                label=row["label"],
                currency=currency,
                freshbooks_count=row["freshbooks"][0],
                freshbooks_amount=row["freshbooks"][1],
                ramp_count=row["ramp"][0],
                ramp_amount=row["ramp"][1],
            )
            for (dimension, key, currency), row in sorted(
                self.rows.items(),
                key=lambda item: (order[item[0][0]], item[1]["label"], item[0][2]),
            )
        )


def _issued(content: Mapping[str, Any]) -> date | None:
    raw = content.get("issued_at")
    return date.fromisoformat(str(raw)) if raw else None


def reconcile(
    period: Period,
    freshbooks: Iterable[FreshBooksSide],
    ramp: Iterable[RampSide],
    *,
    our_prefix: str,
    gl_field: str,
    names: Mapping[str, str] | None = None,
    explained_ramp_ids: Iterable[str] = (),
) -> Report:
    """Classify every bill of the period and total both sides per dimension and currency.

    Args:
        period: the issue-date range reported on.
        freshbooks: the period's FreshBooks bills.
        ramp: Ramp bills issued in the period, plus the ones the bills' links point at.
        our_prefix: the ``remote_id`` prefix of bills we write for FreshBooks bills
            (``freshbooks:<account>:bill:``); a Ramp bill with it that no FreshBooks bill
            of the period explains is an orphan.
        gl_field: the accounting field that carries GL accounts.
        names: display names of Ramp vendor ids, GL account ids and cost-center options.
        explained_ramp_ids: Ramp bills linked to other FreshBooks objects (expenses
            recorded as manually paid bills, bills of other periods) — not orphans.
    """
    names = dict(names or {})
    ramp_by_id = {r.id: r for r in ramp}
    by_remote: dict[str, RampSide] = {}
    for r in ramp_by_id.values():
        if r.remote_id and r.remote_id.startswith(our_prefix) and not r.archived:
            by_remote.setdefault(r.remote_id, r)
    entries: list[Entry] = []
    used: set[str] = set(explained_ramp_ids)
    totals = _Totals()
    review_totals: dict[str, Decimal] = {}
    for side in sorted(freshbooks, key=lambda s: (s.bill.issue_date, _numeric(s.bill.id))):
        if side.link is not None:
            remote = ramp_by_id.get(side.link.ramp_id)
        else:
            remote = by_remote.get(our_prefix + side.bill.id)
        entry = _classify_freshbooks(side, remote, gl_field=gl_field, names=names)
        entries.append(entry)
        if remote is not None:
            used.add(remote.id)
        if entry.status is Status.WAITING_FOR_REVIEW:
            amount = entry.freshbooks_amount or Decimal(0)
            review_totals[side.bill.currency] = (
                review_totals.get(side.bill.currency, Decimal(0)) + amount
            )
        elif side.expected is not None:
            totals.add_content("freshbooks", side.expected, side.bill.issue_date,
                               gl_field=gl_field, names=names)  # fmt: skip
    for r in sorted(ramp_by_id.values(), key=lambda r: r.id):
        # Bills entered in Ramp by hand, or made from expenses, are outside a bill
        # reconciliation: only bills carrying our bill prefix count on the Ramp side.
        if r.archived or not (r.remote_id and r.remote_id.startswith(our_prefix)):
            continue
        issued = _issued(r.content)
        if issued in period:
            totals.add_content("ramp", r.content, issued, gl_field=gl_field, names=names)
        if r.id in used or issued not in period:
            continue
        entries.append(
            Entry(
                status=Status.ORPHAN_IN_RAMP, ramp_id=r.id, issued_at=issued,
                currency=r.currency, ramp_amount=_total(r.content),
                vendor=names.get(str(r.content.get("vendor_id") or "")),
                fb_id=(r.remote_id or "")[len(our_prefix):] or None,
                reason=f"Ramp bill {r.id} carries our remote id {r.remote_id!r} but no "
                "FreshBooks bill of the period explains it (deleted in FreshBooks while the "
                "webhook was lost, or created by another connection)",
            )
        )  # fmt: skip
    return Report(
        period=period, entries=tuple(entries), totals=totals.result(),
        review_totals=review_totals,
    )  # fmt: skip


def _numeric(text: str) -> tuple[int, str]:
    return (int(text), "") if text.isdigit() else (0, text)


def _text(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def report_document(report: Report) -> dict[str, Any]:
    """The report as plain JSON (amounts as exact decimal strings), for storage and `--json`."""
    return {
        "period": {
            "label": report.period.label,
            "start": report.period.start.isoformat(),
            "end": report.period.end.isoformat(),
        },
        "counts": report.counts(),
        "differences": len(report.differences),
        "waiting_for_review": len(report.waiting),
        "healable": [e.fb_id for e in report.healable],
        "entries": [
            {
                "status": e.status.value,
                "reason": e.reason,
                "fb_id": e.fb_id,
                "ramp_id": e.ramp_id,
                "vendor": e.vendor,
                "issued_at": None if e.issued_at is None else e.issued_at.isoformat(),
                "currency": e.currency,
                "freshbooks_amount": _text(e.freshbooks_amount),
                "ramp_amount": _text(e.ramp_amount),
                "differences": [
                    {"field": d.field, "freshbooks": d.freshbooks, "ramp": d.ramp}
                    for d in e.differences
                ],
                "healable": e.healable,
                "review_code": e.review_code,
                "mapping_version": e.mapping_version,
                "audit": e.audit_ref,
            }
            for e in report.entries
            if e.status is not Status.MATCH
        ],
        "matched": sum(1 for e in report.entries if e.status is Status.MATCH),
        "totals": [
            {
                "dimension": t.dimension,
                "key": t.key,
                "label": t.label,
                "currency": t.currency,
                "freshbooks_count": t.freshbooks_count,
                "freshbooks_amount": _text(t.freshbooks_amount),
                "ramp_count": t.ramp_count,
                "ramp_amount": _text(t.ramp_amount),
                "difference": _text(t.difference),
                "agrees": t.agrees,
            }
            for t in report.totals
        ],
        "review_totals": {c: _text(v) for c, v in sorted(report.review_totals.items())},
    }
