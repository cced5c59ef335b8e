"""Expense ↔ Ramp card transaction matching, and what to do when nothing matches.

Pure; no I/O; `today` is an argument. A transaction is a candidate only if its amount in
minor units and its currency equal the expense's exactly, its date is within the window,
it is not declined, and no other FreshBooks object has claimed it. Candidates are scored
on date distance and merchant-name similarity (plus card holder, when staff are mapped to
Ramp users); every component is kept so the plan can show why.

* exactly one candidate, or a best one ahead of the rest by a clear margin and with a
  plausible merchant name → ``matched``;
* several with no clear winner → ``review`` (never a guess);
* none → the connection's policy: ``wait`` (retry matching for N days, then the
  after-wait policy), ``manual_bill`` (record a Ramp bill paid manually) or ``review``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from ml_connector.core.model import CardTransaction, Expense
from ml_connector.core.money import to_minor_units
from ml_connector.core.problems import Problem
from ml_connector.core.vendors import name_similarity

__all__ = [
    "MatchSettings",
    "NoMatchPolicy",
    "ScoreComponents",
    "TransactionCandidate",
    "TransactionMatch",
    "TxOutcome",
    "UnmatchedDecision",
    "decide_unmatched",
    "match_expense",
    "score_transaction",
]

_EXCLUDED_STATES = frozenset({"DECLINED", "ERROR"})


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchSettings:
    window_days: int = 3
    min_merchant_similarity: float = 50.0
    clear_margin: float = 10.0
    staff_users: Mapping[str, str] | None = None
    """FreshBooks staff id → Ramp user id, when known; adds a card-holder component."""


@dataclass(frozen=True, slots=True)
class ScoreComponents:
    """Why a transaction scored what it did (all shown in the plan)."""

    amount_exact: bool
    currency_match: bool
    days_apart: int
    date_score: float
    merchant_similarity: float
    card_holder_match: bool | None
    total: float

    def describe(self) -> str:
        holder = {True: ", card holder matches", False: ", other card holder", None: ""}
        return (
            f"exact amount, {self.days_apart} day(s) apart, merchant similarity "
            f"{self.merchant_similarity:g}{holder[self.card_holder_match]} → score {self.total:g}"
        )


@dataclass(frozen=True, slots=True)
class TransactionCandidate:
    transaction: CardTransaction
    components: ScoreComponents


class TxOutcome(StrEnum):
    MATCHED = "matched"
    REVIEW = "review"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class TransactionMatch:
    outcome: TxOutcome
    reason: str
    code: str
    transaction: CardTransaction | None = None
    candidates: tuple[TransactionCandidate, ...] = ()


def score_transaction(
    expense: Expense, tx: CardTransaction, settings: MatchSettings
) -> ScoreComponents | Problem:
    """Score one transaction against an expense; a Problem if the expense amount is unusable."""
    minor = to_minor_units(expense.amount, "amount")
    if isinstance(minor, Problem):
        return minor
    try:
        days = abs((tx.transacted_on - expense.date).days)
    except (TypeError, OverflowError):
        return Problem("match.bad_date", f"transaction {tx.id} has no usable date")
    window = max(settings.window_days, 0)
    date_score = round(100.0 * (1 - days / (window + 1)), 1) if days <= window else 0.0
    merchant = name_similarity(expense.vendor_name or "", tx.merchant_name)
    holder: bool | None = None
    if settings.staff_users is not None and expense.staff_id is not None:
        user = settings.staff_users.get(expense.staff_id)
        if user is not None and tx.card_holder_user_id is not None:
            holder = user == tx.card_holder_user_id
    total = round(0.5 * date_score + 0.5 * merchant + (10.0 if holder else 0.0), 1)
    return ScoreComponents(
        minor == tx.amount_minor, expense.amount.currency == tx.currency,
        days, date_score, merchant, holder, total,
    )  # fmt: skip


def match_expense(
    expense: Expense,
    transactions: Sequence[CardTransaction],
    settings: MatchSettings,
    *,
    claimed: frozenset[str] = frozenset(),
) -> TransactionMatch | Problem:
    """Find the Ramp card transaction for an expense (see the module docstring)."""
    candidates: list[TransactionCandidate] = []
    for tx in transactions:
        if tx.id in claimed or tx.state.upper() in _EXCLUDED_STATES:
            continue
        scored = score_transaction(expense, tx, settings)
        if isinstance(scored, Problem):
            return scored
        if (
            scored.amount_exact
            and scored.currency_match
            and scored.days_apart <= settings.window_days
        ):
            candidates.append(TransactionCandidate(tx, scored))
    candidates.sort(key=lambda c: (-c.components.total, c.components.days_apart, c.transaction.id))
    ranked = tuple(candidates)
    what = f"{expense.amount} on {expense.date} (±{settings.window_days} days)"
    if not ranked:
        return TransactionMatch(
            TxOutcome.NONE, f"no unclaimed Ramp card transaction of exactly {what}", "match.none"
        )
    best = ranked[0]
    if len(ranked) == 1:
        return TransactionMatch(
            TxOutcome.MATCHED,
            f"the only card transaction of exactly {what}: {best.transaction.merchant_name!r}, "
            + best.components.describe(),
            "match.unique", best.transaction, ranked,
        )  # fmt: skip
    margin = best.components.total - ranked[1].components.total
    if (
        margin >= settings.clear_margin
        and best.components.merchant_similarity >= settings.min_merchant_similarity
    ):
        return TransactionMatch(
            TxOutcome.MATCHED,
            f"best of {len(ranked)} transactions of exactly {what} by {margin:g} points: "
            f"{best.transaction.merchant_name!r}, " + best.components.describe(),
            "match.clear_best", best.transaction, ranked,
        )  # fmt: skip
    return TransactionMatch(
        TxOutcome.REVIEW,
        f"{len(ranked)} card transactions of exactly {what} and none clearly best "
        f"(top two scores {best.components.total:g} and {ranked[1].components.total:g}); choose one",
        "match.ambiguous", None, ranked,
    )  # fmt: skip


class NoMatchPolicy(StrEnum):
    WAIT = "wait"
    MANUAL_BILL = "manual_bill"
    REVIEW = "review"


@dataclass(frozen=True, slots=True)
class UnmatchedDecision:
    """What to do with an expense that has no card transaction (yet)."""

    policy: NoMatchPolicy
    reason: str
    until: date | None = None


def decide_unmatched(
    expense: Expense,
    today: date,
    policy: NoMatchPolicy,
    *,
    wait_days: int = 5,
    after_wait: NoMatchPolicy = NoMatchPolicy.REVIEW,
) -> UnmatchedDecision:
    """Apply the no-match policy. Waiting is bounded: after `wait_days`, `after_wait` applies."""
    if policy is not NoMatchPolicy.WAIT:
        return UnmatchedDecision(policy, f"no card transaction; policy '{policy.value}'")
    try:
        until = expense.date + timedelta(days=max(wait_days, 0))
    except OverflowError:
        until = date.max
    if today <= until:
        return UnmatchedDecision(
            NoMatchPolicy.WAIT,
            f"no card transaction yet; card charges can post days late, retrying until {until}",
            until,
        )
    fallback = NoMatchPolicy.REVIEW if after_wait is NoMatchPolicy.WAIT else after_wait
    return UnmatchedDecision(
        fallback,
        f"no card transaction after waiting until {until}; policy after waiting is '{fallback.value}'",
    )
