"""OAuth and identity: consent, single-use codes, rotating refresh tokens, revocation."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from ml_connector_emulators.clock import EmulatorClock
from ml_connector_emulators.freshbooks import FreshBooksWorld

pytestmark = pytest.mark.anyio


def _app(world: FreshBooksWorld) -> dict[str, str]:
    app = world.oauth.app
    return {
        "client_id": app.client_id,
        "client_secret": app.client_secret,
        "redirect_uri": app.redirect_uris[0],
    }


async def _refresh(
    client: httpx2.AsyncClient, world: FreshBooksWorld, refresh_token: str, **extra: Any
) -> httpx2.Response:
    return await client.post(
        "/auth/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            **_app(world),
            **extra,
        },
    )


async def test_consent_page_is_a_form_that_approves_with_code_and_state(
    client: httpx2.AsyncClient, world: FreshBooksWorld
) -> None:
    app = _app(world)
    page = await client.get(
        "/oauth/authorize",
        params={
            "client_id": app["client_id"],
            "redirect_uri": app["redirect_uri"],
            "response_type": "code",
            "state": "abc",
        },
    )
    assert page.status_code == 200
    assert "<form method='post'" in page.text
    assert 'value="abc"' in page.text
    assert world.user.email in page.text
    approved = await client.post(
        "/oauth/authorize",
        data={
            "client_id": app["client_id"],
            "redirect_uri": app["redirect_uri"],
            "state": "abc",
            "decision": "approve",
        },
    )
    assert approved.status_code == 302
    location = httpx2.URL(approved.headers["location"])
    assert str(location).startswith(app["redirect_uri"] + "?")
    assert location.params["state"] == "abc"
    assert len(location.params["code"]) == 64


async def test_deny_redirects_with_access_denied(
    client: httpx2.AsyncClient, world: FreshBooksWorld
) -> None:
    app = _app(world)
    denied = await client.post(
        "/oauth/authorize",
        data={
            "client_id": app["client_id"],
            "redirect_uri": app["redirect_uri"],
            "state": "q",
            "decision": "deny",
        },
    )
    location = httpx2.URL(denied.headers["location"])
    assert location.params["error"] == "access_denied"
    assert location.params["state"] == "q"
    assert "code" not in location.params


async def test_unregistered_redirect_uri_is_refused_without_redirecting(
    client: httpx2.AsyncClient, world: FreshBooksWorld
) -> None:
    page = await client.get(
        "/oauth/authorize",
        params={
            "client_id": world.oauth.app.client_id,
            "redirect_uri": "https://evil.example/cb",
            "response_type": "code",
        },
    )
    assert page.status_code == 400
    assert "location" not in page.headers
    registered = await client.post(
        "/_sandbox/redirect_uris", json={"uri": "https://evil.example/cb"}
    )
    assert "https://evil.example/cb" in registered.json()["redirect_uris"]
    again = await client.get(
        "/oauth/authorize",
        params={
            "client_id": world.oauth.app.client_id,
            "redirect_uri": "https://evil.example/cb",
            "response_type": "code",
        },
    )
    assert again.status_code == 200


async def test_unknown_scope_redirects_with_invalid_scope(
    client: httpx2.AsyncClient, world: FreshBooksWorld
) -> None:
    app = _app(world)
    page = await client.get(
        "/oauth/authorize",
        params={
            "client_id": app["client_id"],
            "redirect_uri": app["redirect_uri"],
            "scope": "user:profile:write",
        },
    )
    assert httpx2.URL(page.headers["location"]).params["error"] == "invalid_scope"


async def test_token_response_shape_and_code_is_single_use(
    client: httpx2.AsyncClient, world: FreshBooksWorld
) -> None:
    app = _app(world)
    approved = await client.post(
        "/oauth/authorize",
        data={
            "client_id": app["client_id"],
            "redirect_uri": app["redirect_uri"],
            "decision": "approve",
        },
    )
    code = httpx2.URL(approved.headers["location"]).params["code"]
    form = {"grant_type": "authorization_code", "code": code, **app}
    first = await client.post("/auth/oauth/token", data=form)
    body = first.json()
    assert first.status_code == 200
    assert body["expires_in"] == 43200
    assert body["token_type"] == "Bearer"
    assert body["created_at"] == int(world.clock.now().timestamp())
    assert len(body["refresh_token"]) == 64
    assert "user:profile:read" in body["scope"].split()
    second = await client.post("/auth/oauth/token", data=form)
    assert second.status_code == 400
    assert second.json()["error"] == "invalid_grant"


async def test_code_expires_after_five_minutes(
    client: httpx2.AsyncClient, world: FreshBooksWorld, clock: EmulatorClock
) -> None:
    app = _app(world)
    approved = await client.post(
        "/oauth/authorize",
        data={
            "client_id": app["client_id"],
            "redirect_uri": app["redirect_uri"],
            "decision": "approve",
        },
    )
    code = httpx2.URL(approved.headers["location"]).params["code"]
    clock.advance(301)
    late = await client.post(
        "/auth/oauth/token", json={"grant_type": "authorization_code", "code": code, **app}
    )
    assert late.status_code == 400
    assert late.json()["error"] == "invalid_grant"


async def test_client_secret_is_required(
    login: Any, client: httpx2.AsyncClient, world: FreshBooksWorld
) -> None:
    token = await login()
    app = _app(world)
    missing = await client.post(
        "/auth/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": token["refresh_token"],
            "client_id": app["client_id"],
        },
    )
    wrong = await _refresh(client, world, token["refresh_token"], client_secret="nope")
    assert missing.status_code == wrong.status_code == 401
    assert missing.json()["error"] == "invalid_client"
    assert "nope" not in wrong.text
    assert app["client_secret"] not in wrong.text
    # Neither failed attempt spent the refresh token.
    assert (await _refresh(client, world, token["refresh_token"])).status_code == 200


async def test_refresh_rotates_and_a_reused_token_is_refused_and_counted(
    login: Any, client: httpx2.AsyncClient, world: FreshBooksWorld
) -> None:
    token = await login()
    rotated = await _refresh(client, world, token["refresh_token"])
    assert rotated.status_code == 200
    fresh = rotated.json()
    assert fresh["refresh_token"] != token["refresh_token"]
    assert fresh["access_token"] != token["access_token"]
    reused = await _refresh(client, world, token["refresh_token"])
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"
    # Refresh works without redirect_uri too (the live-verified Go client omits it).
    without = await client.post(
        "/auth/oauth/token",
        json={
            "grant_type": "refresh_token",
            "refresh_token": fresh["refresh_token"],
            "client_id": world.oauth.app.client_id,
            "client_secret": world.oauth.app.client_secret,
        },
    )
    assert without.status_code == 200
    counters = (await client.get("/_sandbox/counters")).json()
    assert counters["refreshes"] == 2
    assert counters["refresh_token_reuses"] == 1


async def test_a_new_pair_invalidates_older_refresh_tokens(
    login: Any, client: httpx2.AsyncClient, world: FreshBooksWorld
) -> None:
    first = await login()
    await login()  # the user connects again: a second pair
    stale = await _refresh(client, world, first["refresh_token"])
    assert stale.status_code == 400
    assert stale.json()["error"] == "invalid_grant"


async def test_access_token_expires_after_12_hours(
    login: Any, client: httpx2.AsyncClient, world: FreshBooksWorld, clock: EmulatorClock
) -> None:
    token = await login()
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    clock.advance(43199)
    assert (await client.get("/auth/api/v1/users/me", headers=headers)).status_code == 200
    clock.advance(1)
    expired = await client.get("/auth/api/v1/users/me", headers=headers)
    assert expired.status_code == 401
    assert expired.json()["error"] == "unauthenticated"


async def test_revoke_kills_the_access_token_immediately(
    login: Any, client: httpx2.AsyncClient, world: FreshBooksWorld
) -> None:
    token = await login()
    app = _app(world)
    revoked = await client.post(
        "/auth/oauth/revoke",
        data={
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "token": token["access_token"],
        },
    )
    assert revoked.status_code == 200
    assert revoked.json() == {}
    me = await client.get(
        "/auth/api/v1/users/me", headers={"Authorization": f"Bearer {token['access_token']}"}
    )
    assert me.status_code == 401


async def test_expire_tokens_fault_forces_a_refresh(
    login: Any, client: httpx2.AsyncClient, world: FreshBooksWorld
) -> None:
    token = await login()
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    assert (await client.post("/_sandbox/faults/expire_tokens")).json()["expired"] == 1
    assert (await client.get("/auth/api/v1/users/me", headers=headers)).status_code == 401
    assert (await _refresh(client, world, token["refresh_token"])).status_code == 200


async def test_users_me_lists_every_business_membership(
    client: httpx2.AsyncClient, world: FreshBooksWorld, auth: dict[str, str]
) -> None:
    added = await client.post("/_sandbox/businesses", json={"name": "Second Co"})
    me = (await client.get("/auth/api/v1/users/me", headers=auth)).json()["response"]
    businesses = [m["business"] for m in me["business_memberships"]]
    assert [b["name"] for b in businesses] == ["Sandbox Company", "Second Co"]
    assert businesses[1]["account_id"] == added.json()["account_id"]
    assert isinstance(businesses[0]["id"], int)
    assert len(businesses[0]["business_uuid"]) == 36
    assert me["identity_id"] == world.user.identity_id


async def test_null_account_id_quirk_keeps_the_id_in_roles(
    client: httpx2.AsyncClient, world: FreshBooksWorld, auth: dict[str, str]
) -> None:
    await client.post("/_sandbox/identity", json={"null_account_id": True})
    me = (await client.get("/auth/api/v1/users/me", headers=auth)).json()["response"]
    assert me["business_memberships"][0]["business"]["account_id"] is None
    assert me["roles"][0]["accountid"] == world.primary.account_id


async def test_token_missing_a_scope_is_forbidden(
    login: Any, client: httpx2.AsyncClient, world: FreshBooksWorld
) -> None:
    token = await login(scope="user:profile:read user:bills:read")
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    account = world.primary.account_id
    assert (
        await client.get(f"/accounting/account/{account}/bills/bills", headers=headers)
    ).status_code == 200
    denied = await client.get(f"/accounting/account/{account}/expenses/expenses", headers=headers)
    assert denied.status_code == 403
    assert denied.json()["response"]["errors"][0]["errno"] == 1003
