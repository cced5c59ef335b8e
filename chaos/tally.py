"""Judging the end state: every FreshBooks object against what Ramp holds.

The verdict per object is read from the two emulator worlds (the truth on each side),
not from the connector's own bookkeeping, so a connector that believes it synced
something that never reached Ramp is caught as a loss:

- duplicated: Ramp holds more than one object for it (two bills with its `remote_id`,
  two vendors with its normalized name, two card transactions whose memo claims it);
- synced: Ramp holds exactly one object for it, in its final state (a bill's total and
  invoice number, archived when deleted, a card charge coded and memoed, a non-card
  expense as a bill paid manually);
- review: not in Ramp as it should be, and the object's latest job is parked in
  "needs attention" (or dead) with a reason a person can act on;
- lost: anything else — the connector forgot about it.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from ml_connector.queue import JobState, list_jobs
from ml_connector.store import audit, read

DELETED = 1
REVIEW_STATES = (JobState.ATTENTION, JobState.DEAD)
SYNC_KINDS = {"sync.bill": "bill", "sync.vendor": "vendor", "sync.expense": "expense"}


@dataclass
class Verdict:
    object: str
    status: str  # synced | duplicated | review | lost
    detail: str = ""


@dataclass
class Tally:
    """One campaign's numbers, as printed and written to `chaos/results/<campaign>.json`."""

    campaign: str
    seed: int
    database: str
    expected: int = 0
    synced: int = 0
    duplicated: int = 0
    lost: int = 0
    review: int = 0
    faults: dict[str, Any] = field(default_factory=dict)
    counters: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    """Integrity failures beyond the object counts (e.g. a refresh token used twice)."""
    details: list[dict[str, str]] = field(default_factory=list)
    """Every object that was not simply synced, with why."""
    elapsed_s: float = 0.0

    def add(self, verdicts: Iterable[Verdict]) -> None:
        for v in verdicts:
            self.expected += 1
            setattr(self, v.status, getattr(self, v.status) + 1)
            if v.status != "synced":
                self.details.append({"object": v.object, "status": v.status, "detail": v.detail})

    @property
    def ok(self) -> bool:
        return self.duplicated == 0 and self.lost == 0 and not self.problems

    def as_json(self) -> dict[str, Any]:
        return asdict(self) | {"ok": self.ok}

    def line(self) -> str:
        verdict = "PASS" if self.ok else "FAIL"
        return (
            f"{verdict} {self.campaign:<18} seed={self.seed} db={self.database:<10} "
            f"expected={self.expected} synced={self.synced} duplicated={self.duplicated} "
            f"lost={self.lost} review={self.review} ({self.elapsed_s:.0f}s)"
        )


def normalized(name: str) -> str:
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().casefold()
    return re.sub(r"\s+", " ", folded).strip()


def _minor(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value())


async def review_reasons(engine: Any) -> dict[str, str]:
    """`"bill:12"` → reason, for objects whose latest sync job is parked or dead."""
    async with read(engine) as db:
        every = await list_jobs(db, limit=1_000_000)
    latest: dict[str, Any] = {}
    for job in sorted(every, key=lambda j: j.id):
        noun = SYNC_KINDS.get(job.kind)
        if noun is not None and "fb_id" in job.args:
            latest[f"{noun}:{job.args['fb_id']}"] = job
    return {
        key: job.last_error or job.state.value
        for key, job in latest.items()
        if job.state in REVIEW_STATES
    }


def _settle(key: str, count: int, ok: bool, why: str, review: dict[str, str]) -> Verdict:
    if count > 1:
        return Verdict(key, "duplicated", f"{count} Ramp objects")
    if ok:
        return Verdict(key, "synced")
    if key in review:
        return Verdict(key, "review", review[key])
    return Verdict(key, "lost", why)


def judge_bills(books: Any, ramp: Any, review: dict[str, str]) -> list[Verdict]:
    by_fb: dict[str, list[Any]] = {}
    for bill in ramp.bills.values():
        if bill.remote_id and ":bill:" in bill.remote_id:
            by_fb.setdefault(bill.remote_id.rsplit(":", 1)[-1], []).append(bill)
    out = []
    for bill in books.bills.values():
        key = f"bill:{bill.id}"
        found = by_fb.get(str(bill.id), [])
        if bill.vis_state == DELETED:
            live = [b for b in found if b.archived_at is None]
            out.append(_settle(key, len(found), not live, "deleted but still live", review))
            continue
        want = sum(_minor(line.quantity * line.unit_cost) for line in bill.lines)
        if len(found) == 1:
            got = sum(line.amount_minor for line in found[0].line_items)
            number_ok = not bill.bill_number or found[0].invoice_number == bill.bill_number
            ok = got == want and number_ok and found[0].archived_at is None
            why = f"Ramp total {got} (want {want}), invoice {found[0].invoice_number!r}"
        else:
            ok, why = False, "no Ramp bill"
        out.append(_settle(key, len(found), ok, why, review))
    return out


