"""Vendor names: a canonical key, and the ladder that matches a FreshBooks vendor to Ramp.

Pure; no I/O. The display name is always kept as entered; the canonical key exists only
for matching. The ladder, first rule that decides wins:

1. ``stored_link`` — a link we recorded (or one configured by hand) → that Ramp vendor.
2. ``external_vendor_id`` — a Ramp vendor whose ``external_vendor_id`` is our reference.
3. ``exact_name`` — exactly one active Ramp vendor with the same canonical key.
4. ``company_form`` — names equal except for a word like "Co"/"Company" that may or may
   not be a legal form ("Acme Corp" vs "Acme Co") → review, never a guess.
5. ``short_form`` — one name is a short form of the other: all its words appear in the
   other ("Zoom" / "Zoom Video Communications", "Hartford Insurance" / "The Hartford"),
   it is the other's initials ("AWS" / "Amazon Web Services"), or a contraction of it
   ("ConEd" / "Con Edison") → review: often the same business, sometimes not ("Uber" /
   "Uber Eats"), so a person decides and never a new near-duplicate vendor.
6. ``fuzzy_name`` — similarity of the keys (`name_similarity`, rapidfuzz). One candidate at or
   above the auto threshold and no other plausible one → match; otherwise review.

Every result names the rule, a confidence in [0, 1], the candidates considered and a
reason; two plausible candidates always go to review.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from rapidfuzz import fuzz

from ml_connector.core.model import RampVendorRef

__all__ = [
    "LEGAL_SUFFIXES",
    "MatchOutcome",
    "VendorCandidate",
    "VendorMatch",
    "VendorRule",
    "canonical_vendor_key",
    "company_form_key",
    "is_short_form",
    "match_vendor",
    "name_similarity",
]

LEGAL_SUFFIXES = frozenset(
    {
        "inc", "incorporated", "corp", "corporation", "llc", "ltd", "limited", "gmbh",
        "plc", "llp", "lp", "pllc", "pc", "pty", "pte", "ulc", "sa", "sas", "sarl", "srl",
        "spa", "bv", "nv", "ag", "kg", "oy", "ab", "kk",
    }
)  # fmt: skip
"""Words dropped from the end of a canonical key: they name a legal form, not a business."""

_COMPANY_WORDS = frozenset({"co", "cos", "company", "and", "group"})
"""Words that may be a legal form or part of the name; equal-but-for-these goes to review."""

_DELETED = {".", "'", "’", "‘", "`", "´"}


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFKC", stripped).casefold()


def _tokens(name: object) -> list[str]:
    if not isinstance(name, str):
        return []
    # twice: case folding and decomposition can each expose work for the other
    text = _fold(_fold(name))
    out: list[str] = []
    for ch in text.replace("&", " and "):
        if ch in _DELETED:
            continue
        out.append(ch if ch.isalnum() else " ")
    tokens = "".join(out).split()
    while len(tokens) > 1 and tokens[0] == "the":
        tokens.pop(0)
    while len(tokens) > 1 and tokens[-1] in LEGAL_SUFFIXES:
        tokens.pop()
    return tokens


def canonical_vendor_key(name: object) -> str:
    """The matching key of a vendor name.

    Unicode NFKC + case folding, accents removed ("Café Olé" → "cafe ole"), "&" → "and",
    periods and apostrophes dropped ("L.L.C." → "llc"), other punctuation as spaces,
    whitespace collapsed, a leading "The" and trailing legal suffixes (Inc, LLC, Ltd,
    GmbH, Corp, …) removed. Total: anything that is not a string gives "".
    Idempotent: ``canonical_vendor_key(canonical_vendor_key(x)) == canonical_vendor_key(x)``.
    """
    return " ".join(_tokens(name))


def company_form_key(name: object) -> str:
    """The canonical key with ambiguous company words (Co, Company, & Co, Group) also dropped."""
    tokens = _tokens(canonical_vendor_key(name))
    while len(tokens) > 1 and (tokens[-1] in _COMPANY_WORDS or tokens[-1] in LEGAL_SUFFIXES):
        tokens.pop()
    return " ".join(tokens)


_MIN_CONTRACTION = 4
"""A contraction shorter than this ("Co", "AB") says too little to suggest anything."""


def is_short_form(key_a: str, key_b: str) -> bool:
    """True when one canonical key is a short form of the other (see rule 5 above)."""
    if not key_a or not key_b or key_a == key_b:
        return False
    short, long = sorted((key_a, key_b), key=lambda k: (len(k.split()), len(k)))
    short_words, long_words = short.split(), long.split()
    if len(short_words) < len(long_words) and set(short_words) <= set(long_words):
        return True
    compact = short.replace(" ", "")
    if len(short_words) == 1 and len(long_words) >= 2:
        if compact == "".join(word[0] for word in long_words):
            return True
        return len(compact) >= _MIN_CONTRACTION and long.replace(" ", "").startswith(compact)
    return False


def _key_similarity(key_a: str, key_b: str) -> float:
    if not key_a or not key_b:
        return 0.0
    # word order ("Lines Delta Air") and word splits ("Air Lines" vs "Airlines") both
    # happen in vendor names; take the better of the two views
    by_words = fuzz.token_sort_ratio(key_a, key_b)
    by_letters = fuzz.ratio(key_a.replace(" ", ""), key_b.replace(" ", ""))
    return round(float(max(by_words, by_letters)), 1)


def name_similarity(a: object, b: object) -> float:
    """0–100 similarity of two names' canonical keys, 1 decimal place.

    The better of a word-order-insensitive comparison and a comparison with spaces
    removed, so both "Lines Delta Air" and "Delta Airlines" resemble "Delta Air Lines".
    """
    return _key_similarity(canonical_vendor_key(a), canonical_vendor_key(b))


class VendorRule(StrEnum):
    STORED_LINK = "stored_link"
    EXTERNAL_VENDOR_ID = "external_vendor_id"
    EXACT_NAME = "exact_name"
    COMPANY_FORM = "company_form"
    SHORT_FORM = "short_form"
    FUZZY_NAME = "fuzzy_name"
    NONE = "none"


class MatchOutcome(StrEnum):
    MATCHED = "matched"
    REVIEW = "review"
    NO_MATCH = "no_match"


@dataclass(frozen=True, slots=True)
class VendorCandidate:
    """A Ramp vendor the ladder considered, with its similarity score (0–100)."""

    vendor: RampVendorRef
    score: float


@dataclass(frozen=True, slots=True)
class VendorMatch:
    """The ladder's verdict, with everything needed to explain it."""

    outcome: MatchOutcome
    rule: VendorRule
    confidence: float
    reason: str
    code: str
    vendor: RampVendorRef | None = None
    candidates: tuple[VendorCandidate, ...] = ()


