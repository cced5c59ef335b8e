"""Planners: a FreshBooks object + mappings + known Ramp state → the Ramp actions, with reasons.

Pure, deterministic, idempotent. The sync engine calls

    ctx = PlanContext.build(config, ramp=ramp_state, links=links, categories=categories,
                            today=today)
    plan_vendor(vendor, ctx)                       -> tuple[Action, ...]
    plan_bill(bill, vendor, ctx, vendor_recent_offsets=...) -> tuple[Action, ...]
    plan_expense(expense, ctx)                     -> tuple[Action, ...]

executes the actions in order (resolving `PendingRef`s from a vendor created earlier in
the same plan), and after each successful write stores a `Link` with the action's
`content_hash`. Planning the same input again with those links yields only `Skip`.

Content hashes of bills cover what PATCH can change plus the currency, not the payment:
Ramp cannot mark an existing bill paid by API, so a payment recorded in FreshBooks after
the Ramp bill exists is found by comparing with the Ramp bill's status, and handled by
the ``bills.paid_after_sync`` policy: ``replace`` archives the open Ramp bill and creates
it again paid manually (`ReplaceBill`), ``review`` parks it. While a replacement is under
way the link carries `REPLACING_HASH`, so a replacement interrupted after the archive is
finished by the next plan instead of being mistaken for a bill archived by hand.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from ml_connector.core.actions import (
    Action,
    ArchiveBill,
    CreateBill,
    CreateVendor,
    LinkVendor,
    PendingRef,
    ReplaceBill,
    Review,
    Skip,
    Subject,
    UpdateBill,
    has_pending,
)
from ml_connector.core.bill_lines import PlannedLine, clip, plan_bill_lines
from ml_connector.core.currencies import is_known_currency
from ml_connector.core.geo import country_code, us_state_code
from ml_connector.core.hashing import content_hash
from ml_connector.core.model import (
    Bill,
    BillStatus,
    FreshBooksKind,
    RampBillStatus,
    Vendor,
    VisState,
)
from ml_connector.core.plan_context import (
    MEMO_LIMIT,
    PlanContext,
    invoice_number_for,
    manual_method_for_payments,
)
from ml_connector.core.plan_expenses import plan_expense
from ml_connector.core.problems import Problem
from ml_connector.core.terms import (
    DueDateDecision,
    PaymentTerms,
    TermsPolicy,
    decide_due_date,
    vendor_terms,
)
from ml_connector.core.vendors import MatchOutcome, canonical_vendor_key, match_vendor

__all__ = [
    "ARCHIVED_HASH",
    "REPLACING_HASH",
    "PlanContext",
    "VendorTarget",
    "only_skips",
    "plan_bill",
    "plan_expense",
    "plan_vendor",
    "resolve_vendor",
]

ARCHIVED_HASH = content_hash({"archived": True})
"""The link hash recorded after a bill is archived in Ramp."""
REPLACING_HASH = content_hash({"archived": True, "replacing": True})
"""The link hash while a bill's open Ramp bill is being replaced by a paid one."""


def only_skips(actions: Sequence[Action]) -> bool:
    """True when a plan has nothing to do."""
    return all(isinstance(a, Skip) for a in actions)


@dataclass(frozen=True, slots=True)
class VendorTarget:
    """The Ramp vendor (and contact) a bill will reference, and the vendor actions first."""

    actions: tuple[Action, ...]
    vendor_id: str | PendingRef | None
    contact_id: str | PendingRef | None
    explanation: str
    blocked: Review | None = None


