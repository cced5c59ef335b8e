"""Cross-cutting conventions, per reference §3 and checklist §12.3-5."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
from ramp_contract_helpers import API, create_vendor

from ml_connector_emulators.clock import EmulatorClock

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("size", ["1", "101", "0"])
async def test_page_size_outside_2_to_100_is_422(
    http: httpx2.AsyncClient, headers: dict[str, str], size: str
) -> None:
    response = await http.get(f"/developer/v1/users?page_size={size}", headers=headers)
    assert response.status_code == 422
    body = response.json()
    assert body["error_v2"]["error_code"] == "DEVELOPER_7001"
    assert body["error_v2"]["message"] == "Value must be between 2 and 100"
    assert body["error_v2"]["additional_info"] == {"page_size": ["Value must be between 2 and 100"]}
    assert body["error"] == {"page_size": ["Value must be between 2 and 100"]}


async def test_page_next_is_a_full_url_followed_verbatim(
    http: httpx2.AsyncClient, headers: dict[str, str]
) -> None:
    for index in range(5):
        created = await http.post(
            "/developer/v1/departments", headers=headers, json={"name": f"Dept {index}"}
        )
        assert created.status_code == 201
    seen: list[str] = []
    url: str | None = f"{API}/departments?page_size=2"
    pages = 0
    while url:
        assert url.startswith(f"{API}/departments?")
        page = (await http.get(url, headers=headers)).json()
        seen += [d["name"] for d in page["data"]]
        url = page["page"]["next"]
        if url:
            query = parse_qs(urlsplit(url).query)
            assert query["page_size"] == ["2"]
            assert query["start"] == [page["data"][-1]["id"]]
        pages += 1
    assert seen == [f"Dept {i}" for i in range(5)]
    assert pages == 3


async def test_unknown_and_missing_fields_are_422(
    http: httpx2.AsyncClient, headers: dict[str, str]
) -> None:
    response = await http.post(
        "/developer/v1/departments", headers=headers, json={"title": "Consulting"}
    )
    assert response.status_code == 422
    info = response.json()["error_v2"]["additional_info"]
    assert info == {"title": ["Unknown field."], "name": ["Missing data for required field."]}


async def test_every_response_carries_a_trace_id(
    http: httpx2.AsyncClient, headers: dict[str, str]
) -> None:
    ok = await http.get("/developer/v1/users", headers=headers)
    bad = await http.get("/developer/v1/users?page_size=1", headers=headers)
    unauth = await http.get("/developer/v1/users")
    ids = {r.headers["x-trace-id"] for r in (ok, bad, unauth)}
    assert len(ids) == 3


async def test_unknown_path_is_a_plain_404_before_auth(http: httpx2.AsyncClient) -> None:
    response = await http.get("/developer/v1/no-such-thing")
    assert response.status_code == 404
    assert "error_v2" not in response.text


async def test_429_once_200_requests_fall_in_10_seconds(
    http: httpx2.AsyncClient, headers: dict[str, str], clock: EmulatorClock
) -> None:
    # The token request spent one of the 200.
    statuses = []
    for _ in range(199):
        statuses.append((await http.get("/developer/v1/users", headers=headers)).status_code)
        clock.advance(0.04)
    assert set(statuses) == {200}
    refused = await http.get("/developer/v1/users", headers=headers)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    clock.advance(int(refused.headers["Retry-After"]))
    assert (await http.get("/developer/v1/users", headers=headers)).status_code == 200
    counters = (await http.get("/_sandbox/counters")).json()
    assert max(counters["max_requests_in_10s"].values()) >= 201


async def test_rate_limit_is_per_business(
    http: httpx2.AsyncClient, headers: dict[str, str], creds: dict[str, Any]
) -> None:
    from ramp_contract_helpers import get_token

    for _ in range(199):
        await http.get("/developer/v1/users", headers=headers)
    assert (await http.get("/developer/v1/users", headers=headers)).status_code == 429
    other = next(b for b in creds["businesses"] if b["business_id"] != creds["business_id"])
    theirs = {"Authorization": f"Bearer {await get_token(http, other)}"}
    assert (await http.get("/developer/v1/users", headers=theirs)).status_code == 200


async def test_webhook_list_is_a_bare_array(
    http: httpx2.AsyncClient, headers: dict[str, str]
) -> None:
    response = await http.get("/developer/v1/webhooks", headers=headers)
    assert response.status_code == 200
    assert response.json() == []


async def test_idempotency_key_header_is_ignored(
    http: httpx2.AsyncClient, headers: dict[str, str], owner_id: str
) -> None:
    keyed = {**headers, "Idempotency-Key": "same-key"}
    first = await create_vendor(http, keyed, owner_id)
    second = await create_vendor(http, keyed, owner_id)
    assert first["id"] != second["id"]
    counters = (await http.get("/_sandbox/counters")).json()
    assert counters["vendors_created"] == 2
    assert counters["duplicate_vendors_by_name"] == 1