def _ordered(cands: list[VendorCandidate]) -> tuple[VendorCandidate, ...]:
    return tuple(sorted(cands, key=lambda c: (-c.score, c.vendor.name.casefold(), c.vendor.id)))


def _one_target(
    rule: VendorRule, hits: list[RampVendorRef], what: str, confidence: float
) -> VendorMatch | None:
    active = [v for v in hits if v.is_active]
    if len(active) == 1:
        v = active[0]
        return VendorMatch(
            MatchOutcome.MATCHED, rule, confidence, f"{what} → Ramp vendor {v.name!r}",
            "vendor.matched", v, (VendorCandidate(v, 100.0),),
        )  # fmt: skip
    if len(active) > 1:
        return VendorMatch(
            MatchOutcome.REVIEW, rule, 0.0,
            f"{what} matches {len(active)} Ramp vendors; choose one",
            "vendor.ambiguous", None, _ordered([VendorCandidate(v, 100.0) for v in active]),
        )  # fmt: skip
    if hits:
        v = hits[0]
        return VendorMatch(
            MatchOutcome.REVIEW, rule, 0.0,
            f"{what} matches Ramp vendor {v.name!r}, which is inactive; reactivate it or link another",
            "vendor.inactive", None, (VendorCandidate(v, 100.0),),
        )  # fmt: skip
    return None


