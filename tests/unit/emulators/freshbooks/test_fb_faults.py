"""Fault injection, counters and clock control through `/_sandbox`."""

from __future__ import annotations

from collections.abc import Callable

import httpx2
import pytest

from ml_connector_emulators.freshbooks import FreshBooksWorld

pytestmark = pytest.mark.anyio
Acct = Callable[[str], str]


async def test_429_storm_with_retry_after_then_recovery(
    client: httpx2.AsyncClient, auth: dict[str, str], acct: Acct
) -> None:
    await client.post(
        "/_sandbox/faults",
        json={"kind": "rate_limit", "count": 2, "seconds": 7, "path_prefix": "/accounting"},
    )
    statuses = []
    for _ in range(3):
        response = await client.get(acct("bills/bills"), headers=auth)
        statuses.append(response.status_code)
        if response.status_code == 429:
            assert response.headers["retry-after"] == "7"
            assert response.json()["response"]["errors"][0]["errno"] == 429
    assert statuses == [429, 429, 200]


async def test_5xx_fault_and_latency_rule_with_zero_delay(
    client: httpx2.AsyncClient, auth: dict[str, str], acct: Acct
) -> None:
    await client.post("/_sandbox/faults", json={"kind": "server_error", "status": 503, "count": 1})
    await client.post("/_sandbox/faults", json={"kind": "latency", "seconds": 0, "count": 1})
    failed = await client.get(acct("bills/bills"), headers=auth)
    assert failed.status_code == 503
    assert "Service Unavailable" in failed.text
    assert (await client.get(acct("bills/bills"), headers=auth)).status_code == 200
    injected = (await client.get("/_sandbox/counters")).json()["faults_injected"]
    assert injected == {"latency": 1, "server_error": 1}
    bad = await client.post("/_sandbox/faults", json={"kind": "server_error", "status": 404})
    assert bad.status_code == 400


async def test_drop_after_commit_commits_the_write_but_loses_the_answer(
    client: httpx2.AsyncClient, auth: dict[str, str], acct: Acct, world: FreshBooksWorld
) -> None:
    await client.post(
        "/_sandbox/faults",
        json={"kind": "drop_after_commit", "count": 1, "path_prefix": "/accounting"},
    )
    with pytest.raises(httpx2.RemoteProtocolError):
        await client.post(
            acct("bill_vendors/bill_vendors"),
            json={"bill_vendor": {"vendor_name": "Ghost"}},
            headers=auth,
        )
    listed = (await client.get(acct("bill_vendors/bill_vendors"), headers=auth)).json()["response"][
        "result"
    ]
    assert [v["vendor_name"] for v in listed["bill_vendors"]] == ["Ghost"]
    # Reads are not writes: the rule only ever hits POST/PUT/PATCH/DELETE.
    assert world.faults.snapshot()["rules"] == []


async def test_counters_count_requests_by_route_and_reset(
    client: httpx2.AsyncClient, auth: dict[str, str], acct: Acct
) -> None:
    await client.get(acct("bills/bills"), headers=auth)
    await client.get(acct("bills/bills/1"), headers=auth)
    counters = (await client.get("/_sandbox/counters")).json()
    assert counters["requests"]["GET /accounting/account/{account_id}/bills/bills"] == 1
    assert (
        counters["statuses"]["GET /accounting/account/{account_id}/bills/bills/{resource_id} 404"]
        == 1
    )
    assert counters["code_exchanges"] == 1
    reset = (await client.post("/_sandbox/counters/reset")).json()
    assert reset["requests"] == {}
    assert reset["code_exchanges"] == 0


async def test_clock_control(client: httpx2.AsyncClient) -> None:
    frozen = await client.post("/_sandbox/clock", json={"freeze_at": "2026-12-01T00:00:00Z"})
    assert frozen.json()["now"] == "2026-12-01T00:00:00+00:00"
    advanced = await client.post("/_sandbox/clock", json={"advance_seconds": 90})
    assert advanced.json()["now"] == "2026-12-01T00:01:30+00:00"
    assert (
        await client.post("/_sandbox/clock", json={"freeze_at": "2026-12-01"})
    ).status_code == 400


async def test_credentials_describe_the_test_app(
    client: httpx2.AsyncClient, world: FreshBooksWorld
) -> None:
    creds = (await client.get("/_sandbox/credentials")).json()
    assert creds["client_id"] == world.oauth.app.client_id
    assert (
        creds["redirect_uri"]
        == creds["redirect_uris"][0]
        == "http://127.0.0.1:8000/oauth/freshbooks/callback"
    )
    assert creds["user"]["email"] == world.user.email
    assert creds["businesses"][0]["account_id"] == world.primary.account_id
