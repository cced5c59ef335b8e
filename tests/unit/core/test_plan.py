"""Planners: exact Ramp payloads with reasons; deterministic; idempotent; never raising."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mapping_world import (
    ACME,
    CATEGORIES,
    NEW_VENDOR,
    apply,
    bill,
    card,
    config,
    ramp_state,
    usd,
)

from ml_connector.core.actions import (
    Action,
    ArchiveBill,
    CodeTransaction,
    CreateBill,
    CreateManualPaidBill,
    CreateVendor,
    LinkVendor,
    PendingRef,
    Review,
    SetMemo,
    Skip,
    UpdateBill,
    Wait,
)
from ml_connector.core.hashing import content_hash
from ml_connector.core.model import (
    Bill,
    BillLine,
    BillPayment,
    BillStatus,
    CardTransaction,
    Expense,
    LineTax,
    PaidWith,
    RampBillStatus,
    Vendor,
    VisState,
)
from ml_connector.core.money import Money
from ml_connector.core.plan import PlanContext, only_skips, plan_bill, plan_expense, plan_vendor

TODAY = date(2026, 9, 12)


def ctx(state=None, links=(), cfg=None):  # type: ignore[no-untyped-def]
    return PlanContext.build(
        cfg or config(), ramp=state or ramp_state(), links=links, categories=CATEGORIES, today=TODAY
    )


def sel(field: str, option: str) -> dict[str, str]:
    return {"field_external_id": field, "field_option_external_id": option}


def test_new_bill_exact_payload_and_reasons() -> None:
    actions = plan_bill(bill(), ACME, ctx())
    link, create = actions
    assert isinstance(link, LinkVendor)
    assert (link.ramp_vendor_id, link.rule, link.confidence) == ("rv-acme", "exact_name", 0.99)
    assert isinstance(create, CreateBill)
    assert not isinstance(create, CreateManualPaidBill)
    assert (create.method, create.path) == ("POST", "/bills")
    assert create.payload == {
        "vendor_id": "rv-acme",
        "vendor_contact_id": "rc-acme",
        "entity_id": "ent-1",
        "invoice_number": "INV-1001",
        "invoice_currency": "USD",
        "issued_at": "2026-09-01",
        "due_at": "2026-10-01",
        "memo": "FreshBooks bill 432",
        "remote_id": "freshbooks:ABC123:bill:432",
        "line_items": [
            {"amount": "125.00", "memo": "Printer paper",
             "accounting_field_selections": [sel("Category", "6300"), sel("Department", "DEP-OPS")]},
            {"amount": "16.25", "memo": "GST on line 1: Printer paper",
             "accounting_field_selections": [sel("Category", "2200"), sel("Department", "DEP-OPS")]},
        ],
        "payment_method": "UNSPECIFIED",
    }  # fmt: skip
    assert create.content_hash == content_hash(create.content)
    text = "\n".join(create.explanation)
    assert "rule exact_name, confidence 0.99" in text
    assert "terms [bill]: Net 30 from the bill, agreeing with the vendor's terms" in text
    assert "tax policy: separate_line" in text
    assert "GL [explicit]" in text
    assert "rule 2: Everything else is Operations" in text
    assert "GST 13% = 16.25 USD as its own line coded to 2200" in text


def test_fold_into_line_policy_is_visible() -> None:
    cfg = config(bills__tax_policy="fold_into_line")
    create = plan_bill(bill(), ACME, ctx(cfg=cfg))[-1]
    assert isinstance(create, CreateBill)
    [line] = create.payload["line_items"]
    assert line["amount"] == "141.25"
    assert "includes GST 13% = 16.25 USD [tax policy fold_into_line]" in "\n".join(
        create.explanation
    )


def test_tax_from_percentage_only_is_computed_and_said() -> None:
    lines = (BillLine(index=1, category_id="2006", description="Toner", unit_cost=usd("10.05"),
                      amount=usd("10.05"), taxes=(LineTax(name="Sales tax", percent=Decimal("7.5")),)),)  # fmt: skip
    create = plan_bill(bill(lines=lines, total_amount=usd("10.80")), ACME, ctx())[-1]
    assert isinstance(create, CreateBill)
    assert [li["amount"] for li in create.payload["line_items"]] == ["10.05", "0.75"]
    assert "exactly 0.75375, rounded half-up" in "\n".join(create.explanation)


def test_a_line_of_1234_565_is_rejected_not_rounded() -> None:
    lines = (BillLine(index=1, category_id="2006", description="Desk", amount=usd("1234.565")),)
    review = plan_bill(bill(lines=lines, total_amount=None), ACME, ctx())[-1]
    assert isinstance(review, Review)
    assert review.code == "bill.invalid"
    assert [p.code for p in review.problems] == ["money.excess_precision"]
    assert review.problems[0].field == "lines[1].amount"
    assert "1234.565 USD" in review.reason
    assert "refusing to round" in review.reason


def test_every_problem_is_reported_at_once() -> None:
    lines = (
        BillLine(index=1, category_id="2018", description="Advice", amount=usd("100.00")),
        BillLine(index=2, category_id="2006", description="Paper", quantity=Decimal(3),
                 unit_cost=usd("1.00"), amount=usd("4.00")),
    )  # fmt: skip
    review = plan_bill(bill(lines=lines, due_offset_days=-2), ACME, ctx())[-1]
    assert isinstance(review, Review)
    assert [p.code for p in review.problems] == [
        "gl.unmapped", "bill.line_amount_mismatch", "terms.negative",
    ]  # fmt: skip


def test_lines_must_sum_to_the_bill_total() -> None:
    review = plan_bill(bill(total_amount=usd("141.26")), ACME, ctx())[-1]
    assert isinstance(review, Review)
    assert review.problems[0].code == "bill.total_mismatch"
    assert "141.25 USD" in review.problems[0].reason
    assert "141.26 USD" in review.problems[0].reason


def test_long_invoice_numbers() -> None:
    number = "ACME-2026-09-PO-778812-B"
    create = plan_bill(bill(bill_number=number), ACME, ctx())[-1]
    assert isinstance(create, CreateBill)
    sent = create.payload["invoice_number"]
    assert len(sent) == 20
    assert sent.startswith("ACME-2026-09~")
    assert f"vendor invoice no. {number}" in create.payload["memo"]
    review = plan_bill(
        bill(bill_number=number), ACME, ctx(cfg=config(bills__invoice_number_overflow="review"))
    )[-1]
    assert isinstance(review, Review)
    assert review.problems[0].code == "bill.invoice_number_too_long"
    blank = plan_bill(bill(bill_number=None), ACME, ctx())[-1]
    assert isinstance(blank, CreateBill)
    assert blank.payload["invoice_number"] == "FB-432"


def test_paid_bill_is_recorded_as_paid_manually() -> None:
    paid = bill(
        status=BillStatus.PAID,
        payments=(
            BillPayment(
                id="1", amount=usd("100.00"), paid_date=date(2026, 9, 5), payment_type="Check"
            ),
            BillPayment(
                id="2", amount=usd("41.25"), paid_date=date(2026, 9, 9), payment_type="Check"
            ),
        ),
    )
    create = plan_bill(paid, ACME, ctx())[-1]
    assert isinstance(create, CreateBill)
    assert create.payload["payment_method"] == "PAID_MANUALLY"
    assert create.payload["payment_details"] == {
        "manual_payment_method": "CHECK",
        "payment_date": "2026-09-09",
    }
    assert "payment_method" not in create.content  # payment is not part of the content hash


def test_terms_disagreement_follows_policy() -> None:
    review = plan_bill(bill(due_offset_days=15), ACME, ctx())[-1]
    assert isinstance(review, Review)
    assert review.code == "bill.terms_disagree"
    assert "Net 15" in review.reason
    assert "Net 30" in review.reason
    enforced = plan_bill(
        bill(due_offset_days=15), ACME, ctx(cfg=config(bills__terms_policy="enforce"))
    )[-1]
    assert isinstance(enforced, CreateBill)
    assert enforced.payload["due_at"] == "2026-10-01"
    kept = plan_bill(bill(due_offset_days=15), ACME, ctx(cfg=config(bills__terms_policy="keep")))[
        -1
    ]
    assert isinstance(kept, CreateBill)
    assert kept.payload["due_at"] == "2026-09-16"


def test_inferred_vendor_terms_flag_an_odd_bill() -> None:
    other = replace(NEW_VENDOR, id="8", name="Comcast Business")
    actions = plan_bill(bill(vendor_id="8", due_offset_days=45), other, ctx(),
                        vendor_recent_offsets=[15, 15, 15, 30])  # fmt: skip
    assert isinstance(actions[-1], Review)
    assert "3 of the vendor's last 4 bills" in actions[-1].reason


def test_new_vendor_is_created_first_and_replanning_is_quiet() -> None:
    state = ramp_state()
    actions = plan_bill(bill(vendor_id="9"), NEW_VENDOR, ctx(state))
    create_vendor, create_bill = actions
    assert isinstance(create_vendor, CreateVendor)
    assert create_vendor.payload == {
        "name": "Blue Bottle Coffee", "country": "US", "state": "CA",
        "vendor_owner_id": "user-owner",
        "business_vendor_contacts": {"email": "ar@bluebottle.example"},
    }  # fmt: skip
    assert isinstance(create_bill, CreateBill)
    assert create_bill.payload["vendor_id"] == PendingRef("vendor", "9")
    assert create_bill.content_hash is None
    state, links = apply(actions, state, ())
    again = plan_bill(bill(vendor_id="9"), NEW_VENDOR, ctx(state, links))
    assert only_skips(again), again
    assert plan_vendor(NEW_VENDOR, ctx(state, links)) == (
        Skip(
            subject=create_vendor.subject,
            reason="already linked to Ramp vendor 'Blue Bottle Coffee'",
        ),
    )


def test_vendor_that_cannot_be_created_blocks_the_bill_with_reasons() -> None:
    anonymous = Vendor(id="12", name="Blue Bottle Coffee", country="Narnia")
    vendor_review, bill_review = plan_bill(
        bill(vendor_id="12"), anonymous, ctx(cfg=config(vendors__fallback_contact_email=None))
    )
    assert isinstance(vendor_review, Review)
    assert vendor_review.code == "vendor.cannot_create"
    assert {p.code for p in vendor_review.problems} == {"vendor.unknown_country", "vendor.no_email"}
    assert isinstance(bill_review, Review)
    assert bill_review.code == "bill.vendor_review"


def test_updates_propagate_then_settle() -> None:
    state, links = apply(plan_bill(bill(), ACME, ctx()), ramp_state(), ())
    changed = bill(lines=(replace(bill().lines[0], description="Printer paper, A4"),))
    [update] = plan_bill(changed, ACME, ctx(state, links))
    assert isinstance(update, UpdateBill)
    assert (update.method, update.path) == ("PATCH", "/bills/rb-bill-432")
    assert "invoice_currency" not in update.payload
    assert "payment_method" not in update.payload
    assert update.payload["line_items"][0]["memo"] == "Printer paper, A4"
    state, links = apply((update,), state, links)
    assert only_skips(plan_bill(changed, ACME, ctx(state, links)))


def test_changes_to_paid_or_archived_ramp_bills_go_to_review() -> None:
    state, links = apply(plan_bill(bill(), ACME, ctx()), ramp_state(), ())
    changed = bill(issue_date=date(2026, 9, 2))
    for status, archived, code in (
        (RampBillStatus.PAID, False, "bill.changed_after_paid"),
        (RampBillStatus.OPEN, True, "bill.archived_in_ramp"),
    ):
        moved = replace(
            state, bills=tuple(replace(b, status=status, archived=archived) for b in state.bills)
        )
        [review] = plan_bill(changed, ACME, ctx(moved, links))
        assert isinstance(review, Review)
        assert review.code == code
    paid_later = bill(status=BillStatus.PAID, payments=(
        BillPayment(id="1", amount=usd("141.25"), paid_date=date(2026, 9, 20)),))  # fmt: skip
    review_policy = config(bills__paid_after_sync="review")
    [review] = plan_bill(paid_later, ACME, ctx(state, links, cfg=review_policy))
    assert isinstance(review, Review)
    assert review.code == "bill.paid_in_freshbooks_only"


def test_deleted_bills_archive_once_unless_paid() -> None:
    deleted = bill(vis_state=VisState.DELETED)
    [skip] = plan_bill(deleted, ACME, ctx())
    assert isinstance(skip, Skip)
    assert "before it was ever synced" in skip.reason
    state, links = apply(plan_bill(bill(), ACME, ctx()), ramp_state(), ())
    [archive] = plan_bill(deleted, ACME, ctx(state, links))
    assert isinstance(archive, ArchiveBill)
    assert (archive.method, archive.path) == ("DELETE", "/bills/rb-bill-432")
    after, after_links = apply((archive,), state, links)
    assert only_skips(plan_bill(deleted, ACME, ctx(after, after_links)))
    paid = replace(state, bills=tuple(replace(b, status=RampBillStatus.PAID) for b in state.bills))
    [review] = plan_bill(deleted, ACME, ctx(paid, links))
    assert isinstance(review, Review)
    assert review.code == "bill.deleted_but_paid"


# --- expenses ------------------------------------------------------------------------


def expense(**changes: object) -> Expense:
    base = Expense(
        id="e77", amount=usd("42.50"), date=date(2026, 9, 10), category_id="2011",
        vendor_name="Blue Bottle Coffee", notes="Client lunch", staff_id="4",
        paid_with=PaidWith.COMPANY_CARD,
    )  # fmt: skip
    return replace(base, **changes)  # type: ignore[arg-type]


def test_card_expense_codes_its_transaction_with_a_memo() -> None:
    state = ramp_state(transactions=(card("tx-1", 4250, date(2026, 9, 11), "BLUE BOTTLE COFFEE"),))
    code, memo = plan_expense(expense(), ctx(state))
    assert isinstance(code, CodeTransaction)
    assert isinstance(memo, SetMemo)
    assert (code.method, code.path, memo.method, memo.path) == (
        "PATCH", "/transactions/tx-1", "POST", "/memos/tx-1",
    )  # fmt: skip
    assert code.payload == {
        "line_items": [
            {"amount": "42.50", "memo": "Blue Bottle Coffee",
             "accounting_field_selections": [sel("Category", "6230"), sel("Department", "DEP-DESIGN")]},
        ]
    }  # fmt: skip
    assert memo.payload == {"memo": "FreshBooks expense e77: Client lunch"}
    assert code.content_hash == memo.content_hash
    assert any("merchant similarity 100" in e for e in code.explanation)
    state, links = apply((code, memo), state, ())
    assert only_skips(plan_expense(expense(), ctx(state, links)))
    recoded = plan_expense(expense(category_id="2016"), ctx(state, links))
    assert [type(a) for a in recoded] == [CodeTransaction, SetMemo]


def test_ambiguous_charges_go_to_review() -> None:
    twins = (
        card("tx-1", 4250, date(2026, 9, 10), "BLUE BOTTLE"),
        card("tx-2", 4250, date(2026, 9, 10), "BLUE BOTTLE"),
    )
    [review] = plan_expense(expense(), ctx(ramp_state(transactions=twins)))
    assert isinstance(review, Review)
    assert review.code == "match.ambiguous"
    assert len(review.candidates) == 2


def test_claimed_transactions_are_not_matched_twice() -> None:
    state = ramp_state(transactions=(card("tx-1", 4250, date(2026, 9, 10), "BLUE BOTTLE"),))
    [wait] = plan_expense(expense(), ctx(state), claimed=frozenset({"tx-1"}))
    assert isinstance(wait, Wait)


def test_unmatched_card_expense_waits_then_follows_policy() -> None:
    [wait] = plan_expense(expense(), ctx())
    assert isinstance(wait, Wait)
    assert wait.until == date(2026, 9, 15)
    later = PlanContext.build(
        config(), ramp=ramp_state(), categories=CATEGORIES, today=date(2026, 9, 16)
    )
    [review] = plan_expense(expense(), later)
    assert isinstance(review, Review)
    assert review.code == "expense.no_transaction"


def test_cash_expense_becomes_a_manually_paid_bill() -> None:
    cash = expense(paid_with=PaidWith.CASH, vendor_name="Café Olé", notes="Team coffee",
                   taxes=(LineTax(name="GST", percent=Decimal(5), amount=usd("2.02")),))  # fmt: skip
    [create] = plan_expense(cash, ctx())
    assert isinstance(create, CreateManualPaidBill)
    assert create.payload["vendor_id"] == "rv-cafe"
    assert create.payload["payment_method"] == "PAID_MANUALLY"
    assert create.payload["payment_details"] == {
        "manual_payment_method": "CASH",
        "payment_date": "2026-09-10",
    }
    assert [li["amount"] for li in create.payload["line_items"]] == ["40.48", "2.02"]
    assert create.payload["invoice_number"] == "FB-EXP-e77"
    assert create.payload["remote_id"] == "freshbooks:ABC123:expense:e77"
    state, links = apply((create,), ramp_state(), ())
    assert only_skips(plan_expense(cash, ctx(state, links)))


def test_locked_transaction_goes_to_review() -> None:
    state = ramp_state(
        transactions=(card("tx-1", 4250, date(2026, 9, 10), "BLUE BOTTLE", sync_status="SYNCED"),)
    )
    [review] = plan_expense(expense(), ctx(state))
    assert isinstance(review, Review)
    assert review.code == "expense.transaction_locked"


# --- properties ----------------------------------------------------------------------

WRITES = (CreateVendor, LinkVendor, CreateBill, UpdateBill, ArchiveBill, CodeTransaction, SetMemo)

cents = st.integers(0, 500_000).map(lambda c: usd(str(Decimal(c) / 100)))
lines = st.lists(
    st.builds(
        lambda i, cat, desc, amt, tax: BillLine(
            index=i, category_id=cat, description=desc, amount=amt,
            taxes=(LineTax(name="GST", amount=tax),) if tax is not None else (),
        ),
        st.integers(1, 50), st.sampled_from(["2006", "2003", "2016", "2011", "2006", "2007"]),
        st.text(max_size=30), cents, st.none() | cents,
    ),
    min_size=1, max_size=4,
)  # fmt: skip
vendors = st.sampled_from(
    [ACME, NEW_VENDOR, replace(ACME, name="Acme Co"), replace(NEW_VENDOR, email=None)]
)


@st.composite
def bills(draw: st.DrawFn) -> tuple[Bill, Vendor]:
    vendor = draw(vendors)
    drawn = draw(lines)
    total = sum(
        (
            ln.amount.amount + sum(t.amount.amount for t in ln.taxes if t.amount)
            for ln in drawn
            if ln.amount
        ),
        Decimal(0),
    )  # type: ignore[misc]
    paid = draw(st.booleans())
    b = Bill(
        id=str(draw(st.integers(1, 10**6))), vendor_id=vendor.id,
        bill_number=draw(st.none() | st.text(max_size=30)),
        issue_date=draw(st.dates(date(2020, 1, 1), date(2030, 1, 1))),
        due_offset_days=draw(st.sampled_from([30, 30, 0, 15, 400])), currency="USD",
        lines=tuple(drawn), total_amount=draw(st.sampled_from([usd(str(total)), None])),
        status=BillStatus.PAID if paid else BillStatus.UNPAID,
        payments=(BillPayment(id="p", amount=usd("1.00"), paid_date=date(2026, 1, 1)),) if paid else (),
    )  # fmt: skip
    return b, vendor


@settings(max_examples=120, suppress_health_check=[HealthCheck.too_slow])
@given(
    bills(),
    st.sampled_from(["separate_line", "fold_into_line"]),
    st.sampled_from(["keep", "enforce", "flag"]),
)
def test_bill_plans_are_deterministic_and_idempotent(
    pair: tuple[Bill, Vendor], tax: str, terms: str
) -> None:
    b, vendor = pair
    cfg = config(bills__tax_policy=tax, bills__terms_policy=terms)
    first = plan_bill(b, vendor, ctx(cfg=cfg))
    assert first == plan_bill(b, vendor, ctx(cfg=cfg))
    assert all(a.reason for a in first)
    state, links = apply(first, ramp_state(), ())
    again = plan_bill(b, vendor, ctx(state, links, cfg))
    assert not any(isinstance(a, WRITES) for a in again), again
    if not any(isinstance(a, Review | Wait) for a in first):
        assert only_skips(again), again


expenses = st.builds(
    Expense, id=st.text(min_size=1, max_size=5), amount=cents,
    date=st.dates(date(2026, 9, 1), date(2026, 9, 14)),
    category_id=st.sampled_from(["2011", "2016", "2003", "2018"]),
    vendor_name=st.sampled_from(["Blue Bottle Coffee", "Café Olé", "Staples", "Shell", None]),
    notes=st.text(max_size=20), staff_id=st.sampled_from([None, "4", "7"]),
    paid_with=st.sampled_from(list(PaidWith)),
)  # fmt: skip
transactions = st.lists(
    st.builds(
        card, tx_id=st.text(min_size=1, max_size=4), amount_minor=st.integers(0, 500_000),
        day=st.dates(date(2026, 9, 1), date(2026, 9, 14)),
        merchant=st.sampled_from(["BLUE BOTTLE COFFEE", "CAFE OLE", "STAPLES 00123", "SHELL OIL"]),
    ),
    max_size=4, unique_by=lambda t: t.id,
)  # fmt: skip


@st.composite
def expense_worlds(draw: st.DrawFn) -> tuple[Expense, tuple[CardTransaction, ...]]:
    e = draw(expenses)
    txs = draw(transactions)
    # most worlds hold the expense's own charge (sometimes twice, sometimes a day late)
    for _ in range(draw(st.sampled_from([0, 1, 1, 1, 2]))):
        txs.append(card(f"own-{len(txs)}", int(e.amount.amount * 100),
                        e.date + timedelta(days=draw(st.integers(0, 2))),
                        draw(st.sampled_from(["BLUE BOTTLE COFFEE", "CAFE OLE", "SQ *COFFEE"]))))  # fmt: skip
    return e, tuple(txs)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(expense_worlds())
def test_expense_plans_are_idempotent(world: tuple[Expense, tuple[CardTransaction, ...]]) -> None:
    e, txs = world
    state = ramp_state(transactions=txs)
    first = plan_expense(e, ctx(state))
    assert first == plan_expense(e, ctx(state))
    assert all(a.reason for a in first)
    state, links = apply(first, state, ())
    again = plan_expense(e, ctx(state, links))
    assert not any(isinstance(a, WRITES) for a in again), again
    if not any(isinstance(a, Review | Wait) for a in first):
        assert only_skips(again), again


garbage_money = st.builds(
    Money,
    st.decimals(allow_nan=True, allow_infinity=True),
    st.sampled_from(["USD", "JPY", "usd", "", "EUR"]),
)
garbage_lines = st.lists(
    st.builds(
        BillLine, index=st.integers(), category_id=st.none() | st.text(max_size=4),
        description=st.text(max_size=10), quantity=st.decimals(allow_nan=True, allow_infinity=True),
        unit_cost=st.none() | garbage_money, amount=st.none() | garbage_money,
        taxes=st.lists(st.builds(LineTax, name=st.none() | st.text(max_size=4),
                                 percent=st.none() | st.decimals(allow_nan=True),
                                 amount=st.none() | garbage_money), max_size=2).map(tuple),
        compounded_tax=st.booleans(),
    ),
    max_size=3,
)  # fmt: skip


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(
    lines=garbage_lines, total=st.none() | garbage_money, currency=st.text(max_size=4) | st.just("USD"),
    offset=st.integers(-(10**6), 10**6), number=st.none() | st.text(max_size=40),
    name=st.text(max_size=20), country=st.none() | st.text(max_size=12),
    status=st.sampled_from(list(BillStatus)), vis=st.sampled_from(list(VisState)),
)  # fmt: skip
def test_planning_never_raises_on_bad_data(
    *, lines, total, currency, offset, number, name, country, status, vis
) -> None:  # type: ignore[no-untyped-def]
    v = Vendor(id="v", name=name, country=country)
    b = Bill(id="b", vendor_id="v", issue_date=date(2026, 1, 1), due_offset_days=offset,
             currency=currency, lines=tuple(lines), bill_number=number, total_amount=total,
             status=status, vis_state=vis)  # fmt: skip
    actions: tuple[Action, ...] = plan_bill(b, v, ctx())
    assert actions
    assert all(a.reason for a in actions)
    e = Expense(id="x", amount=total or usd("1.00"), date=date(2026, 9, 1), category_id=b.lines[0].category_id if b.lines else None,
                vendor_name=name, vis_state=vis)  # fmt: skip
    assert plan_expense(e, ctx())