def _vendor_payload(vendor: Vendor, ctx: PlanContext) -> dict[str, Any] | tuple[Problem, ...]:  # noqa: PLR0912 - one branch per documented rule, read top to bottom
    cfg = ctx.config
    problems: list[Problem] = []
    name = " ".join(vendor.name.split()) if isinstance(vendor.name, str) else ""
    if not name:
        problems.append(Problem("vendor.no_name", "the vendor has no name", "vendor_name"))
    owner = cfg.connection.ramp_vendor_owner_id
    if owner is None:
        problems.append(
            Problem(
                "vendor.no_owner",
                "creating a Ramp vendor needs vendor_owner_id; set connection.ramp_vendor_owner_id",
            )
        )
    if vendor.country:
        country = country_code(vendor.country)
        if country is None:
            problems.append(
                Problem(
                    "vendor.unknown_country",
                    f"country {vendor.country!r} is not recognised; use a 2-letter code in FreshBooks",
                    "country",
                )
            )
    else:
        country = cfg.vendors.default_country
        if country is None:
            problems.append(
                Problem(
                    "vendor.no_country",
                    "Ramp needs the vendor's country; add it in FreshBooks or set vendors.default_country",
                    "country",
                )
            )
    state: str | None = None
    if country == "US":
        state = us_state_code(vendor.province) if vendor.province else cfg.vendors.default_state
        if state is None:
            problems.append(
                Problem(
                    "vendor.no_state",
                    f"Ramp needs a state for US vendors; {vendor.province!r} is not one "
                    "(fix it in FreshBooks or set vendors.default_state)",
                    "province",
                )
            )
    email = (vendor.email or "").strip() or cfg.vendors.fallback_contact_email
    if not email:
        problems.append(
            Problem(
                "vendor.no_email",
                "Ramp needs a contact email for the vendor; add one in FreshBooks or set "
                "vendors.fallback_contact_email",
                "primary_contact_email",
            )
        )
    if problems:
        return tuple(problems)
    contact: dict[str, Any] = {"email": email}
    for key, value in (
        ("first_name", vendor.first_name),
        ("last_name", vendor.last_name),
        ("phone", vendor.phone),
    ):
        if value and value.strip():
            contact[key] = value.strip()
    payload: dict[str, Any] = {
        "name": name,
        "country": country,
        "vendor_owner_id": owner,
        "business_vendor_contacts": contact,
    }
    if state is not None:
        payload["state"] = state
    if vendor.street and vendor.city and vendor.postal_code:
        address: dict[str, Any] = {
            "address_line_1": vendor.street.strip(),
            "city": vendor.city.strip(),
            "postal_code": vendor.postal_code.strip(),
            "country": country,
        }
        if vendor.street2 and vendor.street2.strip():
            address["address_line_2"] = vendor.street2.strip()
        if state is not None:
            address["state"] = state
        payload["address"] = address
    if cfg.vendors.write_external_vendor_id:
        payload["external_vendor_id"] = ctx.ref("vendor", vendor.id)
    return payload


