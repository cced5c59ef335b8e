"""The accounting API, per reference §6 and checklist §12.8."""

from __future__ import annotations

import httpx2
import pytest

pytestmark = pytest.mark.anyio


def _gl(n: int, start: int = 0) -> list[dict[str, str]]:
    return [
        {"id": str(6000 + i), "name": f"Account {i}", "classification": "EXPENSE"}
        for i in range(start, start + n)
    ]


async def test_connection_returns_the_incumbent_and_unlinks_to_a_tombstone(
    http: httpx2.AsyncClient, headers: dict[str, str]
) -> None:
    url = "/developer/v1/accounting/connection"
    no_chart = await http.post(
        "/developer/v1/accounting/accounts", headers=headers, json={"gl_accounts": _gl(1)}
    )
    assert no_chart.status_code == 400  # a connection is required
    first = (
        await http.post(url, headers=headers, json={"remote_provider_name": "FreshBooks Sync"})
    ).json()
    second = (await http.post(url, headers=headers, json={"remote_provider_name": "Other"})).json()
    assert second["id"] == first["id"]
    assert second["remote_provider_name"] == "FreshBooks Sync"
    assert (await http.delete(url, headers=headers)).status_code == 204
    connections = (
        await http.get("/developer/v1/accounting/all-connections", headers=headers)
    ).json()
    assert connections["connections"][0]["is_active"] is False
    assert connections["connections"][0]["status"] == "unlinked"


async def test_gl_upload_is_limited_and_all_or_nothing(
    http: httpx2.AsyncClient, headers: dict[str, str]
) -> None:
    await http.post(
        "/developer/v1/accounting/connection", headers=headers, json={"remote_provider_name": "FB"}
    )
    url = "/developer/v1/accounting/accounts"
    too_many = await http.post(url, headers=headers, json={"gl_accounts": _gl(501)})
    assert too_many.status_code == 422
    visible = [{**_gl(1)[0], "visible": True}]
    assert (await http.post(url, headers=headers, json={"gl_accounts": visible})).status_code == 422
    ok = await http.post(url, headers=headers, json={"gl_accounts": _gl(500)})
    assert ok.status_code == 201
    assert len(ok.json()["uploaded"]) == 500
    clash = await http.post(url, headers=headers, json={"gl_accounts": _gl(2, start=499)})
    assert clash.status_code == 400
    listed = (await http.get(url, headers=headers, params={"remote_id": "6500"})).json()
    assert listed["data"] == []  # nothing of the refused batch was kept
    account = (await http.get(url, headers=headers, params={"remote_id": "6001"})).json()["data"][0]
    ramp_id = account["ramp_id"]
    renamed = await http.patch(f"{url}/{ramp_id}", headers=headers, json={"name": "Travel"})
    assert renamed.json()["name"] == "Travel"
    assert (await http.delete(f"{url}/{ramp_id}", headers=headers)).status_code == 204
    assert (await http.get(f"{url}/{ramp_id}", headers=headers)).json()["is_active"] is False


async def test_custom_fields_options_and_accounting_vendors(
    http: httpx2.AsyncClient, headers: dict[str, str]
) -> None:
    await http.post(
        "/developer/v1/accounting/connection", headers=headers, json={"remote_provider_name": "FB"}
    )
    body = {"id": "cost_center", "name": "Cost center", "input_type": "SINGLE_CHOICE"}
    field = (await http.post("/developer/v1/accounting/fields", headers=headers, json=body)).json()
    again = (await http.post("/developer/v1/accounting/fields", headers=headers, json=body)).json()
    assert again["ramp_id"] == field["ramp_id"]  # idempotent by id
    options = await http.post(
        "/developer/v1/accounting/field-options",
        headers=headers,
        json={"field_id": field["ramp_id"], "options": [{"id": "cc-design", "value": "Design"}]},
    )
    assert options.status_code == 201
    no_field = await http.get("/developer/v1/accounting/field-options", headers=headers)
    assert no_field.status_code == 422  # field_id is required
    listed = await http.get(
        "/developer/v1/accounting/field-options",
        headers=headers,
        params={"field_id": field["ramp_id"]},
    )
    assert [o["value"] for o in listed.json()["data"]] == ["Design"]
    vendors = await http.post(
        "/developer/v1/accounting/vendors",
        headers=headers,
        json={"vendors": [{"id": "V-1", "name": "Slack Technologies, LLC"}]},
    )
    assert vendors.status_code == 201
    assert vendors.json()["vendors"][0]["id"] == "V-1"


async def test_sync_marking_dedupes_on_idempotency_key(
    http: httpx2.AsyncClient, headers: dict[str, str]
) -> None:
    await http.post(
        "/developer/v1/accounting/connection", headers=headers, json={"remote_provider_name": "FB"}
    )
    body = {
        "idempotency_key": "sync-1",
        "sync_type": "BILL_SYNC",
        "successful_syncs": [
            {"id": "6e3816e3-0e53-42ae-b075-bdb0adff10c4", "reference_id": "FB-1"}
        ],
    }
    first = await http.post("/developer/v1/accounting/syncs", headers=headers, json=body)
    second = await http.post("/developer/v1/accounting/syncs", headers=headers, json=body)
    assert first.status_code == 201
    assert first.json()["sync_id"] == second.json()["sync_id"]
    empty = await http.post(
        "/developer/v1/accounting/syncs",
        headers=headers,
        json={**body, "idempotency_key": "sync-2", "successful_syncs": []},
    )
    assert empty.status_code == 422
