"""Token endpoint and bearer gate, per reference §2 and checklist §12.1-2."""

from __future__ import annotations

import base64
from typing import Any

import httpx2
import pytest
from ramp_contract_helpers import get_token

from ml_connector_emulators.clock import EmulatorClock
from ml_connector_emulators.ramp import RampWorld

pytestmark = pytest.mark.anyio


async def test_client_credentials_with_basic_auth_and_form_body(
    http: httpx2.AsyncClient, creds: dict[str, Any]
) -> None:
    raw = f"{creds['client_id']}:{creds['client_secret']}".encode()
    response = await http.post(
        "/developer/v1/token",
        headers={
            "Authorization": "Basic " + base64.b64encode(raw).decode(),
            "Content-Type": "application/x-www-form-urlencoded",
        },
        content=b"grant_type=client_credentials&scope=bills%3Aread+vendors%3Aread",
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"].lower() == "bearer"
    assert body["expires_in"] == 864000
    assert "refresh_token" not in body
    assert response.headers["x-trace-id"]


@pytest.mark.parametrize("auth", [None, ("ramp_id_unknown", "x"), "wrong-secret"])
async def test_token_needs_valid_basic_client_auth(
    http: httpx2.AsyncClient, creds: dict[str, Any], auth: object
) -> None:
    if auth == "wrong-secret":
        auth = (creds["client_id"], "not-the-secret")
    response = await http.post(
        "/developer/v1/token",
        auth=auth,  # type: ignore[arg-type]
        data={"grant_type": "client_credentials", "scope": "bills:read"},
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert creds["client_secret"] not in response.text


async def test_scope_is_enforced_at_the_resource(
    http: httpx2.AsyncClient, creds: dict[str, Any]
) -> None:
    token = await get_token(http, creds, scope="vendors:read")
    headers = {"Authorization": f"Bearer {token}"}
    assert (await http.get("/developer/v1/vendors", headers=headers)).status_code == 200
    refused = await http.get("/developer/v1/bills", headers=headers)
    assert refused.status_code == 403
    assert refused.json()["error_v2"]["error_code"] == "DEVELOPER_7100"
    assert "bills:read" in refused.json()["error_v2"]["message"]


async def test_token_time_scope_check_is_a_switch(
    http: httpx2.AsyncClient, creds: dict[str, Any], world: RampWorld
) -> None:
    world.set_quirks(scope_check="token", token_response_includes_scope=True)
    response = await http.post(
        "/developer/v1/token",
        auth=(creds["client_id"], creds["client_secret"]),
        data={"grant_type": "client_credentials", "scope": "bills:read made:up"},
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"
    ok = await http.post(
        "/developer/v1/token",
        auth=(creds["client_id"], creds["client_secret"]),
        data={"grant_type": "client_credentials", "scope": "bills:read"},
    )
    assert ok.json()["scope"] == "bills:read"


@pytest.mark.parametrize("header", [None, "Bearer ramp_tok_forged", "Basic abc"])
async def test_missing_or_unknown_bearer_is_401(
    http: httpx2.AsyncClient, header: str | None
) -> None:
    headers = {"Authorization": header} if header else {}
    response = await http.get("/developer/v1/vendors", headers=headers)
    assert response.status_code == 401
    assert "error_v2" in response.json()


async def test_client_credentials_token_expires_after_ten_days(
    http: httpx2.AsyncClient, creds: dict[str, Any], clock: EmulatorClock
) -> None:
    headers = {"Authorization": f"Bearer {await get_token(http, creds)}"}
    clock.advance(864000 - 1)
    assert (await http.get("/developer/v1/vendors", headers=headers)).status_code == 200
    clock.advance(1)
    assert (await http.get("/developer/v1/vendors", headers=headers)).status_code == 401


async def test_authorization_code_then_refresh_without_rotation(
    http: httpx2.AsyncClient, creds: dict[str, Any]
) -> None:
    code = (
        await http.post(
            "/_sandbox/oauth/codes",
            json={
                "client_id": creds["client_id"],
                "redirect_uri": "https://connector.example/oauth/ramp",
                "scope": "bills:read",
            },
        )
    ).json()["code"]
    auth = (creds["client_id"], creds["client_secret"])
    first = await http.post(
        "/developer/v1/token",
        auth=auth,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": "https://connector.example/oauth/ramp",
        },
    )
    assert first.status_code == 200
    assert first.json()["expires_in"] == 3600
    refresh = first.json()["refresh_token"]
    again = await http.post(
        "/developer/v1/token",
        auth=auth,
        data={"grant_type": "authorization_code", "code": code},
    )
    assert again.json()["error"] == "invalid_grant"  # codes are single-use
    renewed = await http.post(
        "/developer/v1/token",
        auth=auth,
        data={"grant_type": "refresh_token", "refresh_token": refresh},
    )
    assert renewed.status_code == 200
    assert renewed.json()["refresh_token"] == refresh
    assert renewed.json()["access_token"] != first.json()["access_token"]


async def test_revoked_token_is_refused(http: httpx2.AsyncClient, creds: dict[str, Any]) -> None:
    token = await get_token(http, creds)
    revoke = await http.post(
        "/developer/v1/token/revoke",
        auth=(creds["client_id"], creds["client_secret"]),
        data={"token": token, "token_type_hint": "access_token"},
    )
    assert revoke.status_code == 200
    response = await http.get("/developer/v1/vendors", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


async def test_each_business_sees_only_its_own_objects(
    http: httpx2.AsyncClient, creds: dict[str, Any]
) -> None:
    other = next(b for b in creds["businesses"] if b["business_id"] != creds["business_id"])
    mine = {"Authorization": f"Bearer {await get_token(http, creds)}"}
    theirs = {"Authorization": f"Bearer {await get_token(http, other)}"}
    users = (await http.get("/developer/v1/users", headers=mine)).json()["data"]
    foreign = await http.get(f"/developer/v1/users/{users[0]['id']}", headers=theirs)
    assert foreign.status_code == 404
    assert foreign.json()["error_v2"]["error_code"] == "DEVELOPER_7002"
