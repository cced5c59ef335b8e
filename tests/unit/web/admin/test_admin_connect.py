"""Connecting FreshBooks (OAuth state) and Ramp (credentials, scopes); secrets never shown."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
from admin_env import ADMIN_PASSWORD, AdminEnv

from ml_connector.queue import JobState, list_jobs
from ml_connector.store import audit, read, token_key
from ml_connector.store import connections as connections_store
from ml_connector.store import credentials as credentials_store
from ml_connector.store.connections import ConnectionStatus
from ml_connector.sync.kinds import Kind
from ml_connector.sync.runtime import RAMP_CLIENT_SECRET
from support.harness import FRESHBOOKS_AUTH, PUBLIC_URL


async def new_connection(env: AdminEnv, name: str = "Northbeam") -> int:
    answer = await env.post("/connections", {"name": name})
    assert answer.status_code == 303
    return int(answer.headers["location"].rsplit("/", 1)[1])


async def authorize(env: AdminEnv, connection_id: int) -> httpx2.Response:
    """Start the connect flow, approve on the emulator's consent page, follow the callback."""
    start = await env.client.get(f"/connect/freshbooks?connection={connection_id}")
    assert start.status_code == 303
    location = start.headers["location"]
    assert location.startswith(FRESHBOOKS_AUTH)
    code = await env.h.approve_consent(location)
    state = parse_qs(urlsplit(location).query)["state"][0]
    return await env.client.get(f"/oauth/freshbooks/callback?code={code}&state={state}")


async def ramp_credentials(env: AdminEnv) -> dict[str, str]:
    async with httpx2.AsyncClient(
        transport=env.h.ramp_transport, base_url="https://api.ramp.com"
    ) as http:
        return dict((await http.get("/_sandbox/credentials")).json())


@pytest.mark.anyio
async def test_connect_freshbooks_then_ramp_activates_the_connection(signed_in: AdminEnv) -> None:
    env = signed_in
    connection_id = await new_connection(env)
    answer = await authorize(env, connection_id)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/connections/{connection_id}"
    async with read(env.h.engine) as db:
        connection = await connections_store.get(db, connection_id)
        jobs = await list_jobs(db, kind=Kind.REGISTER_WEBHOOKS.value)
        events = await audit.for_fb_object(db, fb_id=str(connection_id), object_type="connection")
    assert connection.freshbooks_account_id
    assert connection.status is ConnectionStatus.PENDING  # Ramp not entered yet
    assert [j.state for j in jobs] == [JobState.AVAILABLE]
    assert [e.step for e in events][-1] == "freshbooks.authorized"
    assert events[-1].actor == "admin:admin"
    assert await env.h.runtime.token_store.load(token_key("freshbooks", connection_id))

    creds = await ramp_credentials(env)
    saved = await env.post(
        f"/connections/{connection_id}/ramp",
        {"client_id": creds["client_id"], "client_secret": creds["client_secret"]},
    )
    assert saved.status_code == 303
    page = await env.client.get(saved.headers["location"])
    assert "every scope the connector needs is granted" in page.text
    async with read(env.h.engine) as db:
        connection = await connections_store.get(db, connection_id)
        stored = await credentials_store.get(
            db, env.h.runtime.cipher, connection_id=connection_id, kind=RAMP_CLIENT_SECRET
        )
    assert connection.status is ConnectionStatus.ACTIVE
    assert stored is not None
    assert stored.get_secret_value() == creds["client_secret"]


@pytest.mark.anyio
async def test_callback_with_a_wrong_or_replayed_state_is_refused(signed_in: AdminEnv) -> None:
    env = signed_in
    connection_id = await new_connection(env)
    start = await env.client.get(f"/connect/freshbooks?connection={connection_id}")
    location = start.headers["location"]
    code = await env.h.approve_consent(location)
    state = parse_qs(urlsplit(location).query)["state"][0]

    forged = await env.client.get(f"/oauth/freshbooks/callback?code={code}&state=not-{state}")
    assert forged.status_code == 400
    # The wrong guess consumed the pending request: the right state no longer works either.
    late = await env.client.get(f"/oauth/freshbooks/callback?code={code}&state={state}")
    assert late.status_code == 400
    assert await env.h.runtime.token_store.load(token_key("freshbooks", connection_id)) is None

    answer = await authorize(env, connection_id)
    assert answer.status_code == 303
    replayed = await env.client.get(str(answer.request.url))
    assert replayed.status_code == 400


