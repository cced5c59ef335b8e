"""Payment terms: FreshBooks ``due_offset_days`` ↔ named terms, per-vendor terms, due dates.

Pure; no I/O. FreshBooks bills carry only ``due_offset_days``; Ramp bills carry only
``due_at``; neither system has vendor terms. So a vendor's terms come from the flow
configuration (``configured``) or are inferred from its recent bills (``inferred``), and a
bill whose own offset disagrees with them is handled by the connection's policy:

* ``keep`` — the bill's own terms win; the disagreement is noted in the plan.
* ``enforce`` — the vendor's terms set ``due_at``; noted in the plan.
* ``flag`` — the bill goes to review until someone decides.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from ml_connector.core.problems import Problem

__all__ = [
    "MAX_TERMS_DAYS",
    "STANDARD_NET_DAYS",
    "DueDateDecision",
    "PaymentTerms",
    "TermsDecision",
    "TermsPolicy",
    "TermsSource",
    "decide_due_date",
    "infer_vendor_terms",
    "parse_terms",
    "terms_from_days",
    "vendor_terms",
]

MAX_TERMS_DAYS = 365
"""Longer offsets are refused as data-entry errors (a year is already unusual)."""

STANDARD_NET_DAYS = (15, 30, 45, 60, 90)


@dataclass(frozen=True, slots=True)
class PaymentTerms:
    """Net days, with an optional early-payment discount ("2/10 Net 30")."""

    days: int
    discount_percent: Decimal | None = None
    discount_days: int | None = None

    @property
    def name(self) -> str:
        if self.discount_percent is not None and self.discount_days is not None:
            return f"{format(self.discount_percent, 'f')}/{self.discount_days} Net {self.days}"
        return "Due on receipt" if self.days == 0 else f"Net {self.days}"

    @property
    def is_standard(self) -> bool:
        """Due on receipt or Net 15/30/45/60/90 (anything else is a custom Net N)."""
        return self.days == 0 or self.days in STANDARD_NET_DAYS

    def __str__(self) -> str:
        return self.name


def terms_from_days(days: object, field: str | None = None) -> PaymentTerms | Problem:
    """FreshBooks ``due_offset_days`` → terms (0 → Due on receipt, 30 → Net 30, 21 → Net 21)."""
    if isinstance(days, bool) or not isinstance(days, int):
        return Problem("terms.malformed", f"{days!r} is not a whole number of days", field)
    if days < 0:
        return Problem("terms.negative", f"due offset {days} days is before the issue date", field)
    if days > MAX_TERMS_DAYS:
        return Problem(
            "terms.implausible",
            f"due offset {days} days is longer than {MAX_TERMS_DAYS}; check the bill",
            field,
        )
    return PaymentTerms(days)


_RECEIPT = re.compile(r"(due\s+)?(up)?on\s+receipt|cod|c\.o\.d\.?|immediate(ly)?|due\s+now")
_NET = re.compile(r"(?:net|n)\s*-?\s*(\d{1,4})(?:\s*days?)?")
_DAYS = re.compile(r"(\d{1,4})\s*days?(?:\s+net)?")
_DISCOUNT = re.compile(
    r"(\d{1,2}(?:\.\d{1,2})?)\s*%?\s*/\s*(\d{1,3})\s*,?\s*(?:net|n)\s*-?\s*(\d{1,4})"
)


def parse_terms(text: object, field: str | None = None) -> PaymentTerms | Problem:  # noqa: PLR0911 - total function: each early return is one specific Problem
    """Named terms → `PaymentTerms`.

    Understands "Due on receipt" (and "Upon receipt", "COD", "Immediate"), "Net 30",
    "NET30", "N30", "30 days", "Net 0" and early-payment terms like "2/10 Net 30".
    """
    if not isinstance(text, str):
        return Problem("terms.malformed", f"{text!r} is not a payment-terms name", field)
    clean = " ".join(text.strip().lower().split())
    if _RECEIPT.fullmatch(clean):
        return PaymentTerms(0)
    discount = _DISCOUNT.fullmatch(clean)
    if discount:
        percent, early, net = Decimal(discount[1]), int(discount[2]), int(discount[3])
        terms = terms_from_days(net, field)
        if isinstance(terms, Problem):
            return terms
        if early > net or percent <= 0 or percent >= 100:
            return Problem("terms.malformed", f"{text!r} is not a sensible discount term", field)
        return PaymentTerms(net, percent, early)
    plain = _NET.fullmatch(clean) or _DAYS.fullmatch(clean)
    if plain:
        return terms_from_days(int(plain[1]), field)
    return Problem(
        "terms.unknown",
        f"{text!r} is not a payment term this connector understands "
        "(use 'Due on receipt', 'Net 30', 'Net 21' or '2/10 Net 30')",
        field,
    )


class TermsSource(StrEnum):
    CONFIGURED = "configured"
    INFERRED = "inferred"
    BILL = "bill"


@dataclass(frozen=True, slots=True)
class TermsDecision:
    """Terms and where they came from, with the evidence in words."""

    terms: PaymentTerms
    source: TermsSource
    reason: str


def infer_vendor_terms(
    recent_offsets: Sequence[int],
    *,
    min_bills: int = 3,
    min_share: Fraction = Fraction(3, 5),
) -> TermsDecision | None:
    """A vendor's usual terms from the ``due_offset_days`` of its recent bills, if clear.

    Clear means: at least `min_bills` usable bills, and one offset used by at least
    `min_share` of them (ties are never clear). Pass the vendor's *other* bills, most
    recent first and already limited to the look-back the configuration sets.
    """
    usable = [d for d in recent_offsets if isinstance(terms_from_days(d), PaymentTerms)]
    if len(usable) < max(min_bills, 1):
        return None
    ranked = Counter(usable).most_common()
    days, count = ranked[0]
    if len(ranked) > 1 and ranked[1][1] == count:
        return None
    if Fraction(count, len(usable)) < min_share:
        return None
    terms = PaymentTerms(days)
    return TermsDecision(
        terms,
        TermsSource.INFERRED,
        f"{terms.name}: {count} of the vendor's last {len(usable)} bills use it",
    )


def vendor_terms(
    configured: PaymentTerms | None,
    recent_offsets: Sequence[int] = (),
    *,
    min_bills: int = 3,
    min_share: Fraction = Fraction(3, 5),
) -> TermsDecision | None:
    """The vendor's terms: configured ones win; otherwise inferred; otherwise None."""
    if configured is not None:
        return TermsDecision(
            configured, TermsSource.CONFIGURED, f"{configured.name}: set in the flow configuration"
        )
    return infer_vendor_terms(recent_offsets, min_bills=min_bills, min_share=min_share)


