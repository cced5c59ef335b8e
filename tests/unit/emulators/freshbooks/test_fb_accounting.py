"""Accounting resources: envelopes, computed bill fields, filters, pagination, vis_state."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx2
import pytest

from ml_connector_emulators.clock import EmulatorClock
from ml_connector_emulators.freshbooks import FreshBooksWorld

pytestmark = pytest.mark.anyio
Acct = Callable[[str], str]


def _result(response: httpx2.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()["response"]["result"]


def _category(world: FreshBooksWorld, name: str) -> int:
    return world.primary.books.category_named(name).id


async def _vendor(
    client: httpx2.AsyncClient, auth: dict[str, str], acct: Acct, name: str = "Staples"
) -> dict[str, Any]:
    body = {"bill_vendor": {"vendor_name": name, "currency_code": "USD", "language": "en"}}
    return dict(
        _result(await client.post(acct("bill_vendors/bill_vendors"), json=body, headers=auth))[
            "bill_vendor"
        ]
    )


async def _bill(
    client: httpx2.AsyncClient,
    auth: dict[str, str],
    acct: Acct,
    world: FreshBooksWorld,
    vendorid: Any,
    **extra: Any,
) -> dict[str, Any]:
    body = {
        "vendorid": vendorid,
        "issue_date": "2020-10-09",
        "due_offset_days": 39,
        "currency_code": "USD",
        "language": "en",
        "lines": [
            {
                "categoryid": str(_category(world, "Office Supplies")),
                "description": "Malm Side Table",
                "quantity": 3,
                "unit_cost": {"amount": "125", "code": "USD"},
                "tax_name1": "HST",
                "tax_percent1": "13",
            },
            {
                "categoryid": _category(world, "Shipping"),
                "description": "Delivery",
                "quantity": "1",
                "unit_cost": {"amount": "20.00", "code": "USD"},
            },
        ],
        **extra,
    }
    return dict(
        _result(await client.post(acct("bills/bills"), json={"bill": body}, headers=auth))["bill"]
    )


async def test_bill_create_returns_200_with_computed_fields(
    client: httpx2.AsyncClient, auth: dict[str, str], acct: Acct, world: FreshBooksWorld
) -> None:
    vendor = await _vendor(client, auth, acct)
    bill = await _bill(client, auth, acct, world, str(vendor["vendorid"]))
    assert bill["vendorid"] == vendor["vendorid"]
    assert isinstance(bill["id"], int)
    assert bill["due_date"] == "2020-11-17"
    assert bill["status"] == "overdue"
    assert bill["amount"] == {"amount": "395.00", "code": "USD"}
    assert bill["tax_amount"]["amount"] == "48.75"
    assert bill["total_amount"]["amount"] == bill["outstanding"]["amount"] == "443.75"
    assert bill["paid"]["amount"] == "0.00"
    first = bill["lines"][0]
    assert first["quantity"] == "3"
    assert first["tax_percent1"] == "13"
    assert first["category"]["categoryid"] == _category(world, "Office Supplies")
    assert "categoryid" not in first
    assert first["list_index"] == 1
    assert bill["overall_category"] == "Office Supplies"
    assert bill["overall_description"] == "Malm Side Table"
    assert bill["created_at"] == "2026-11-02 15:00:00"  # UTC, no zone marker


async def test_bill_payments_change_paid_outstanding_and_status(
    client: httpx2.AsyncClient, auth: dict[str, str], acct: Acct, world: FreshBooksWorld
) -> None:
    vendor = await _vendor(client, auth, acct)
    bill = await _bill(client, auth, acct, world, vendor["vendorid"])
    pay = {
        "bill_payment": {
            "billid": bill["id"],
            "amount": {"amount": "100.00", "code": "USD"},
            "paid_date": "2020-10-20",
            "payment_type": "Check",
        }
    }
    payment = _result(
        await client.post(acct("bill_payments/bill_payments"), json=pay, headers=auth)
    )["bill_payment"]
    partial = _result(await client.get(acct(f"bills/bills/{bill['id']}"), headers=auth))["bill"]
    assert partial["status"] == "partial"
    assert partial["outstanding"]["amount"] == "343.75"
    assert [p["id"] for p in partial["bill_payments"]] == [payment["id"]]
    too_much = {
        "bill_payment": {**pay["bill_payment"], "amount": {"amount": "343.76", "code": "USD"}}
    }
    assert (
        await client.post(acct("bill_payments/bill_payments"), json=too_much, headers=auth)
    ).status_code == 422
    rest = {"bill_payment": {**pay["bill_payment"], "amount": {"amount": "343.75", "code": "USD"}}}
    await client.post(acct("bill_payments/bill_payments"), json=rest, headers=auth)
    paid = _result(await client.get(acct(f"bills/bills/{bill['id']}"), headers=auth))["bill"]
    assert paid["status"] == "paid"
    assert paid["outstanding"]["amount"] == "0.00"
    await client.put(
        acct(f"bill_payments/bill_payments/{payment['id']}"),
        json={"bill_payment": {"vis_state": 1}},
        headers=auth,
    )
    reopened = _result(await client.get(acct(f"bills/bills/{bill['id']}"), headers=auth))["bill"]
    assert reopened["status"] == "partial"
    assert reopened["paid"]["amount"] == "343.75"


async def test_validation_and_not_found_errors_have_errno(
    client: httpx2.AsyncClient, auth: dict[str, str], acct: Acct
) -> None:
    missing = await client.post(
        acct("bills/bills"), json={"bill": {"issue_date": "2026-01-01"}}, headers=auth
    )
    assert missing.status_code == 422
    assert missing.json()["response"]["errors"][0] | {"message": ""} == {
        "errno": 1001,
        "field": "vendorid",
        "object": "bill",
        "message": "",
    }
    unknown = await client.get(acct("bills/bills/999999"), headers=auth)
    assert unknown.status_code == 404
    assert unknown.json()["response"]["errors"][0]["errno"] == 1012
    float_money = await client.post(
        acct("expenses/expenses"),
        content=b'{"expense": {"amount": {"amount": 1.5}, "categoryid": 1, "date": "2026-01-01"}}',
        headers=auth,
    )
    assert float_money.status_code == 422


async def test_unauthenticated_accounting_call_is_401_errno_1003(
    client: httpx2.AsyncClient, acct: Acct
) -> None:
    response = await client.get(acct("bills/bills"), headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401
    assert response.json() == {
        "response": {
            "errors": [
                {
                    "errno": 1003,
                    "message": "The server could not verify that you are authorized to access the URL requested.",
                }
            ]
        }
    }


async def test_wrong_account_id_is_404(client: httpx2.AsyncClient, auth: dict[str, str]) -> None:
    response = await client.get("/accounting/account/NOPE12/bills/bills", headers=auth)
    assert response.status_code == 404


async def test_pagination_rules(
    client: httpx2.AsyncClient, auth: dict[str, str], acct: Acct
) -> None:
    for index in range(17):
        await _vendor(client, auth, acct, f"Vendor {index:02d}")
    default = _result(await client.get(acct("bill_vendors/bill_vendors"), headers=auth))
    assert (default["page"], default["pages"], default["per_page"], default["total"]) == (
        1,
        2,
        15,
        17,
    )
    assert len(default["bill_vendors"]) == 15
    capped = _result(
        await client.get(acct("bill_vendors/bill_vendors?per_page=500&page=0"), headers=auth)
    )
    assert capped["per_page"] == 100
    assert capped["page"] == 1
    assert len(capped["bill_vendors"]) == 17
    past = _result(await client.get(acct("bill_vendors/bill_vendors?page=9"), headers=auth))
    assert past["bill_vendors"] == []
    assert past["total"] == 17
    bad = await client.get(acct("bill_vendors/bill_vendors?page=x"), headers=auth)
    assert bad.status_code == 400
    assert bad.json()["response"]["errors"][0]["errno"] == 1014
    empty = _result(await client.get(acct("bills/bills"), headers=auth))
    assert (empty["page"], empty["pages"], empty["total"]) == (1, 0, 0)


async def test_bill_filters(
    client: httpx2.AsyncClient,
    auth: dict[str, str],
    acct: Acct,
    world: FreshBooksWorld,
    clock: EmulatorClock,
) -> None:
    one = await _vendor(client, auth, acct, "One")
    two = await _vendor(client, auth, acct, "Two")
    early = await _bill(client, auth, acct, world, one["vendorid"], issue_date="2026-08-01")
    clock.advance(10 * 3600)  # into the next UTC day, within the token's 12 hours
    late = await _bill(
        client, auth, acct, world, two["vendorid"], issue_date="2026-10-15", due_offset_days=90
    )

    async def ids(query: str) -> list[int]:
        return [
            b["id"]
            for b in _result(await client.get(acct(f"bills/bills?{query}"), headers=auth))["bills"]
        ]

    assert await ids(f"search[vendorid]={one['vendorid']}") == [early["id"]]
    assert await ids("search[statuses][]=unpaid") == [late["id"]]
    assert await ids("search[statuses][]=unpaid&search[statuses][]=overdue") == [
        early["id"],
        late["id"],
    ]
    assert await ids(f"search[ids][]={late['id']}") == [late["id"]]
    assert await ids("search[issue_date_min]=2026-10-15") == [late["id"]]
    assert await ids("search[issue_date_max]=2026-10-15") == [early["id"]]  # max is exclusive
    assert await ids("search[updated_min]=2026-11-03") == [late["id"]]
    assert await ids("search[updated_max]=2026-11-03") == [early["id"]]
    with_vendor = _result(
        await client.get(acct(f"bills/bills/{early['id']}?include[]=vendor"), headers=auth)
    )["bill"]
    assert with_vendor["vendor"]["vendor_name"] == "One"
    assert with_vendor["vendor"]["outstanding_balance"] == [
        {"amount": {"amount": "443.75", "code": "USD"}}
    ]


async def test_vis_state_put_drops_other_keys_and_hides_deleted(
    client: httpx2.AsyncClient, auth: dict[str, str], acct: Acct, world: FreshBooksWorld
) -> None:
    vendor = await _vendor(client, auth, acct)
    bill = await _bill(client, auth, acct, world, vendor["vendorid"], bill_number="A-1")
    deleted = _result(
        await client.put(
            acct(f"bills/bills/{bill['id']}"),
            json={"bill": {"vis_state": 1, "bill_number": "B-2"}},
            headers=auth,
        )
    )["bill"]
    assert deleted["vis_state"] == 1
    assert deleted["bill_number"] == "A-1"
    assert _result(await client.get(acct("bills/bills"), headers=auth))["total"] == 0
    only_deleted = _result(await client.get(acct("bills/bills?search[vis_state]=1"), headers=auth))
    assert [b["id"] for b in only_deleted["bills"]] == [bill["id"]]
    restored = _result(
        await client.put(
            acct(f"bills/bills/{bill['id']}"), json={"bill": {"vis_state": 0}}, headers=auth
        )
    )["bill"]
    assert restored["vis_state"] == 0
    archived = await client.put(
        acct(f"bills/bills/{bill['id']}"), json={"bill": {"vis_state": 2}}, headers=auth
    )
    assert _result(archived)["bill"]["vis_state"] == 2
    assert (
        _result(await client.get(acct("bills/bills"), headers=auth))["total"] == 1
    )  # archived still listed


async def test_partial_put_changes_only_given_keys(
    client: httpx2.AsyncClient, auth: dict[str, str], acct: Acct
) -> None:
    vendor = await _vendor(client, auth, acct)
    updated = _result(
        await client.put(
            acct(f"bill_vendors/bill_vendors/{vendor['vendorid']}"),
            json={"bill_vendor": {"phone": "555-0100"}},
            headers=auth,
        )
    )
    assert updated["bill_vendor"]["phone"] == "555-0100"
    assert updated["bill_vendor"]["vendor_name"] == "Staples"


async def test_expenses_camel_case_taxes_eastern_time_and_filters(
    client: httpx2.AsyncClient, auth: dict[str, str], acct: Acct, world: FreshBooksWorld
) -> None:
    body = {
        "expense": {
            "amount": {"amount": "79.73", "code": "USD"},
            "vendor": "Shell",
            "date": "2019-04-24",
            "staffid": 1,
            "categoryid": str(_category(world, "Gas")),
            "taxName1": "other tax",
            "taxPercent1": 13,
        }
    }
    expense = _result(await client.post(acct("expenses/expenses"), json=body, headers=auth))[
        "expense"
    ]
    assert expense["taxPercent1"] == "13"
    assert expense["taxAmount1"] == {
        "amount": "9.17",
        "code": "USD",
    }
    assert expense["expenseid"] == expense["id"]
    assert expense["updated"] == "2026-11-02 10:00:00"
    other = {
        "expense": {
            **body["expense"],
            "date": "2019-05-01",
            "categoryid": _category(world, "Software"),
        }
    }
    await client.post(acct("expenses/expenses"), json=other, headers=auth)

    async def dates(query: str) -> list[str]:
        return [
            e["date"]
            for e in _result(await client.get(acct(f"expenses/expenses?{query}"), headers=auth))[
                "expenses"
            ]
        ]

    assert await dates("search[date_min]=2019-04-25") == ["2019-05-01"]
    assert await dates("search[date_max]=2019-04-25") == ["2019-04-24"]
    assert await dates(f"search[categoryid]={_category(world, 'Gas')}") == ["2019-04-24"]
    assert await dates(f"search[categoryids][]={_category(world, 'Software')}") == ["2019-05-01"]
    assert await dates("search[updated_min]=2026-11-03") == []
    included = _result(
        await client.get(
            acct(f"expenses/expenses/{expense['id']}?include[]=category"), headers=auth
        )
    )["expense"]
    assert included["category"]["category"] == "Gas"


async def test_categories_system_chart_and_custom_child(
    client: httpx2.AsyncClient, auth: dict[str, str], acct: Acct, world: FreshBooksWorld
) -> None:
    chart = _result(await client.get(acct("expenses/categories?per_page=100"), headers=auth))
    assert 45 <= chart["total"] <= 65
    parents = {c["id"] for c in chart["categories"] if c["parentid"] is None}
    assert all(c["parentid"] in parents for c in chart["categories"] if c["parentid"] is not None)
    assert not any(c["is_editable"] for c in chart["categories"])
    travel = _category(world, "Travel")
    created = _result(
        await client.post(
            acct("expenses/categories"),
            json={"category": {"category": "Conference Travel", "parentid": travel}},
            headers=auth,
        )
    )
    assert created["category"]["is_editable"] is True
    assert created["category"]["parentid"] == travel
    children = _result(
        await client.get(
            acct(f"expenses/categories?search[parentid]={travel}&per_page=100"), headers=auth
        )
    )
    assert "Conference Travel" in {c["category"] for c in children["categories"]}
    system = await client.put(
        acct(f"expenses/categories/{travel}"), json={"category": {"category": "X"}}, headers=auth
    )
    assert system.status_code == 422


async def test_taxes_are_deleted_with_a_real_delete(
    client: httpx2.AsyncClient, auth: dict[str, str], acct: Acct
) -> None:
    tax = _result(
        await client.post(
            acct("taxes/taxes"), json={"tax": {"name": "GST", "amount": 5}}, headers=auth
        )
    )["tax"]
    assert tax["amount"] == "5"
    assert (
        await client.delete(acct(f"taxes/taxes/{tax['taxid']}"), headers=auth)
    ).status_code == 200
    assert (await client.get(acct(f"taxes/taxes/{tax['taxid']}"), headers=auth)).status_code == 404
    vendor = await _vendor(client, auth, acct)
    refused = await client.delete(
        acct(f"bill_vendors/bill_vendors/{vendor['vendorid']}"), headers=auth
    )
    assert refused.status_code == 405


async def test_feature_gate_answers_200_with_errors(
    client: httpx2.AsyncClient, auth: dict[str, str], acct: Acct
) -> None:
    await client.post("/_sandbox/faults/feature_gate", json={"resources": ["bills"]})
    gated = await client.get(acct("bills/bills"), headers=auth)
    assert gated.status_code == 200
    assert "result" not in gated.json()["response"]
    assert gated.json()["response"]["errors"][0]["errno"] == 41001


async def test_ledger_accounts_flat_envelope_and_errors(
    client: httpx2.AsyncClient, auth: dict[str, str], world: FreshBooksWorld
) -> None:
    base = f"/accounting/businesses/{world.primary.uuid}/ledger_accounts/accounts"
    listed = (await client.get(base, headers=auth)).json()
    assert set(listed) == {"data"}
    assert {a["type"] for a in listed["data"]} == {
        "asset",
        "liability",
        "equity",
        "income",
        "expense",
    }
    created = (
        await client.post(
            base,
            json={"name": "Software Subscriptions", "type": "expense", "number": "6100"},
            headers=auth,
        )
    ).json()
    assert created["data"]["auto_created"] is False
    fetched = (await client.get(f"{base}/{created['data']['uuid']}", headers=auth)).json()
    assert fetched["data"]["name"] == "Software Subscriptions"
    missing = await client.get(f"{base}/00000000-0000-4000-8000-000000000000", headers=auth)
    assert missing.status_code == 404
    assert missing.json()["errors"]["details"][0]["reason"] == "Not found."


async def test_money_stays_exact(
    client: httpx2.AsyncClient, auth: dict[str, str], acct: Acct, world: FreshBooksWorld
) -> None:
    vendor = await _vendor(client, auth, acct)
    bill = await _bill(
        client,
        auth,
        acct,
        world,
        vendor["vendorid"],
        lines=[
            {
                "categoryid": _category(world, "Software"),
                "quantity": "3",
                "unit_cost": {"amount": "0.10", "code": "USD"},
            }
        ],
    )
    assert Decimal(bill["total_amount"]["amount"]) == Decimal("0.30")