def resolve_vendor(vendor: Vendor, ctx: PlanContext) -> VendorTarget:
    """Run the vendor ladder and turn its verdict into actions and a bill target."""
    subject = Subject(FreshBooksKind.VENDOR, vendor.id)
    configured = next(
        (
            lk.ramp_vendor_id
            for lk in ctx.config.vendors.links
            if lk.freshbooks_vendor_id == vendor.id
        ),
        None,
    )
    stored = ctx.links.get(FreshBooksKind.VENDOR, vendor.id)
    linked = configured or (stored.ramp_id if stored is not None else None)
    match = match_vendor(
        vendor.name if isinstance(vendor.name, str) else "",
        ctx.ramp.vendors,
        linked_ramp_vendor_id=linked,
        external_vendor_id=ctx.ref("vendor", vendor.id),
        auto_threshold=float(ctx.config.vendors.auto_match_threshold),
        review_threshold=float(ctx.config.vendors.review_threshold),
        confirmed_distinct=vendor.id in ctx.config.vendors.distinct,
    )
    why = f"vendor: {match.reason} [rule {match.rule.value}, confidence {match.confidence:g}]"
    if match.outcome is MatchOutcome.MATCHED and match.vendor is not None:
        found = match.vendor
        contact = found.default_contact_id
        if contact is None:
            review = Review(
                subject=subject, code="vendor.no_contact", explanation=(why,),
                reason=f"Ramp vendor {found.name!r} has no contact; bills need vendor_contact_id — "
                "add a contact in Ramp",
            )  # fmt: skip
            return VendorTarget((review,), None, None, why, review)
        if stored is not None and stored.ramp_id == found.id:
            skip = Skip(subject=subject, reason=f"already linked to Ramp vendor {found.name!r}")
            return VendorTarget((skip,), found.id, contact, why)
        link = LinkVendor(
            subject=subject, reason=f"link to existing Ramp vendor {found.name!r}",
            explanation=(why,), ramp_vendor_id=found.id, rule=match.rule.value,
            confidence=match.confidence, content_hash=content_hash({"ramp_vendor_id": found.id}),
        )  # fmt: skip
        return VendorTarget((link,), found.id, contact, why)
    if match.outcome is MatchOutcome.REVIEW or not ctx.config.vendors.create_missing:
        review = Review(
            subject=subject, reason=match.reason, code=match.code, explanation=(why,),
            candidates=tuple(f"{c.vendor.name} ({c.vendor.id}, score {c.score:g})" for c in match.candidates),
        )  # fmt: skip
        if match.outcome is not MatchOutcome.REVIEW:
            review = Review(
                subject=subject, code="vendor.creation_disabled", explanation=(why,),
                reason=f"{match.reason}; vendors.create_missing is off — link it by hand",
            )  # fmt: skip
        return VendorTarget((review,), None, None, why, review)
    payload = _vendor_payload(vendor, ctx)
    if isinstance(payload, tuple):
        review = Review(
            subject=subject, code="vendor.cannot_create", problems=payload, explanation=(why,),
            reason="no Ramp vendor matches and one cannot be created yet: "
            + "; ".join(p.reason for p in payload),
        )  # fmt: skip
        return VendorTarget((review,), None, None, why, review)
    create = CreateVendor(
        subject=subject, payload=payload, content_hash=content_hash(payload), explanation=(why,),
        reason=f"no Ramp vendor matches {vendor.name!r}; create it",
    )  # fmt: skip
    return VendorTarget(
        (create,), PendingRef("vendor", vendor.id), PendingRef("vendor_contact", vendor.id), why
    )


def plan_vendor(vendor: Vendor, ctx: PlanContext) -> tuple[Action, ...]:
    """Link, create or send to review one FreshBooks vendor. Existing links are kept."""
    if vendor.vis_state is VisState.DELETED:
        return (
            Skip(
                subject=Subject(FreshBooksKind.VENDOR, vendor.id),
                reason="deleted in FreshBooks; Ramp vendors are never deleted by the connector",
            ),
        )
    return resolve_vendor(vendor, ctx).actions


def _configured_terms(vendor: Vendor, ctx: PlanContext) -> PaymentTerms | None:
    key = canonical_vendor_key(vendor.name)
    for entry in ctx.config.vendors.terms:
        if entry.vendor == vendor.id or (key and canonical_vendor_key(entry.vendor) == key):
            return entry.payment_terms
    return None


def _plan_deleted_bill(bill: Bill, ctx: PlanContext, subject: Subject) -> tuple[Action, ...]:
    link = ctx.links.get(FreshBooksKind.BILL, bill.id)
    if link is None:
        return (Skip(subject=subject, reason="deleted in FreshBooks before it was ever synced"),)
    if link.content_hash == ARCHIVED_HASH:
        return (Skip(subject=subject, reason=f"already archived in Ramp (bill {link.ramp_id})"),)
    remote = ctx.ramp.bill(link.ramp_id)
    if remote is not None and remote.archived:
        return (Skip(subject=subject, reason=f"Ramp bill {link.ramp_id} is already archived"),)
    if remote is not None and remote.status is RampBillStatus.PAID:
        return (
            Review(
                subject=subject, code="bill.deleted_but_paid",
                reason=f"deleted in FreshBooks but Ramp bill {link.ramp_id} is paid; Ramp cannot "
                "archive paid bills — reverse the payment in Ramp or restore the FreshBooks bill",
            ),
        )  # fmt: skip
    return (
        ArchiveBill(
            subject=subject, ramp_bill_id=link.ramp_id, content_hash=ARCHIVED_HASH,
            reason=f"deleted in FreshBooks; archive Ramp bill {link.ramp_id}",
        ),
    )  # fmt: skip