def match_vendor(  # noqa: PLR0911 - one return per rung of the ladder
    name: str,
    candidates: Sequence[RampVendorRef],
    *,
    linked_ramp_vendor_id: str | None = None,
    external_vendor_id: str | None = None,
    auto_threshold: float = 92.0,
    review_threshold: float = 80.0,
    confirmed_distinct: bool = False,
) -> VendorMatch:
    """Match a FreshBooks vendor name to one of `candidates` (all known Ramp vendors).

    Args:
        name: the FreshBooks display name.
        candidates: the Ramp vendors; must include any vendor a stored link points to.
        linked_ramp_vendor_id: the Ramp vendor a stored or configured link names.
        external_vendor_id: our reference for this vendor (``freshbooks:<account>:vendor:<id>``).
        auto_threshold: fuzzy score (0–100) at or above which a lone candidate matches.
        review_threshold: fuzzy score at or above which a candidate is plausible.
        confirmed_distinct: a person confirmed this vendor is a business of its own; only
            the link, external id and exact-name rungs apply (no resemblance rungs).
    """
    if linked_ramp_vendor_id is not None:
        hits = [v for v in candidates if v.id == linked_ramp_vendor_id]
        found = _one_target(VendorRule.STORED_LINK, hits, "stored link", 1.0)
        if found is not None:
            return found
        return VendorMatch(
            MatchOutcome.REVIEW, VendorRule.STORED_LINK, 0.0,
            f"the linked Ramp vendor {linked_ramp_vendor_id} no longer exists in Ramp; relink the vendor",
            "vendor.link_target_missing",
        )  # fmt: skip
    if external_vendor_id:
        hits = [v for v in candidates if v.external_vendor_id == external_vendor_id]
        found = _one_target(
            VendorRule.EXTERNAL_VENDOR_ID, hits, f"external_vendor_id {external_vendor_id}", 1.0
        )
        if found is not None:
            return found
    key = canonical_vendor_key(name)
    if not key:
        return VendorMatch(
            MatchOutcome.REVIEW, VendorRule.NONE, 0.0,
            f"vendor name {name!r} has no letters or digits to match on",
            "vendor.unusable_name",
        )  # fmt: skip
    exact = [v for v in candidates if canonical_vendor_key(v.name) == key]
    found = _one_target(VendorRule.EXACT_NAME, exact, f"name {name!r} (key {key!r})", 0.99)
    if found is not None:
        return found
    if confirmed_distinct:
        return VendorMatch(
            MatchOutcome.NO_MATCH, VendorRule.NONE, 0.0,
            f"{name!r} is confirmed as a business of its own and no Ramp vendor has its name",
            "vendor.confirmed_distinct",
        )  # fmt: skip
    form_key = company_form_key(name)
    same_form = [v for v in candidates if company_form_key(v.name) == form_key and v.is_active]
    if same_form:
        return VendorMatch(
            MatchOutcome.REVIEW, VendorRule.COMPANY_FORM, 0.9,
            f"{name!r} differs from {', '.join(repr(v.name) for v in same_form)} only by a "
            "company-form word (Co, Company, Group); confirm they are the same business",
            "vendor.company_form", None,
            _ordered([VendorCandidate(v, name_similarity(name, v.name)) for v in same_form]),
        )  # fmt: skip
    short_forms = [
        v for v in candidates if v.is_active and is_short_form(key, canonical_vendor_key(v.name))
    ]
    if short_forms:
        return VendorMatch(
            MatchOutcome.REVIEW, VendorRule.SHORT_FORM, 0.7,
            f"{name!r} may be a short form of {', '.join(repr(v.name) for v in short_forms)} "
            "(or they of it); confirm whether they are the same business and link them",
            "vendor.short_form", None,
            _ordered([VendorCandidate(v, name_similarity(name, v.name)) for v in short_forms]),
        )  # fmt: skip
    scored = [
        VendorCandidate(v, _key_similarity(key, canonical_vendor_key(v.name)))
        for v in candidates
        if v.is_active
    ]
    plausible = _ordered([c for c in scored if c.score >= review_threshold])
    if not plausible:
        best = _ordered(scored)[:3]
        return VendorMatch(
            MatchOutcome.NO_MATCH, VendorRule.NONE, 0.0,
            f"no Ramp vendor resembles {name!r} (best score "
            f"{best[0].score if best else 0.0} < {review_threshold})",
            "vendor.no_match", None, best,
        )  # fmt: skip
    if len(plausible) > 1:
        return VendorMatch(
            MatchOutcome.REVIEW, VendorRule.FUZZY_NAME, 0.0,
            f"{name!r} resembles {len(plausible)} Ramp vendors; choose one",
            "vendor.ambiguous", None, plausible,
        )  # fmt: skip
    top = plausible[0]
    if top.score >= auto_threshold:
        return VendorMatch(
            MatchOutcome.MATCHED, VendorRule.FUZZY_NAME, round(top.score / 100, 3),
            f"{name!r} ≈ {top.vendor.name!r} (similarity {top.score} ≥ {auto_threshold})",
            "vendor.matched", top.vendor, plausible,
        )  # fmt: skip
    return VendorMatch(
        MatchOutcome.REVIEW, VendorRule.FUZZY_NAME, round(top.score / 100, 3),
        f"{name!r} may be {top.vendor.name!r} (similarity {top.score}, below {auto_threshold}); confirm",
        "vendor.weak_match", None, plausible,
    )  # fmt: skip
