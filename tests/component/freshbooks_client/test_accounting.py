"""Accounting resources, pagination, filters, vis_state, money, time zones and errors
against the emulator (reference §9 items 3-8)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from fbemu_client_helpers import T0

from ml_connector.clients.freshbooks import (
    Bill,
    BillVendor,
    FeatureUnavailableError,
    FreshBooksClient,
    Money,
    Search,
)
from ml_connector.core.errors import (
    ApiValidationError,
    NotFoundError,
    RateLimitedError,
    TransientApiError,
)
from ml_connector_emulators.freshbooks import FreshBooksWorld

FIRM = pytest.mark.parametrize("world", ["services-firm"], indirect=True)


async def some_category(client: FreshBooksClient, account_id: str) -> int:
    async for category in client.categories(account_id).list(Search().equals("is_editable", False)):
        if category.parentid is not None:
            return category.categoryid
    raise AssertionError("the chart has no child category")


async def new_vendor(
    client: FreshBooksClient, account_id: str, name: str = "Smith & Sons + Co"
) -> BillVendor:
    return await client.bill_vendors(account_id).create(
        {"vendor_name": name, "currency_code": "USD", "language": "en"}
    )


async def new_bill(client: FreshBooksClient, account_id: str, vendorid: int, **fields: Any) -> Bill:
    categoryid = await some_category(client, account_id)
    body: dict[str, Any] = {
        "vendorid": vendorid,
        "issue_date": date(2026, 11, 2),
        "due_offset_days": 30,
        "currency_code": "USD",
        "language": "en",
        "lines": [
            {
                "categoryid": categoryid,
                "description": "Desk",
                "quantity": 3,
                "unit_cost": {"amount": Decimal("125.10"), "code": "USD"},
            }
        ],
    } | fields
    return await client.bills(account_id).create(body, include=("vendor",))


@pytest.mark.anyio
async def test_bill_round_trip_with_quirks(
    client: FreshBooksClient, account_id: str, world: FreshBooksWorld
) -> None:
    vendor = await new_vendor(client, account_id)
    bill = await new_bill(client, account_id, vendor.vendorid)

    assert world.counters.statuses["POST /accounting/account/{account_id}/bills/bills 200"] == 1
    assert bill.vendor_id == vendor.vendorid
    assert bill.vendor is not None
    assert bill.vendor.vendor_name == "Smith & Sons + Co"
    line = bill.lines[0]
    assert line.quantity == Decimal(3)
    assert line.unit_cost == Money(amount=Decimal("125.10"), code="USD")
    assert line.category_id is not None
    assert bill.total_amount is not None
    assert bill.total_amount.amount == Decimal("375.30")
    assert bill.due_date == date(2026, 12, 2)
    assert bill.created_at == T0  # bills are written in UTC

    fetched = await client.bills(account_id).get(bill.id)
    assert fetched.id == bill.id
    assert fetched.vendor is None  # only with include[]=vendor
    assert fetched.vendor_id == vendor.vendorid


@pytest.mark.anyio
async def test_partial_update(client: FreshBooksClient, account_id: str) -> None:
    vendor = await new_vendor(client, account_id)
    bill = await new_bill(client, account_id, vendor.vendorid, bill_number="INV-1")
    updated = await client.bills(account_id).update(bill.id, {"bill_number": "INV-2"})
    assert updated.bill_number == "INV-2"
    assert [line.id for line in updated.lines] == [line.id for line in bill.lines]
    assert updated.issue_date == bill.issue_date


@pytest.mark.anyio
@FIRM
async def test_list_walks_every_page(
    client: FreshBooksClient, account_id: str, world: FreshBooksWorld
) -> None:
    first = await client.bills(account_id).page(1, per_page=100)
    assert first.total > 200
    assert first.pages == -(-first.total // 100)
    ids = [b.id async for b in client.bills(account_id).list(per_page=100)]
    assert len(ids) == first.total
    assert len(set(ids)) == len(ids)
    assert (
        world.counters.requests["GET /accounting/account/{account_id}/bills/bills"]
        == 1 + first.pages
    )


@pytest.mark.anyio
@FIRM
async def test_page_past_the_end_is_empty(client: FreshBooksClient, account_id: str) -> None:
    page = await client.bill_vendors(account_id).page(99, per_page=100)
    assert list(page.items) == []
    assert page.page == 99
    assert page.total > 0


@pytest.mark.anyio
@FIRM
async def test_in_and_between_filters(client: FreshBooksClient, account_id: str) -> None:
    everything = [b async for b in client.bills(account_id).list()]
    wanted = {"unpaid", "overdue"}
    lo, hi = date(2026, 9, 1), date(2026, 10, 1)
    filtered = [
        b
        async for b in client.bills(account_id).list(
            Search().in_("statuses", sorted(wanted)).between("issue_date", min=lo, max=hi)
        )
    ]
    expected = {b.id for b in everything if b.status in wanted and lo <= b.issue_date < hi}
    assert {b.id for b in filtered} == expected
    # the scenario has bills on both sides of each filter, so both were really exercised
    assert expected
    assert any(b.status in wanted and b.issue_date >= hi for b in everything)
    assert any(b.status not in wanted and lo <= b.issue_date < hi for b in everything)


@pytest.mark.anyio
async def test_like_filter_value_with_reserved_characters(
    client: FreshBooksClient, account_id: str
) -> None:
    await new_vendor(client, account_id, "Smith & Sons + Co")
    await new_vendor(client, account_id, "Smith")
    found = [
        v.vendor_name
        async for v in client.bill_vendors(account_id).list(
            Search().like("vendor_name", "& Sons +")
        )
    ]
    assert found == ["Smith & Sons + Co"]


@pytest.mark.anyio
async def test_delete_and_archive_through_vis_state(
    client: FreshBooksClient, account_id: str
) -> None:
    vendor = await new_vendor(client, account_id)
    kept = await new_bill(client, account_id, vendor.vendorid)
    archived = await new_bill(client, account_id, vendor.vendorid)
    deleted = await new_bill(client, account_id, vendor.vendorid)
    bills = client.bills(account_id)

    assert (await bills.archive(archived.id)).vis_state == 2
    assert (await bills.delete(deleted.id)).vis_state == 1

    listed = {b.id async for b in bills.list()}
    assert listed == {kept.id, archived.id}
    only_deleted = {b.id async for b in bills.list(Search().equals("vis_state", 1))}
    assert only_deleted == {deleted.id}
    assert (await bills.restore(deleted.id)).vis_state == 0
    assert deleted.id in {b.id async for b in bills.list()}


@pytest.mark.anyio
async def test_expense_with_category_include_and_eastern_time(
    client: FreshBooksClient, account_id: str
) -> None:
    categoryid = await some_category(client, account_id)
    created = await client.expenses(account_id).create(
        {
            "amount": {"amount": Decimal("79.73"), "code": "USD"},
            "categoryid": categoryid,
            "date": date(2026, 11, 20),
            "vendor": "Shell Gas Station",
            "taxName1": "HST",
            "taxPercent1": 13,
        }
    )
    expense = await client.expenses(account_id).get(created.expenseid, include=("category",))
    assert expense.amount == Money(amount=Decimal("79.73"), code="USD")
    assert expense.category is not None
    assert expense.category.categoryid == categoryid
    assert expense.tax_name1 == "HST"
    assert expense.tax_percent1 == Decimal(13)
    assert expense.updated == T0  # sent as US/Eastern wall time, read back as the same instant
    assert isinstance(expense.tax_amount1, Money)


@pytest.mark.anyio
async def test_bill_payment_changes_the_bill(client: FreshBooksClient, account_id: str) -> None:
    vendor = await new_vendor(client, account_id)
    bill = await new_bill(client, account_id, vendor.vendorid)
    payment = await client.bill_payments(account_id).create(
        {
            "billid": bill.id,
            "amount": {"amount": Decimal("100.30"), "code": "USD"},
            "paid_date": date(2026, 11, 25),
            "payment_type": "Check",
        }
    )
    assert payment.amount.amount == Decimal("100.30")
    after = await client.bills(account_id).get(bill.id)
    assert after.outstanding == Money(amount=Decimal("275.00"), code="USD")
    assert after.status == "partial"
    assert [p.id for p in after.bill_payments] == [payment.id]


@pytest.mark.anyio
async def test_taxes_and_categories(client: FreshBooksClient, account_id: str) -> None:
    tax = await client.taxes(account_id).create(
        {"name": "GST", "amount": Decimal("5"), "number": "RT0001"}
    )
    assert tax.amount == Decimal(5)
    await client.taxes(account_id).delete(tax.taxid)
    with pytest.raises(NotFoundError):
        await client.taxes(account_id).get(tax.taxid)

    tops = [c async for c in client.categories(account_id).list() if c.parentid is None]
    top = tops[0]
    child = await client.categories(account_id).create(
        {"category": "Team lunches", "parentid": top.categoryid}
    )
    assert child.parentid == top.categoryid
    assert child.is_editable is True


@pytest.mark.anyio
async def test_ledger_accounts(client: FreshBooksClient, world: FreshBooksWorld) -> None:
    ledger = client.ledger_accounts(world.primary.uuid)
    accounts = await ledger.list()
    assert accounts
    assert all(a.updated_at is None or a.updated_at.tzinfo is not None for a in accounts)
    one = await ledger.get(accounts[0].uuid)
    assert one.name == accounts[0].name
    with pytest.raises(NotFoundError):
        await ledger.get("00000000-0000-4000-8000-000000000000")


@pytest.mark.anyio
async def test_not_found_and_validation(client: FreshBooksClient, account_id: str) -> None:
    with pytest.raises(NotFoundError) as missing:
        await client.bills(account_id).get(999999)
    assert missing.value.code == "1012"
    with pytest.raises(ApiValidationError) as invalid:
        await client.bills(account_id).create({"vendorid": 1})
    assert invalid.value.status == 422
    with pytest.raises(NotFoundError):
        await client.bills("NOPE00").get(1)


@pytest.mark.anyio
async def test_feature_gated_resource_answers_200_with_errors(
    client: FreshBooksClient, account_id: str, world: FreshBooksWorld
) -> None:
    world.faults.gated.add("bills")
    with pytest.raises(FeatureUnavailableError) as info:
        [b async for b in client.bills(account_id).list()]
    assert info.value.status == 200
    assert info.value.code == "41001"


@pytest.mark.anyio
async def test_rate_limit_with_retry_after(
    client: FreshBooksClient, account_id: str, world: FreshBooksWorld
) -> None:
    world.faults.add("rate_limit", count=1, seconds=42)
    with pytest.raises(RateLimitedError) as info:
        await client.categories(account_id).page()
    assert info.value.retry_after == 42.0
    assert (await client.categories(account_id).page()).total > 0  # the storm was one request long


@pytest.mark.anyio
@pytest.mark.parametrize("status", [500, 502, 503])
async def test_server_errors_are_transient(
    client: FreshBooksClient, account_id: str, world: FreshBooksWorld, status: int
) -> None:
    world.faults.add("server_error", count=1, status=status)
    with pytest.raises(TransientApiError) as info:
        await client.bill_vendors(account_id).page()
    assert info.value.status == status


@pytest.mark.anyio
async def test_dropped_answer_after_commit_is_transient_and_the_write_happened(
    client: FreshBooksClient, account_id: str, world: FreshBooksWorld
) -> None:
    world.faults.add(
        "drop_after_commit", count=1, path_prefix=f"/accounting/account/{account_id}/bill_vendors"
    )
    with pytest.raises(TransientApiError):
        await new_vendor(client, account_id, "Half-written Ltd")
    names = [v.vendor_name async for v in client.bill_vendors(account_id).list()]
    assert names == ["Half-written Ltd"]


@pytest.mark.anyio
async def test_timestamps_are_aware(client: FreshBooksClient, account_id: str) -> None:
    vendor = await new_vendor(client, account_id)
    assert vendor.created_at == datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