def _memo(bill: Bill, number_note: str | None) -> str:
    parts = [f"FreshBooks bill {bill.id}"]
    if number_note and bill.bill_number:
        parts.append(f"vendor invoice no. {' '.join(bill.bill_number.split())}")
    if bill.description:
        parts.append(bill.description)
    if bill.status is BillStatus.PARTIAL:
        parts.append("partly paid in FreshBooks")
    return clip(" · ".join(parts), MEMO_LIMIT)


def plan_bill(  # noqa: PLR0911, PLR0912 - total function: one early return per documented rule
    bill: Bill,
    vendor: Vendor | None,
    ctx: PlanContext,
    *,
    vendor_recent_offsets: Sequence[int] = (),
) -> tuple[Action, ...]:
    """Plan one FreshBooks bill (its vendor's actions first, if any).

    Args:
        bill: the FreshBooks bill.
        vendor: its FreshBooks vendor (None if FreshBooks did not say).
        ctx: configuration, Ramp state, links, categories, today.
        vendor_recent_offsets: ``due_offset_days`` of the vendor's other recent bills,
            most recent first, for inferring the vendor's terms.
    """
    subject = Subject(FreshBooksKind.BILL, bill.id)
    if bill.vis_state is VisState.DELETED:
        return _plan_deleted_bill(bill, ctx, subject)
    if vendor is None or bill.vendor_id is None or vendor.id != bill.vendor_id:
        return (
            Review(
                subject=subject, code="bill.no_vendor",
                reason="the bill's vendor is missing in FreshBooks; add the vendor and re-sync",
            ),
        )  # fmt: skip
    target = resolve_vendor(vendor, ctx)
    vendor_actions = tuple(a for a in target.actions if not isinstance(a, Skip))
    if target.blocked is not None:
        return (
            *vendor_actions,
            Review(
                subject=subject, code="bill.vendor_review", explanation=(target.explanation,),
                reason=f"waits for its vendor {vendor.name!r}: {target.blocked.reason}",
            ),
        )  # fmt: skip
    cfg = ctx.config
    problems: list[Problem] = []
    if not is_known_currency(bill.currency):
        problems.append(
            Problem(
                "bill.unknown_currency",
                f"{bill.currency!r} is not an ISO 4217 currency",
                "currency_code",
            )
        )
        lines: tuple[PlannedLine, ...] = ()
    else:
        planned = plan_bill_lines(bill, ctx.setup, ctx.categories, vendor_name=vendor.name)
        lines = tuple(p for p in planned if not isinstance(p, Problem))
        problems.extend(p for p in planned if isinstance(p, Problem))
    terms = vendor_terms(
        _configured_terms(vendor, ctx),
        tuple(vendor_recent_offsets)[: cfg.bills.terms_lookback],
        min_bills=cfg.bills.terms_min_bills,
        min_share=Fraction(cfg.bills.terms_min_share, 100),
    )
    due = decide_due_date(
        bill.issue_date, bill.due_offset_days, terms, TermsPolicy(cfg.bills.terms_policy)
    )
    if isinstance(due, Problem):
        problems.append(due)
    number = invoice_number_for(
        bill.bill_number, f"FB-{bill.id}", cfg.bills.invoice_number_overflow
    )
    if isinstance(number, Problem):
        problems.append(number)
    payment: dict[str, Any] = {"payment_method": cfg.bills.unpaid_payment_method}
    if bill.status is BillStatus.PAID:
        paid = [p for p in bill.payments if p.active]
        if not paid:
            problems.append(
                Problem(
                    "bill.paid_without_payment",
                    "FreshBooks marks the bill paid but lists no payment",
                )
            )
        else:
            payment = {
                "payment_method": "PAID_MANUALLY",
                "payment_details": {
                    "manual_payment_method": manual_method_for_payments(
                        p.payment_type for p in paid
                    ),
                    "payment_date": max(p.paid_date for p in paid).isoformat(),
                },
            }
    if problems:
        return (
            *vendor_actions,
            Review(
                subject=subject, code="bill.invalid", problems=tuple(problems),
                explanation=(target.explanation,),
                reason=f"{len(problems)} problem(s) keep this bill from Ramp: "
                + "; ".join(str(p) for p in problems),
            ),
        )  # fmt: skip
    assert isinstance(due, DueDateDecision)
    assert not isinstance(number, Problem)
    invoice_number, number_note = number
    if due.needs_review:
        return (
            *vendor_actions,
            Review(subject=subject, code="bill.terms_disagree", reason=due.reason,
                   explanation=(target.explanation,)),
        )  # fmt: skip
    content: dict[str, Any] = {
        "vendor_id": target.vendor_id,
        "vendor_contact_id": target.contact_id,
        "entity_id": cfg.connection.ramp_entity_id,
        "invoice_number": invoice_number,
        "invoice_currency": bill.currency,
        "issued_at": bill.issue_date.isoformat(),
        "due_at": due.due_at.isoformat(),
        "memo": _memo(bill, number_note),
        "remote_id": ctx.ref("bill", bill.id),
        "line_items": [line.payload() for line in lines],
    }
    explanation = (
        target.explanation,
        f"terms [{due.source.value}]: {due.reason}; due {due.due_at}",
        *((f"invoice number: {number_note}",) if number_note else ()),
        f"tax policy: {cfg.bills.tax_policy}",
        f"payment: {payment['payment_method']}",
        *(
            f"line {i} ({line.memo}): {'; '.join(line.explanation)}"
            for i, line in enumerate(lines, 1)
        ),
    )
    digest = None if has_pending(content) else content_hash(content)
    link = ctx.links.get(FreshBooksKind.BILL, bill.id)
    if link is None:
        create = CreateBill(
            subject=subject, payload={**content, **payment}, content=content, content_hash=digest,
            explanation=explanation,
            reason=f"new bill {invoice_number} for {vendor.name!r}, {len(lines)} line(s)",
        )  # fmt: skip
        return (*vendor_actions, create)
    linked = _plan_linked_bill(
        bill, ctx, subject=subject, ramp_bill_id=link.ramp_id, stored_hash=link.content_hash,
        content=content, payment=payment, digest=digest, explanation=explanation,
    )  # fmt: skip
    return (*vendor_actions, *linked)


