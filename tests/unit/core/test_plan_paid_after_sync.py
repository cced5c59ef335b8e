"""`bills.paid_after_sync`: a bill paid in FreshBooks after its Ramp bill exists."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from mapping_world import ACME, CATEGORIES, apply, bill, config, ramp_state, usd

from ml_connector.core.actions import ArchiveBill, ReplaceBill, Review, Skip, UpdateBill
from ml_connector.core.flow_config import FlowConfig, load_flow_config
from ml_connector.core.hashing import content_hash
from ml_connector.core.model import (
    BillPayment,
    BillStatus,
    FreshBooksKind,
    Link,
    RampBill,
    RampBillStatus,
    RampState,
    VisState,
)
from ml_connector.core.plan import (
    ARCHIVED_HASH,
    REPLACING_HASH,
    PlanContext,
    only_skips,
    plan_bill,
)
from ml_connector.core.plan_context import manual_method_for_payments

TODAY = date(2026, 9, 25)
PAID = bill(
    status=BillStatus.PAID,
    payments=(
        BillPayment(id="1", amount=usd("100.00"), paid_date=date(2026, 9, 18), payment_type="ACH"),
        BillPayment(id="2", amount=usd("41.25"), paid_date=date(2026, 9, 20), payment_type="ACH"),
    ),
)
PARTLY = bill(
    status=BillStatus.PARTIAL,
    payments=(BillPayment(id="1", amount=usd("100.00"), paid_date=date(2026, 9, 18)),),
)


def ctx(state: RampState, links: tuple[Link, ...], **cfg: object) -> PlanContext:
    return PlanContext.build(
        config(**cfg), ramp=state, links=links, categories=CATEGORIES, today=TODAY
    )


def synced_open() -> tuple[RampState, tuple[Link, ...]]:
    """The unpaid bill synced: an open Ramp bill rb-bill-432 and its link."""
    return apply(plan_bill(bill(), ACME, ctx(ramp_state(), ())), ramp_state(), ())


def with_bill(state: RampState, **changes: object) -> RampState:
    return replace(state, bills=tuple(replace(b, **changes) for b in state.bills))  # type: ignore[arg-type]


def relinked(links: tuple[Link, ...], **changes: object) -> tuple[Link, ...]:
    return tuple(
        replace(lk, **changes) if lk.fb_kind is FreshBooksKind.BILL else lk  # type: ignore[arg-type]
        for lk in links
    )


CONNECTION = (
    'version = 1\n[connection]\nname = "x"\nfreshbooks_account_id = "A"\nramp_entity_id = "e"\n'
)


def test_the_policy_defaults_to_replace_and_loads_from_toml() -> None:
    assert config().bills.paid_after_sync == "replace"
    loaded = load_flow_config(CONNECTION + '[bills]\npaid_after_sync = "review"\n')
    assert isinstance(loaded, FlowConfig), str(loaded)
    assert loaded.bills.paid_after_sync == "review"
    refused = load_flow_config(CONNECTION + '[bills]\npaid_after_sync = "pay_twice"\n')
    assert not isinstance(refused, FlowConfig)
    assert "paid_after_sync" in str(refused)


def test_replace_archives_the_open_bill_and_recreates_it_paid() -> None:
    state, links = synced_open()
    [action] = plan_bill(PAID, ACME, ctx(state, links))
    assert isinstance(action, ReplaceBill)
    assert action.replaces == "rb-bill-432"
    assert (action.method, action.path) == ("POST", "/bills")
    first = plan_bill(bill(), ACME, ctx(ramp_state(), ()))[-1]
    # Same remote_id, lines and coding as the bill it replaces; paid on the last payment.
    assert action.content == first.content  # type: ignore[union-attr]
    assert action.payload["remote_id"] == "freshbooks:ABC123:bill:432"
    assert action.payload["payment_method"] == "PAID_MANUALLY"
    assert action.payload["payment_details"] == {
        "manual_payment_method": manual_method_for_payments(["ACH"]),
        "payment_date": "2026-09-20",
    }
    assert action.content_hash == content_hash(action.content)
    assert "archive it" in action.reason
    assert "paid in FreshBooks on 2026-09-20" in action.reason
    assert "paid after sync: policy replace" in action.explanation


def test_replacement_carries_the_freshbooks_payment_method() -> None:
    state, links = synced_open()
    by_check = replace(
        PAID,
        payments=(
            BillPayment(
                id="1", amount=usd("141.25"), paid_date=date(2026, 9, 19), payment_type="Check"
            ),
        ),
    )
    [action] = plan_bill(by_check, ACME, ctx(state, links))
    assert isinstance(action, ReplaceBill)
    assert action.payload["payment_details"] == {
        "manual_payment_method": "CHECK",
        "payment_date": "2026-09-19",
    }


def test_after_the_replacement_the_plan_is_a_skip() -> None:
    state, links = synced_open()
    [action] = plan_bill(PAID, ACME, ctx(state, links))
    assert isinstance(action, ReplaceBill)
    # What the executor leaves: the old bill archived, a paid one linked with the content hash.
    after = replace(
        state,
        bills=(
            RampBill(id="rb-bill-432", archived=True, currency="USD"),
            RampBill(id="rb-new", status=RampBillStatus.PAID, currency="USD"),
        ),
    )
    assert action.content_hash is not None
    links_after = relinked(links, ramp_id="rb-new", content_hash=action.content_hash)
    assert only_skips(plan_bill(PAID, ACME, ctx(after, links_after)))
    # Deleted in FreshBooks now: Ramp cannot archive a paid bill, so it goes to review.
    [review] = plan_bill(replace(PAID, vis_state=VisState.DELETED), ACME, ctx(after, links_after))
    assert isinstance(review, Review)
    assert review.code == "bill.deleted_but_paid"


def test_an_interrupted_replacement_is_finished_not_reviewed() -> None:
    state, links = synced_open()
    archived = with_bill(state, archived=True)
    marked = relinked(links, content_hash=REPLACING_HASH)
    [action] = plan_bill(PAID, ACME, ctx(archived, marked))
    assert isinstance(action, ReplaceBill)
    assert action.replaces == "rb-bill-432"
    assert action.reason.startswith("finish replacing Ramp bill rb-bill-432")
    # Marked but the archive never happened: the same replacement, from the start.
    [again] = plan_bill(PAID, ACME, ctx(state, marked))
    assert isinstance(again, ReplaceBill)
    assert "archive it" in again.reason
    # Without the mark, an archived Ramp bill is someone's decision: review.
    [review] = plan_bill(PAID, ACME, ctx(archived, links))
    assert isinstance(review, Review)
    assert review.code == "bill.archived_in_ramp"
    # Deleted in FreshBooks meanwhile: nothing left to do.
    [skip] = plan_bill(replace(PAID, vis_state=VisState.DELETED), ACME, ctx(archived, marked))
    assert isinstance(skip, Skip)


def test_a_bill_paid_in_ramp_is_never_touched() -> None:
    state, links = synced_open()
    paid_in_ramp = with_bill(state, status=RampBillStatus.PAID)
    for policy in ("replace", "review"):
        assert only_skips(
            plan_bill(PAID, ACME, ctx(paid_in_ramp, links, bills__paid_after_sync=policy))
        )
    marked = relinked(links, content_hash=REPLACING_HASH)
    [skip] = plan_bill(PAID, ACME, ctx(paid_in_ramp, marked))
    assert isinstance(skip, Skip)
    assert "never touched" in skip.reason


def test_review_policy_leaves_the_bill_open_and_parks_it() -> None:
    state, links = synced_open()
    [review] = plan_bill(PAID, ACME, ctx(state, links, bills__paid_after_sync="review"))
    assert isinstance(review, Review)
    assert review.code == "bill.paid_in_freshbooks_only"
    assert "'review'" in review.reason


def test_partly_paid_stays_open_with_a_note_and_reviews_only_under_review() -> None:
    state, links = synced_open()
    [update] = plan_bill(PARTLY, ACME, ctx(state, links))
    assert isinstance(update, UpdateBill)
    assert "payment_method" not in update.payload
    assert "partly paid in FreshBooks" in update.payload["memo"]
    assert any("stays open" in line for line in update.explanation)
    state2, links2 = apply((update,), state, links)
    assert only_skips(plan_bill(PARTLY, ACME, ctx(state2, links2)))
    review_plan = plan_bill(PARTLY, ACME, ctx(state2, links2, bills__paid_after_sync="review"))
    [review] = review_plan
    assert isinstance(review, Review)
    assert review.code == "bill.partly_paid_in_freshbooks"


def test_a_replacement_never_changes_the_currency() -> None:
    state, links = synced_open()
    in_eur = with_bill(state, currency="EUR")
    [review] = plan_bill(PAID, ACME, ctx(in_eur, links))
    assert isinstance(review, Review)
    assert review.code == "bill.currency_changed"


def test_delete_of_a_marked_open_bill_archives_it() -> None:
    state, links = synced_open()
    marked = relinked(links, content_hash=REPLACING_HASH)
    [archive] = plan_bill(replace(PAID, vis_state=VisState.DELETED), ACME, ctx(state, marked))
    assert isinstance(archive, ArchiveBill)
    assert archive.content_hash == ARCHIVED_HASH