def judge_vendors(books: Any, ramp: Any, review: dict[str, str]) -> list[Verdict]:
    names = Counter(normalized(v.name) for v in ramp.vendors.values())
    out = []
    for vendor in books.vendors.values():
        if vendor.vis_state == DELETED:
            continue
        key = f"vendor:{vendor.id}"
        count = names.get(normalized(vendor.vendor_name), 0)
        out.append(_settle(key, count, count == 1, "no Ramp vendor", review))
    return out


def judge_expenses(
    books: Any, ramp: Any, review: dict[str, str], *, card: set[int]
) -> list[Verdict]:
    """Card expenses (ids in `card`) must be a coded, memoed card charge; others a bill
    paid manually."""
    claimed: dict[str, list[Any]] = {}
    for tx in ramp.transactions.values():
        memo = tx.memo or ""
        match = re.match(r"FreshBooks expense (\d+)", memo)
        if match:
            claimed.setdefault(match.group(1), []).append(tx)
    manual: dict[str, list[Any]] = {}
    for bill in ramp.bills.values():
        if bill.remote_id and ":expense:" in bill.remote_id:
            manual.setdefault(bill.remote_id.rsplit(":", 1)[-1], []).append(bill)
    out = []
    for expense in books.expenses.values():
        if expense.vis_state == DELETED:
            continue
        key = f"expense:{expense.id}"
        want = _minor(expense.amount)
        if expense.id in card:
            txs = claimed.get(str(expense.id), [])
            coded = len(txs) == 1 and bool(txs[0].line_items) and _minor(txs[0].amount) == want
            coded = coded and all(line.selections for line in txs[0].line_items)
            out.append(_settle(key, len(txs), coded, "card charge not coded/memoed", review))
        else:
            bills = manual.get(str(expense.id), [])
            paid = len(bills) == 1 and bills[0].payment_method == "PAID_MANUALLY"
            paid = paid and sum(line.amount_minor for line in bills[0].line_items) == want
            out.append(_settle(key, len(bills), paid, "no manually paid bill", review))
    return out


async def judge_world(
    engine: Any, books: Any, ramp: Any, *, card_expenses: set[int] | None = None
) -> list[Verdict]:
    review = await review_reasons(engine)
    verdicts = judge_vendors(books, ramp, review) + judge_bills(books, ramp, review)
    if books.expenses:
        verdicts += judge_expenses(books, ramp, review, card=card_expenses or set())
    for verdict in verdicts:
        if verdict.status in ("lost", "duplicated"):
            verdict.detail += f"; trail: {await _trail(engine, verdict.object)}"
    return verdicts


async def _trail(engine: Any, key: str) -> str:
    """The object's audit steps, oldest first: where its story stopped."""
    noun, _, fb_id = key.partition(":")
    async with read(engine) as db:
        entries = await audit.for_fb_object(db, fb_id=fb_id, object_type=noun)
    return " → ".join(f"{e.step}@{e.at:%H:%M:%S}" for e in entries[-12:])


def ramp_counters(world: Any) -> dict[str, Any]:
    c = world.counters
    return {
        "bills_created": c.bills_created,
        "vendors_created": c.vendors_created,
        "duplicate_bills_by_remote_id": c.duplicate_bills_by_remote_id,
        "duplicate_vendors_by_name": c.duplicate_vendors_by_name,
        "rate_limited": c.rate_limited + sum(world.limiter.refused.values()),
        "faults_injected": c.faults_injected,
        "dropped_connections": c.dropped_connections,
    }


def integrity_problems(fb_world: Any, ramp_world: Any) -> list[str]:
    """What the emulators themselves count as a violation, whatever the object verdicts."""
    problems = []
    c = ramp_world.counters
    if c.duplicate_bills_by_remote_id:
        problems.append(f"Ramp saw {c.duplicate_bills_by_remote_id} duplicate bill(s) by remote_id")
    if c.duplicate_vendors_by_name:
        problems.append(f"Ramp saw {c.duplicate_vendors_by_name} duplicate vendor(s) by name")
    reuses = fb_world.counters.refresh_token_reuses
    if reuses:
        problems.append(f"a FreshBooks refresh token was used twice ({reuses}×)")
    return problems


__all__ = [
    "Tally",
    "Verdict",
    "integrity_problems",
    "judge_world",
    "ramp_counters",
    "review_reasons",
]
