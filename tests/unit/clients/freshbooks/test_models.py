"""Wire models against FreshBooks' captured shapes, quirks included."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx2
import pytest
from fbclient_helpers import MakeClient, tokens
from pydantic import ValidationError

from ml_connector.clients.freshbooks import (
    Bill,
    BillVendor,
    Category,
    Expense,
    Identity,
    Money,
    businesses_of,
)
from ml_connector.clients.freshbooks.errors import decode_json
from ml_connector.core.errors import ApiValidationError

CAPTURED_BILL = b"""{"response": {"result": {"bill": {
  "id": 7, "bill_number": null,
  "issue_date": "2020-10-09", "due_offset_days": 39, "due_date": "2020-11-17",
  "currency_code": "USD", "language": "en", "status": "unpaid",
  "amount": {"amount": "375.00", "code": "USD"},
  "tax_amount": {"amount": "0.00", "code": "USD"},
  "total_amount": {"amount": "375.00", "code": "USD"},
  "outstanding": {"amount": "375.00", "code": "USD"},
  "paid": {"amount": "0.00", "code": "USD"},
  "overall_category": "Office Expenses & Postage", "overall_description": "Malm Side Table",
  "attachment": null, "bill_payments": [],
  "lines": [{
    "id": 13, "list_index": 1, "description": "Malm Side Table", "quantity": "1",
    "unit_cost": {"amount": "125.00", "code": "USD"},
    "amount": {"amount": "125.00", "code": "USD"},
    "total_amount": {"amount": "125.00", "code": "USD"},
    "category": {"category": "Office Expenses & Postage", "categoryid": 65773, "id": 65773,
                 "is_cogs": false, "is_editable": false, "parentid": null,
                 "created_at": "2016-11-17 14:22:35", "updated_at": "2016-11-17 14:22:35", "vis_state": 0},
    "tax_name1": null, "tax_percent1": null, "tax_amount1": null, "tax_authorityid1": null,
    "tax_name2": null, "tax_percent2": null, "tax_amount2": null, "tax_authorityid2": null
  }],
  "vendor": {"vendorid": 5, "vendor_name": "IKEA", "outstanding_balance": [], "overdue_balance": []},
  "created_at": "2020-10-09 15:28:49", "updated_at": "2020-10-09 15:28:49", "vis_state": 0
}}}}"""


def test_captured_bill_without_vendorid() -> None:
    raw = decode_json(CAPTURED_BILL)["response"]["result"]["bill"]
    bill = Bill.model_validate(raw)
    assert bill.vendorid is None
    assert bill.vendor_id == 5  # from include[]=vendor
    assert bill.total_amount == Money(amount=Decimal("375.00"), code="USD")
    assert str(bill.total_amount.amount) == "375.00"  # exponent kept, no float round trip
    line = bill.lines[0]
    assert line.quantity == Decimal(1)
    assert line.category_id == 65773
    assert line.tax_percent1 is None
    assert bill.due_date == date(2020, 11, 17)
    assert bill.created_at == datetime(2020, 10, 9, 15, 28, 49, tzinfo=UTC)  # bills are UTC
    # unknown fields survive for the audit trail
    assert line.model_extra is not None
    assert line.model_extra["tax_authorityid1"] is None


def test_flat_categoryid_on_line_and_explicit_vendorid() -> None:
    bill = Bill.model_validate(
        {
            "id": "7",
            "vendorid": "5",
            "issue_date": "2020-10-09",
            "currency_code": "USD",
            "lines": [
                {
                    "categoryid": "65773",
                    "quantity": 2,
                    "unit_cost": {"amount": "125", "code": "USD"},
                }
            ],
        }
    )
    assert (bill.id, bill.vendor_id, bill.lines[0].category_id) == (7, 5, 65773)


def test_money_refuses_floats() -> None:
    with pytest.raises(ValidationError, match="float"):
        Money.model_validate({"amount": 79.73, "code": "USD"})


def test_vendor_balances_are_lists_of_money() -> None:
    vendor = BillVendor.model_validate(
        {
            "vendorid": 1,
            "vendor_name": "Staples",
            "outstanding_balance": [{"amount": {"amount": "5.00", "code": "CAD"}}],
            "overdue_balance": [],
            "tax_defaults": [{"taxid": 1, "name": "GST", "amount": "13.56", "enabled": True}],
            "created_at": "2020-10-06 14:20:20",
        }
    )
    assert vendor.outstanding_balance[0].amount == Money(amount=Decimal("5.00"), code="CAD")
    assert vendor.overdue_balance == []
    assert vendor.tax_defaults[0].amount == Decimal("13.56")
    documented = BillVendor.model_validate(
        {
            "vendorid": 1,
            "vendor_name": "S",
            "outstanding_balance": {"amount": {"amount": "1.00", "code": "USD"}},
        }
    )
    assert len(documented.outstanding_balance) == 1


def test_expense_camel_case_taxes_and_eastern_time() -> None:
    expense = Expense.model_validate(
        decode_json(
            b"""{"expenseid": 1825568, "id": 1825568, "categoryid": 2003174, "vendor": "Shell",
            "amount": {"amount": "79.73", "code": "USD"}, "date": "2019-04-24",
            "taxName1": "other tax", "taxPercent1": "13", "taxAmount1": {"amount": "9.17", "code": "USD"},
            "taxName2": null, "taxPercent2": null, "taxAmount2": null,
            "updated": "2019-04-24 11:33:35", "vis_state": 0}"""
        )
    )
    assert expense.tax_name1 == "other tax"
    assert expense.tax_percent1 == Decimal(13)
    assert expense.tax_amount1 == Money(amount=Decimal("9.17"), code="USD")
    # 11:33:35 US/Eastern in April (EDT, UTC-4) is 15:33:35 UTC
    assert expense.updated == datetime(2019, 4, 24, 15, 33, 35, tzinfo=UTC)


def test_category_eastern_in_winter() -> None:
    category = Category.model_validate(
        {"categoryid": 1, "category": "Gas", "created_at": "2019-01-18 09:14:52"}
    )
    assert category.created_at == datetime(2019, 1, 18, 14, 14, 52, tzinfo=UTC)


IDENTITY: dict[str, Any] = {
    "id": 12345,
    "identity_id": 12345,
    "first_name": "Simon",
    "email": "s@x.com",
    "business_memberships": [
        {
            "id": 140130,
            "role": "owner",
            "business": {
                "id": 439000,
                "business_uuid": "a_uuid1",
                "name": "Acme",
                "account_id": "ABC123",
            },
        }
    ],
    "roles": [
        {"id": 61270, "role": "admin", "systemid": 654654, "userid": 1, "accountid": "ABC123"}
    ],
}


def test_business_ids_come_from_the_business_not_the_membership() -> None:
    [ref] = businesses_of(Identity.model_validate(IDENTITY))
    assert (ref.account_id, ref.business_id, ref.business_uuid) == ("ABC123", 439000, "a_uuid1")
    assert ref.account_source == "membership"
    assert ref.role == "owner"


def test_null_account_id_falls_back_to_roles() -> None:
    data = {
        **IDENTITY,
        "business_memberships": [
            {"id": 1, "role": "owner", "business": {"id": 439000, "account_id": None}}
        ],
        "roles": [{"id": 2, "role": "admin", "accountid": "wkMd2g"}],
    }
    [ref] = businesses_of(Identity.model_validate(data))
    assert (ref.account_id, ref.account_source) == ("wkMd2g", "roles")


def test_ambiguous_fallback_is_not_guessed() -> None:
    data = {
        **IDENTITY,
        "business_memberships": [
            {"business": {"id": 1, "account_id": None}},
            {"business": {"id": 2, "account_id": None}},
        ],
        "roles": [{"accountid": "A1"}, {"accountid": "A2"}],
    }
    refs = businesses_of(Identity.model_validate(data))
    assert [(r.account_id, r.account_source) for r in refs] == [
        (None, "missing"),
        (None, "missing"),
    ]


def test_role_id_claimed_by_another_membership_is_not_reused() -> None:
    data = {
        **IDENTITY,
        "business_memberships": [
            {"business": {"id": 1, "account_id": "A1"}},
            {"business": {"id": 2, "account_id": None}},
        ],
        "roles": [{"accountid": "A1"}],
    }
    refs = businesses_of(Identity.model_validate(data))
    assert [r.account_id for r in refs] == ["A1", None]


def test_client_identity_without_memberships() -> None:
    assert (
        businesses_of(Identity.model_validate({"id": 1, "business_memberships": [], "roles": []}))
        == []
    )
    refs = businesses_of(
        Identity.model_validate({"id": 1, "roles": [{"accountid": "R1"}, {"accountid": "R1"}]})
    )
    assert [(r.account_id, r.business_id) for r in refs] == [("R1", None)]


@pytest.mark.anyio
async def test_identity_endpoint(make_client: MakeClient) -> None:
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(200, json={"response": IDENTITY})

    client = await make_client(handler, stored=tokens(0))
    refs = await client.businesses()
    assert seen[0].url.path == "/auth/api/v1/users/me"
    assert seen[0].headers["Authorization"] == "Bearer access-0"
    assert [r.account_id for r in refs] == ["ABC123"]


@pytest.mark.anyio
async def test_unexpected_object_shape_is_a_validation_error(make_client: MakeClient) -> None:
    client = await make_client(
        lambda r: httpx2.Response(
            200, json={"response": {"result": {"bill": {"id": "not-an-int"}}}}
        ),
        stored=tokens(0),
    )
    with pytest.raises(ApiValidationError, match="unexpected object shape"):
        await client.bills("ABC123").get(1)