class TermsPolicy(StrEnum):
    KEEP = "keep"
    ENFORCE = "enforce"
    FLAG = "flag"


@dataclass(frozen=True, slots=True)
class DueDateDecision:
    """The ``due_at`` a Ramp bill gets, and why."""

    due_at: date
    terms: PaymentTerms
    source: TermsSource
    reason: str
    disagreement: bool = False
    needs_review: bool = False


def decide_due_date(  # noqa: PLR0911 - total function: each early return is one specific Problem
    issue_date: date,
    bill_offset_days: object,
    vendor: TermsDecision | None,
    policy: TermsPolicy,
) -> DueDateDecision | Problem:
    """Apply the terms policy to one bill. A bad offset is a Problem, never a guess."""
    own = terms_from_days(bill_offset_days, "due_offset_days")
    if isinstance(own, Problem):
        return own
    try:
        own_due = issue_date + timedelta(days=own.days)
    except OverflowError:
        return Problem("terms.out_of_range", f"{issue_date} + {own.days} days is not a date")
    if vendor is None or vendor.terms.days == own.days:
        why = f"{own.name} from the bill"
        if vendor is not None:
            why += f", agreeing with the vendor's terms ({vendor.reason})"
        return DueDateDecision(own_due, own, TermsSource.BILL, why)
    clash = f"the bill says {own.name} but the vendor's terms are {vendor.reason}"
    if policy is TermsPolicy.ENFORCE:
        try:
            due = issue_date + timedelta(days=vendor.terms.days)
        except OverflowError:
            return Problem("terms.out_of_range", f"{issue_date} + {vendor.terms.days} days")
        return DueDateDecision(
            due, vendor.terms, vendor.source, f"{clash}; policy 'enforce' uses the vendor's", True
        )
    if policy is TermsPolicy.FLAG:
        return DueDateDecision(
            own_due, own, TermsSource.BILL, f"{clash}; policy 'flag' asks a person", True, True
        )
    return DueDateDecision(
        own_due, own, TermsSource.BILL, f"{clash}; policy 'keep' uses the bill's", True
    )
