"""Bill and vendor reads that no longer walk every bill per object: same answers as before.

Duplicate creates by `remote_id` are counted from an index (checked against the bills as
they are, rebuilt when bills are added or removed behind the routes' back); vendor spend
is computed for all vendors in one walk; bill lists evaluate only the filters asked for.
"""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ml_connector_emulators.ramp import RampWorld
from ml_connector_emulators.ramp.models import Bill, BillLine, Business
from ml_connector_emulators.ramp.money import from_minor_units
from ml_connector_emulators.ramp.vendor_spend import VendorSpend

pytestmark = pytest.mark.anyio
NOW = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)


async def _vendor(http: httpx2.AsyncClient, headers: dict[str, str], name: str) -> dict[str, Any]:
    users = (await http.get("/developer/v1/users", headers=headers)).json()["data"]
    response = await http.post(
        "/developer/v1/vendors",
        headers=headers,
        json={
            "name": name,
            "country": "US",
            "state": "NY",
            "vendor_owner_id": users[0]["id"],
            "business_vendor_contacts": {"email": "ap@vendor.example"},
        },
    )
    assert response.status_code == 200, response.text
    vendor: dict[str, Any] = response.json()
    return vendor


async def _bill(
    http: httpx2.AsyncClient, headers: dict[str, str], vendor: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    entities = (await http.get("/developer/v1/entities", headers=headers)).json()["data"]
    body = {
        "vendor_id": vendor["id"],
        "vendor_contact_id": vendor["contacts"][0],
        "entity_id": entities[0]["id"],
        "invoice_number": "FB-1",
        "invoice_currency": "USD",
        "issued_at": "2026-10-01",
        "due_at": "2026-10-31",
        "payment_method": "UNSPECIFIED",
        "line_items": [{"amount": "10.00"}],
        **extra,
    }
    response = await http.post("/developer/v1/bills", headers=headers, json=body)
    assert response.status_code == 201, response.text
    bill: dict[str, Any] = response.json()
    return bill


async def test_duplicate_remote_ids_are_counted_as_before(
    http: httpx2.AsyncClient, headers: dict[str, str], world: RampWorld
) -> None:
    vendor = await _vendor(http, headers, "Acme")
    business = world.test_business

    def duplicates() -> int:
        return world.counters.duplicate_bills_by_remote_id

    first = await _bill(http, headers, vendor, remote_id="fb:1")
    second = await _bill(http, headers, vendor, remote_id="fb:1")
    assert duplicates() == 1
    for bill in (first, second):
        await http.delete(f"/developer/v1/bills/{bill['id']}", headers=headers)
    third = await _bill(http, headers, vendor, remote_id="fb:1")
    assert duplicates() == 1  # the others are archived
    await http.patch(
        f"/developer/v1/bills/{third['id']}", headers=headers, json={"remote_id": "fb:2"}
    )
    await _bill(http, headers, vendor, remote_id="fb:1")
    assert duplicates() == 1  # the live one was re-keyed away
    await _bill(http, headers, vendor, remote_id="fb:2")
    assert duplicates() == 2
    # A bill put in behind the routes' back still counts, and one taken out no longer does.
    twin = copy.copy(business.bills[third["id"]])
    twin.id, twin.remote_id = "00000000-0000-4000-8000-00000000d0b1", "fb:3"
    business.bills[twin.id] = twin
    counted = await _bill(http, headers, vendor, remote_id="fb:3")
    assert duplicates() == 3
    del business.bills[twin.id]
    business.bills.pop(counted["id"])
    await _bill(http, headers, vendor, remote_id="fb:3")
    assert duplicates() == 3


async def test_listed_vendors_show_what_each_shows_alone(
    http: httpx2.AsyncClient, headers: dict[str, str]
) -> None:
    vendors = [await _vendor(http, headers, name) for name in ("Acme", "Globex", "Initech")]
    paid = {"manual_payment_method": "CHECK", "payment_date": "2026-10-20"}
    for vendor in vendors[:2]:
        await _bill(http, headers, vendor, payment_method="PAID_MANUALLY", payment_details=paid)
        await _bill(http, headers, vendor)
    listed = (await http.get("/developer/v1/vendors", headers=headers)).json()["data"]
    for vendor in vendors:
        alone = (await http.get(f"/developer/v1/vendors/{vendor['id']}", headers=headers)).json()
        alone.pop("custom_form_collection_response")
        assert next(v for v in listed if v["id"] == vendor["id"]) == alone
    totals = {v["id"]: (v["is_deletable"], v["total_spend_ytd"]["amount"]) for v in listed}
    assert totals[vendors[0]["id"]] == (False, 1000)
    assert totals[vendors[2]["id"]] == (True, 0)


# --- spend, against the walk each render used to make --------------------------------


def _old_spend(business: Business, vendor_id: str, since: datetime | None) -> int:
    return sum(
        bill.amount_minor
        for bill in business.bills.values()
        if bill.vendor_id == vendor_id
        and bill.status == "PAID"
        and bill.currency == "USD"
        and (since is None or (bill.paid_at is not None and bill.paid_at >= since.date()))
    )


@st.composite
def businesses(draw: st.DrawFn) -> Business:
    business = Business(id="b", name="B")
    for n in range(draw(st.integers(0, 30))):
        paid_at = draw(st.none() | st.dates(date(2025, 1, 1), date(2026, 12, 31)))
        bill = Bill(
            id=f"bill-{n}",
            vendor_id=draw(st.sampled_from(["v1", "v2", "v3"])),
            vendor_contact_id="c",
            entity_id="e",
            invoice_number=str(n),
            currency=draw(st.sampled_from(["USD", "USD", "EUR"])),
            issued_at=date(2026, 1, 1),
            due_at=date(2026, 2, 1),
            payment_method="PAID_MANUALLY",
            owner_id=None,
            created_at=NOW,
            updated_at=NOW,
            line_items=[BillLine(draw(st.integers(1, 10**6)), None, [])],
            status=draw(st.sampled_from(["OPEN", "PAID"])),
            paid_at=paid_at,
        )
        business.bills[bill.id] = bill
    return business


@settings(max_examples=100, deadline=None)
@given(business=businesses(), now=st.datetimes(datetime(2026, 1, 1), datetime(2026, 12, 31)))  # noqa: DTZ001
def test_spend_in_one_walk_equals_a_walk_per_vendor(business: Business, now: datetime) -> None:
    now = now.replace(tzinfo=UTC)
    year_start = now.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    spend = VendorSpend(business, now)
    for vendor_id in ("v1", "v2", "v3", "v4"):
        assert spend.totals(vendor_id) == tuple(
            _old_spend(business, vendor_id, since)
            for since in (None, now - timedelta(days=30), now - timedelta(days=365), year_start)
        )
        assert spend.has_bills(vendor_id) == any(
            b.vendor_id == vendor_id for b in business.bills.values()
        )


# --- bill list filters, against the loop that evaluated every filter on every bill ------


def _old_filter(world: RampWorld, params: dict[str, str]) -> list[str]:
    def between(value: Any, low: Any, high: Any) -> bool:
        if low is None and high is None:
            return True
        if value is None:
            return False
        return (low is None or value >= low) and (high is None or value <= high)

    def day(name: str) -> date | None:
        return date.fromisoformat(params[name]) if name in params else None

    archived = params.get("is_archived", "false") == "true"
    ids = []
    for bill in world.test_business.bills.values():
        if (bill.archived_at is not None) != archived:
            continue
        exact = {
            "vendor_id": bill.vendor_id,
            "payment_status": bill.status,
            "approval_status": "APPROVED",
            "sync_status": bill.sync_status,
        }
        if any(params.get(k) not in (None, v) for k, v in exact.items()):
            continue
        amount = from_minor_units(bill.amount_minor, bill.currency)
        low = Decimal(params["min_amount"]) if "min_amount" in params else None
        if not (
            between(bill.issued_at, day("from_issued_date"), day("to_issued_date"))
            and between(bill.due_at, day("from_due_date"), None)
            and between(amount, low, None)
        ):
            continue
        ids.append(bill.id)
    return ids


async def test_bill_lists_filter_as_before(
    http: httpx2.AsyncClient, headers: dict[str, str], world: RampWorld
) -> None:
    vendors = [await _vendor(http, headers, name) for name in ("Acme", "Globex")]
    paid = {"manual_payment_method": "CHECK", "payment_date": "2026-10-20"}
    for n in range(12):
        bill = await _bill(
            http,
            headers,
            vendors[n % 2],
            issued_at=f"2026-10-{n + 1:02d}",
            line_items=[{"amount": f"{n * 7}.50"}],
            **({"payment_method": "PAID_MANUALLY", "payment_details": paid} if n % 3 == 0 else {}),
        )
        if n % 5 == 0 and n % 3:
            await http.delete(f"/developer/v1/bills/{bill['id']}", headers=headers)
    queries = [
        {},
        {"vendor_id": vendors[0]["id"]},
        {"vendor_id": vendors[1]["id"], "payment_status": "PAID"},
        {"is_archived": "true"},
        {"approval_status": "APPROVED", "from_issued_date": "2026-10-04"},
        {"approval_status": "PENDING"},
        {"from_issued_date": "2026-10-03", "to_issued_date": "2026-10-09", "min_amount": "20"},
        {"from_due_date": "2026-10-31", "sync_status": "NOT_SYNCED"},
    ]
    for params in queries:
        seen: list[str] = []
        url: str | None = "/developer/v1/bills"
        query: dict[str, str] | None = {**params, "page_size": "3"}
        while url:
            page = (await http.get(url, headers=headers, params=query)).json()
            seen.extend(b["id"] for b in page["data"])
            url, query = page["page"]["next"], None
        assert seen == _old_filter(world, params), params