def _replace(
    bill: Bill,
    ctx: PlanContext,
    *,
    subject: Subject,
    ramp_bill_id: str,
    content: dict[str, Any],
    payment: dict[str, Any],
    digest: str | None,
    explanation: tuple[str, ...],
    resumed: bool,
) -> ReplaceBill:
    paid = payment.get("payment_details") or {}
    how = (
        f"paid in FreshBooks on {paid['payment_date']} ({paid['manual_payment_method']})"
        if paid
        else "no longer paid in FreshBooks"
    )
    why = (
        f"finish replacing Ramp bill {ramp_bill_id} (archived by an earlier attempt): {how}"
        if resumed
        else f"{how} after Ramp bill {ramp_bill_id} was created; Ramp's API cannot mark it "
        "paid and bill pay could pay it again — archive it and record the bill again as "
        f"{payment['payment_method']} with the same remote_id"
    )
    return ReplaceBill(
        subject=subject, replaces=ramp_bill_id, payload={**content, **payment}, content=content,
        content_hash=digest, reason=why,
        explanation=(*explanation, f"paid after sync: policy {ctx.config.bills.paid_after_sync}"),
    )  # fmt: skip


def _plan_linked_bill(  # noqa: PLR0911 - one early return per documented rule
    bill: Bill,
    ctx: PlanContext,
    *,
    subject: Subject,
    ramp_bill_id: str,
    stored_hash: str,
    content: dict[str, Any],
    payment: dict[str, Any],
    digest: str | None,
    explanation: tuple[str, ...],
) -> tuple[Action, ...]:
    remote = ctx.ramp.bill(ramp_bill_id)
    policy = ctx.config.bills.paid_after_sync
    replacing = stored_hash == REPLACING_HASH
    out: list[Action] = []
    if remote is not None and remote.archived:
        if replacing:
            return (
                _replace(
                    bill, ctx, subject=subject, ramp_bill_id=ramp_bill_id, content=content,
                    payment=payment, digest=digest, explanation=explanation, resumed=True,
                ),
            )  # fmt: skip
        return (
            Review(
                subject=subject, code="bill.archived_in_ramp",
                reason=f"Ramp bill {ramp_bill_id} is archived but the FreshBooks bill is active; "
                "unarchive it in Ramp or delete the FreshBooks bill",
            ),
        )  # fmt: skip
    if remote is not None and remote.status is RampBillStatus.PAID and replacing:
        return (
            Skip(
                subject=subject,
                reason=f"Ramp bill {ramp_bill_id} was paid in Ramp before it could be replaced; "
                "paid Ramp bills are never touched",
            ),
        )  # fmt: skip
    paid_here_only = (
        bill.status is BillStatus.PAID
        and remote is not None
        and remote.status is RampBillStatus.OPEN
    )
    if paid_here_only and policy == "replace":
        if remote is not None and remote.currency is not None and remote.currency != bill.currency:
            return (_currency_changed(subject, remote.currency, bill.currency),)
        return (
            _replace(
                bill, ctx, subject=subject, ramp_bill_id=ramp_bill_id, content=content,
                payment=payment, digest=digest, explanation=explanation, resumed=False,
            ),
        )  # fmt: skip
    if digest != stored_hash:
        if remote is not None and remote.currency is not None and remote.currency != bill.currency:
            return (_currency_changed(subject, remote.currency, bill.currency),)
        if remote is not None and remote.status is RampBillStatus.PAID:
            return (
                Review(
                    subject=subject, code="bill.changed_after_paid",
                    reason=f"changed in FreshBooks after Ramp bill {ramp_bill_id} was paid; "
                    "apply the change in Ramp by hand",
                ),
            )  # fmt: skip
        patch = {k: v for k, v in content.items() if k != "invoice_currency"}
        partly = (
            ("payment: partly paid in FreshBooks; the Ramp bill stays open (noted in its memo)",)
            if bill.status is BillStatus.PARTIAL
            else ()
        )
        out.append(
            UpdateBill(
                subject=subject, ramp_bill_id=ramp_bill_id, payload=patch, content=content,
                content_hash=digest, explanation=(*explanation, *partly),
                reason=f"changed in FreshBooks since the last sync; update Ramp bill {ramp_bill_id}",
            )
        )  # fmt: skip
    if paid_here_only:
        out.append(
            Review(
                subject=subject, code="bill.paid_in_freshbooks_only",
                reason=f"paid in FreshBooks after Ramp bill {ramp_bill_id} was created; Ramp's API "
                "cannot mark an existing bill paid and bills.paid_after_sync is 'review' — "
                "record the payment in Ramp (or set the policy to 'replace' and replay)",
            )
        )  # fmt: skip
    elif (
        bill.status is BillStatus.PARTIAL
        and policy == "review"
        and remote is not None
        and remote.status is RampBillStatus.OPEN
    ):
        out.append(
            Review(
                subject=subject, code="bill.partly_paid_in_freshbooks",
                reason=f"partly paid in FreshBooks; Ramp bill {ramp_bill_id} stays open for the "
                "full amount and bills.paid_after_sync is 'review' — check what Ramp may still pay",
            )
        )  # fmt: skip
    if not out:
        out.append(
            Skip(
                subject=subject, reason=f"unchanged since the last sync (Ramp bill {ramp_bill_id})"
            )
        )
    return tuple(out)


def _currency_changed(subject: Subject, was: str, now: str) -> Review:
    return Review(
        subject=subject, code="bill.currency_changed",
        reason=f"the bill's currency changed from {was} to {now}; "
        "Ramp cannot change a bill's currency — archive it in Ramp and re-sync",
    )  # fmt: skip
