"""Vendors and bills, per reference §4-5 and checklist §12.6-7."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest
from ramp_contract_helpers import bill_body, create_vendor

pytestmark = pytest.mark.anyio


async def _gl(http: httpx2.AsyncClient, headers: dict[str, str]) -> None:
    await http.post(
        "/developer/v1/accounting/connection",
        headers=headers,
        json={"remote_provider_name": "FreshBooks Sync"},
    )
    uploaded = await http.post(
        "/developer/v1/accounting/accounts",
        headers=headers,
        json={
            "gl_accounts": [
                {
                    "id": "6410",
                    "name": "Office Supplies",
                    "classification": "EXPENSE",
                    "code": "6410",
                }
            ]
        },
    )
    assert uploaded.status_code == 201


async def test_vendor_create_rules(
    http: httpx2.AsyncClient, headers: dict[str, str], owner_id: str
) -> None:
    base = {
        "name": "Ali's Art shop",
        "country": "US",
        "vendor_owner_id": owner_id,
        "business_vendor_contacts": {"email": "ap@alisart.example"},
    }
    no_state = await http.post("/developer/v1/vendors", headers=headers, json=base)
    assert no_state.status_code == 400
    assert no_state.json()["error_v2"]["error_code"] == "DEVELOPER_7080"
    as_list = await http.post(
        "/developer/v1/vendors",
        headers=headers,
        json={**base, "state": "CA", "business_vendor_contacts": [{"email": "ap@alisart.example"}]},
    )
    assert as_list.status_code == 422  # a single object, not an array
    no_email = await http.post(
        "/developer/v1/vendors",
        headers=headers,
        json={**base, "state": "CA", "business_vendor_contacts": {"first_name": "Ali"}},
    )
    assert no_email.json()["error_v2"]["additional_info"] == {
        "business_vendor_contacts": {"email": ["Missing data for required field."]}
    }
    created = await http.post(
        "/developer/v1/vendors", headers=headers, json={**base, "state": "CA"}
    )
    assert created.status_code == 200  # the spec says 200, not 201
    vendor = created.json()
    assert len(vendor["contacts"]) == 1
    contacts = (
        await http.get(f"/developer/v1/vendors/{vendor['id']}/contacts", headers=headers)
    ).json()
    assert contacts["data"][0]["email"] == "ap@alisart.example"
    gb = await http.post(
        "/developer/v1/vendors", headers=headers, json={**base, "name": "PrintCo", "country": "GB"}
    )
    assert gb.status_code == 200  # state only required for US


async def test_vendor_filters(
    http: httpx2.AsyncClient, headers: dict[str, str], owner_id: str
) -> None:
    acme = await create_vendor(http, headers, owner_id, "Acme, Inc.")
    await create_vendor(http, headers, owner_id, "Globex")
    patched = await http.patch(
        f"/developer/v1/vendors/{acme['id']}", headers=headers, json={"external_vendor_id": "fb-77"}
    )
    assert patched.status_code == 200
    by_name = (
        await http.get("/developer/v1/vendors", headers=headers, params={"name": "Globex"})
    ).json()
    assert [v["name"] for v in by_name["data"]] == ["Globex"]
    by_ext = (
        await http.get(
            "/developer/v1/vendors", headers=headers, params={"external_vendor_id": "fb-77"}
        )
    ).json()
    assert [v["id"] for v in by_ext["data"]] == [acme["id"]]
    renamed = await http.patch(
        f"/developer/v1/vendors/{acme['id']}", headers=headers, json={"name": "X"}
    )
    assert renamed.status_code == 422  # no `name` in the PATCH schema


async def test_bill_decimal_in_minor_units_out(
    http: httpx2.AsyncClient, headers: dict[str, str], owner_id: str, entity: dict[str, Any]
) -> None:
    vendor = await create_vendor(http, headers, owner_id)
    created = await http.post(
        "/developer/v1/bills", headers=headers, json=bill_body(vendor, entity["id"])
    )
    assert created.status_code == 201, created.text
    bill = created.json()
    assert bill["amount"] == {"amount": 96993, "currency_code": "USD"}
    assert [line["amount"]["amount"] for line in bill["line_items"]] == [1998, 94995]
    assert bill["status"] == "OPEN"
    assert bill["approval_status"] == "APPROVED"
    assert bill["issued_at"] == "2026-10-01T00:00:00+00:00"
    fetched = (await http.get(f"/developer/v1/bills/{bill['id']}", headers=headers)).json()
    assert fetched["amount"] == bill["amount"]
    assert fetched["remote_id"] == "freshbooks:bill:432"


async def test_bill_amount_in_jpy_has_no_minor_units(
    http: httpx2.AsyncClient, headers: dict[str, str], owner_id: str, entity: dict[str, Any]
) -> None:
    vendor = await create_vendor(http, headers, owner_id)
    body = bill_body(vendor, entity["id"], invoice_currency="JPY", line_items=[{"amount": "1500"}])
    assert (await http.post("/developer/v1/bills", headers=headers, json=body)).json()[
        "amount"
    ] == {
        "amount": 1500,
        "currency_code": "JPY",
    }
    fractional = bill_body(
        vendor, entity["id"], invoice_currency="JPY", line_items=[{"amount": "1.5"}]
    )
    assert (
        await http.post("/developer/v1/bills", headers=headers, json=fractional)
    ).status_code == 422


@pytest.mark.parametrize(
    "case",
    [
        ({"invoice_number": "X" * 21}, 422, "invoice_number"),
        ({"memo": "m" * 1001}, 422, "memo"),
        ({"invoice_currency": "XYZ"}, 422, "invoice_currency"),
        ({"issued_at": "01/10/2026"}, 422, "issued_at"),
        ({"line_items": [{"amount": "-1.00"}]}, 422, "line_items"),
        ({"total": "10.00"}, 422, "total"),
    ],
)
async def test_bill_schema_rules(
    http: httpx2.AsyncClient,
    headers: dict[str, str],
    owner_id: str,
    entity: dict[str, Any],
    case: tuple[dict[str, Any], int, str],
) -> None:
    override, status, field = case
    vendor = await create_vendor(http, headers, owner_id)
    response = await http.post(
        "/developer/v1/bills", headers=headers, json=bill_body(vendor, entity["id"], **override)
    )
    assert response.status_code == status
    assert field in response.json()["error_v2"]["additional_info"]


async def test_every_required_bill_field_is_required(
    http: httpx2.AsyncClient, headers: dict[str, str], owner_id: str, entity: dict[str, Any]
) -> None:
    vendor = await create_vendor(http, headers, owner_id)
    required = [
        "due_at",
        "entity_id",
        "invoice_currency",
        "invoice_number",
        "issued_at",
        "payment_method",
        "vendor_contact_id",
        "vendor_id",
    ]
    for name in required:
        body = bill_body(vendor, entity["id"])
        del body[name]
        response = await http.post("/developer/v1/bills", headers=headers, json=body)
        assert response.status_code == 422
        assert response.json()["error_v2"]["additional_info"] == {
            name: ["Missing data for required field."]
        }


async def test_contact_must_belong_to_the_vendor(
    http: httpx2.AsyncClient, headers: dict[str, str], owner_id: str, entity: dict[str, Any]
) -> None:
    acme = await create_vendor(http, headers, owner_id, "Acme")
    globex = await create_vendor(http, headers, owner_id, "Globex")
    body = bill_body(acme, entity["id"], vendor_contact_id=globex["contacts"][0])
    response = await http.post("/developer/v1/bills", headers=headers, json=body)
    assert response.status_code == 400
    assert "vendor_contact_id" in response.json()["error_v2"]["additional_info"]


async def test_coding_is_validated_against_uploaded_gl_accounts(
    http: httpx2.AsyncClient, headers: dict[str, str], owner_id: str, entity: dict[str, Any]
) -> None:
    await _gl(http, headers)
    vendor = await create_vendor(http, headers, owner_id)

    def coded(option: str) -> dict[str, Any]:
        selection = {"field_external_id": "Category", "field_option_external_id": option}
        return bill_body(
            vendor,
            entity["id"],
            line_items=[{"amount": "10.00", "accounting_field_selections": [selection]}],
        )

    unknown = await http.post("/developer/v1/bills", headers=headers, json=coded("9999"))
    assert unknown.status_code == 400
    assert unknown.json()["error_v2"]["error_code"] == "DEVELOPER_7123"
    ok = await http.post("/developer/v1/bills", headers=headers, json=coded("6410"))
    assert ok.status_code == 201
    selection = ok.json()["line_items"][0]["accounting_field_selections"][0]
    assert selection["external_id"] == "6410"
    assert selection["category_info"]["type"] == "GL_ACCOUNT"
    assert selection["category_info"]["external_id"] == "Category"


async def test_paid_manually_marks_the_bill_paid_and_blocks_delete(
    http: httpx2.AsyncClient, headers: dict[str, str], owner_id: str, entity: dict[str, Any]
) -> None:
    vendor = await create_vendor(http, headers, owner_id)
    body = bill_body(
        vendor,
        entity["id"],
        payment_method="PAID_MANUALLY",
        payment_details={
            "manual_payment_method": "NON_RAMP_CREDIT_CARD",
            "payment_date": "2026-10-20",
        },
    )
    bill = (await http.post("/developer/v1/bills", headers=headers, json=body)).json()
    assert bill["status"] == "PAID"
    assert bill["paid_at"] == "2026-10-20T00:00:00+00:00"
    assert bill["payment"]["details"] == {"manual_payment_method": "NON_RAMP_CREDIT_CARD"}
    assert (
        await http.delete(f"/developer/v1/bills/{bill['id']}", headers=headers)
    ).status_code == 400
    paid = (
        await http.get("/developer/v1/bills", headers=headers, params={"payment_status": "PAID"})
    ).json()
    assert [b["id"] for b in paid["data"]] == [bill["id"]]


async def test_delete_archives_and_list_filters(
    http: httpx2.AsyncClient, headers: dict[str, str], owner_id: str, entity: dict[str, Any]
) -> None:
    acme = await create_vendor(http, headers, owner_id, "Acme")
    globex = await create_vendor(http, headers, owner_id, "Globex")
    a = (
        await http.post("/developer/v1/bills", headers=headers, json=bill_body(acme, entity["id"]))
    ).json()
    g = (
        await http.post(
            "/developer/v1/bills",
            headers=headers,
            json=bill_body(globex, entity["id"], remote_id="fb:2"),
        )
    ).json()
    by_vendor = (
        await http.get("/developer/v1/bills", headers=headers, params={"vendor_id": globex["id"]})
    ).json()
    assert [b["id"] for b in by_vendor["data"]] == [g["id"]]
    assert (await http.delete(f"/developer/v1/bills/{a['id']}", headers=headers)).status_code == 204
    live = (await http.get("/developer/v1/bills", headers=headers)).json()
    assert [b["id"] for b in live["data"]] == [g["id"]]
    archived = (
        await http.get("/developer/v1/bills", headers=headers, params={"is_archived": "true"})
    ).json()
    assert [b["id"] for b in archived["data"]] == [a["id"]]
    assert archived["data"][0]["archived_at"] is not None
    vendor_delete = await http.delete(f"/developer/v1/vendors/{globex['id']}", headers=headers)
    assert vendor_delete.status_code == 400  # it has bills


async def test_patch_replaces_lines_and_bills_have_no_idempotency(
    http: httpx2.AsyncClient, headers: dict[str, str], owner_id: str, entity: dict[str, Any]
) -> None:
    vendor = await create_vendor(http, headers, owner_id)
    body = bill_body(vendor, entity["id"])
    first = (await http.post("/developer/v1/bills", headers=headers, json=body)).json()
    second = await http.post("/developer/v1/bills", headers=headers, json=body)
    assert second.status_code == 201
    assert second.json()["id"] != first["id"]
    patched = await http.patch(
        f"/developer/v1/bills/{first['id']}",
        headers=headers,
        json={"line_items": [{"amount": "5.05"}], "due_at": "2026-11-30"},
    )
    assert patched.status_code == 200
    assert patched.json()["amount"]["amount"] == 505
    assert patched.json()["due_at"] == "2026-11-30T00:00:00+00:00"
    counters = (await http.get("/_sandbox/counters")).json()
    assert counters["bills_created"] == 2
    assert counters["duplicate_bills_by_remote_id"] == 1
