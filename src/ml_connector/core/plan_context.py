"""What every planner needs: configuration, Ramp state, links, categories and `today`.

Pure. Build one `PlanContext` per plan run with `PlanContext.build(...)`; it compiles the
flow configuration against the reference data once (GL map, rules, options).
Also home of the small naming rules shared by the planners (remote ids, invoice numbers,
manual payment methods), so each is decided in exactly one place.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType

from ml_connector.core.coding import CodingSetup
from ml_connector.core.flow_config.models import FlowConfig
from ml_connector.core.model import Category, Link, LinkIndex, PaidWith, RampState
from ml_connector.core.problems import Problem

__all__ = [
    "INVOICE_NUMBER_LIMIT",
    "MEMO_LIMIT",
    "TRANSACTION_MEMO_LIMIT",
    "PlanContext",
    "freshbooks_ref",
    "invoice_number_for",
    "manual_method_for_expense",
    "manual_method_for_payments",
]

INVOICE_NUMBER_LIMIT = 20
MEMO_LIMIT = 1000
TRANSACTION_MEMO_LIMIT = 255


@dataclass(frozen=True, slots=True)
class PlanContext:
    config: FlowConfig
    ramp: RampState
    links: LinkIndex
    categories: Mapping[str, Category]
    setup: CodingSetup
    today: date

    @classmethod
    def build(
        cls,
        config: FlowConfig,
        *,
        ramp: RampState,
        links: Iterable[Link] = (),
        categories: Iterable[Category] = (),
        today: date,
    ) -> PlanContext:
        cats = MappingProxyType({c.id: c for c in categories})
        setup = CodingSetup.build(config, cats.values(), ramp)
        return cls(config, ramp, LinkIndex.of(links), cats, setup, today)

    def ref(self, kind: str, fb_id: str) -> str:
        return freshbooks_ref(self.config.connection.freshbooks_account_id, kind, fb_id)


def freshbooks_ref(account_id: str, kind: str, fb_id: str) -> str:
    """Our reference on Ramp objects: ``freshbooks:<account_id>:<kind>:<id>``.

    Used as a bill's ``remote_id`` (and a vendor's ``external_vendor_id`` when enabled);
    the account id keeps two FreshBooks businesses feeding one Ramp business apart.
    """
    return f"freshbooks:{account_id}:{kind}:{fb_id}"


def invoice_number_for(
    number: str | None, fallback: str, policy: str
) -> tuple[str, str | None] | Problem:
    """Ramp ``invoice_number`` (≤ 20 characters) and a note when it is not the original.

    Blank → `fallback` (``FB-<bill id>``). Longer than 20 → with policy ``shorten``, the
    first 12 characters + "~" + 7 hex characters of the SHA-256 of the full number (stable,
    and distinct for numbers sharing a prefix), the full number going in the memo; with
    ``review``, a Problem.
    """
    text = " ".join((number or "").split())
    if not text:
        text, note = fallback, f"FreshBooks has no bill number; using {fallback!r}"
        if len(text) <= INVOICE_NUMBER_LIMIT:
            return text, note
    else:
        note = None
        if len(text) <= INVOICE_NUMBER_LIMIT:
            return text, None
    if policy == "review":
        return Problem(
            "bill.invoice_number_too_long",
            f"invoice number {text!r} has {len(text)} characters; Ramp allows "
            f"{INVOICE_NUMBER_LIMIT} (set bills.invoice_number_overflow = 'shorten' to send a "
            "shortened number with the full one in the memo)",
            "bill_number",
        )
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:7]
    short = f"{text[:12]}~{digest}"
    return short, (
        f"invoice number {text!r} is longer than Ramp's {INVOICE_NUMBER_LIMIT} characters; "
        f"sent as {short!r} with the full number in the memo"
    )


_CARD_TYPES = frozenset(
    {"credit card", "credit", "visa", "mastercard", "amex", "discover", "diners", "jcb"}
)
_BY_TYPE = MappingProxyType(
    {"check": "CHECK", "cheque": "CHECK", "cash": "CASH", "bank transfer": "DOMESTIC_WIRE_TRANSFER"}
)


def manual_method_for_payments(payment_types: Iterable[str | None]) -> str:
    """Ramp ``manual_payment_method`` for FreshBooks bill payments (mixed types → OTHER)."""
    methods = set()
    for raw in payment_types:
        key = " ".join((raw or "").casefold().split())
        methods.add("NON_RAMP_CREDIT_CARD" if key in _CARD_TYPES else _BY_TYPE.get(key, "OTHER"))
    return methods.pop() if len(methods) == 1 else "OTHER"


def manual_method_for_expense(paid_with: PaidWith) -> str:
    """Ramp ``manual_payment_method`` for an expense recorded as a manually paid bill."""
    return {
        PaidWith.CASH: "CASH",
        PaidWith.PERSONAL_CARD: "NON_RAMP_CREDIT_CARD",
        PaidWith.COMPANY_CARD: "NON_RAMP_CREDIT_CARD",
    }.get(paid_with, "OTHER")