@pytest.mark.anyio
async def test_a_callback_from_another_browser_session_is_refused(signed_in: AdminEnv) -> None:
    """Login CSRF on OAuth: an attacker's code and state are useless in the admin's session."""
    env = signed_in
    connection_id = await new_connection(env)
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=env.app), base_url=PUBLIC_URL
    ) as attacker:
        token = (await attacker.get("/login")).text.split('name="csrf_token" value="')[1]
        await attacker.post(
            "/login",
            data={
                "username": "admin",
                "password": ADMIN_PASSWORD,
                "csrf_token": token.split('"')[0],
            },
        )
        start = await attacker.get(f"/connect/freshbooks?connection={connection_id}")
        location = start.headers["location"]
    code = await env.h.approve_consent(location)
    state = parse_qs(urlsplit(location).query)["state"][0]
    answer = await env.client.get(f"/oauth/freshbooks/callback?code={code}&state={state}")
    assert answer.status_code == 400
    async with read(env.h.engine) as db:
        assert (await connections_store.get(db, connection_id)).freshbooks_account_id is None


@pytest.mark.anyio
async def test_denied_consent_is_reported_not_saved(signed_in: AdminEnv) -> None:
    env = signed_in
    connection_id = await new_connection(env)
    start = await env.client.get(f"/connect/freshbooks?connection={connection_id}")
    state = parse_qs(urlsplit(start.headers["location"]).query)["state"][0]
    answer = await env.client.get(f"/oauth/freshbooks/callback?error=access_denied&state={state}")
    assert answer.status_code == 303
    page = await env.client.get(answer.headers["location"])
    assert "did not authorize" in page.text
    async with read(env.h.engine) as db:
        assert (await connections_store.get(db, connection_id)).freshbooks_account_id is None


@pytest.mark.anyio
async def test_missing_ramp_scopes_are_listed_with_their_fix(signed_in: AdminEnv) -> None:
    env = signed_in
    connection_id = await new_connection(env)
    limited = env.h.ramp.add_business("Limited Co", frozenset({"vendors:read", "bills:read"}))
    client = next(iter(limited.clients.values()))
    answer = await env.post(
        f"/connections/{connection_id}/ramp",
        {"client_id": client.client_id, "client_secret": client.client_secret},
    )
    assert answer.status_code == 200
    assert "vendors:write" in answer.text
    assert "Settings → Developer" in answer.text
    assert client.client_secret not in answer.text


@pytest.mark.anyio
async def test_pages_never_render_secrets(signed_in: AdminEnv) -> None:
    env = signed_in
    connection_id = await new_connection(env)
    await authorize(env, connection_id)
    creds = await ramp_credentials(env)
    await env.post(
        f"/connections/{connection_id}/ramp",
        {"client_id": creds["client_id"], "client_secret": creds["client_secret"]},
    )
    await env.post(f"/connections/{connection_id}/mappings/start", {})
    fb_tokens = await env.h.runtime.token_store.load(token_key("freshbooks", connection_id))
    ramp_tokens = await env.h.runtime.token_store.load(token_key("ramp", connection_id))
    assert fb_tokens is not None
    assert ramp_tokens is not None
    assert fb_tokens.refresh_token
    secrets = {
        "ramp client secret": creds["client_secret"],
        "freshbooks access token": fb_tokens.access_token,
        "freshbooks refresh token": fb_tokens.refresh_token,
        "ramp access token": ramp_tokens.access_token,
        "freshbooks app secret": env.h.settings.freshbooks_client_secret.get_secret_value(),  # type: ignore[union-attr]
        "admin password": ADMIN_PASSWORD,
        "session secret": env.h.settings.resolved_session_secret(),
    }
    base = f"/connections/{connection_id}"
    pages = [
        "/",
        "/connections",
        base,
        f"{base}/mappings",
        f"{base}/cost-centers",
        f"{base}/vendors",
        f"{base}/terms",
        "/attention",
        f"/audit?fb_id={connection_id}&object_type=connection",
    ]
    for path in pages:
        page = await env.client.get(path)
        assert page.status_code == 200, path
        for label, value in secrets.items():
            assert value not in page.text, f"{label} rendered on {path}"
    timeline = await env.client.get(f"/audit?fb_id={connection_id}&object_type=connection")
    assert "ramp.credentials_saved" in timeline.text
    assert "hash chain intact" in timeline.text
