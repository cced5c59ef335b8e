"""Every admin route needs a signed-in admin; every unsafe request needs a CSRF token."""

from __future__ import annotations

import re
from pathlib import Path

import httpx2
import pytest
from admin_env import ADMIN_PASSWORD, ADMIN_USER, AdminEnv, csrf_from
from starlette.applications import Starlette
from starlette.routing import Route

from ml_connector.store import connections as connections_store
from ml_connector.store import read
from ml_connector.store.testing import sqlite_database
from ml_connector.web.admin import mount
from ml_connector.web.deps import AppDeps
from support.harness import PUBLIC_URL, Harness

PUBLIC_PATHS = {"/login"}


def admin_routes(app: Starlette) -> list[tuple[str, str]]:
    """(method, concrete path) for every admin route in the app's route table."""
    found = []
    for route in app.routes:
        if not isinstance(route, Route) or route.path in PUBLIC_PATHS:
            continue
        path = re.sub(r"\{[^}]+\}", "1", route.path)
        found.extend((method, path) for method in sorted(route.methods or ()) if method != "HEAD")
    return found


@pytest.mark.anyio
async def test_the_crawl_sees_every_page(env: AdminEnv) -> None:
    routes = admin_routes(env.app)
    paths = {path for _, path in routes}
    # A guard against the crawl silently finding nothing.
    for expected in ("/", "/connections", "/attention", "/audit", "/oauth/freshbooks/callback"):
        assert expected in paths
    assert len(routes) >= 25


@pytest.mark.anyio
async def test_every_page_requires_login(env: AdminEnv) -> None:
    token = csrf_from((await env.client.get("/login")).text)
    for method, path in admin_routes(env.app):
        if method == "GET":
            answer = await env.client.get(path)
            assert answer.status_code == 303, (method, path)
            assert answer.headers["location"].startswith("/login?next="), path
        else:
            answer = await env.client.request(method, path, data={"csrf_token": token})
            assert answer.status_code == 401, (method, path, answer.status_code)


@pytest.mark.anyio
async def test_every_unsafe_request_requires_csrf(signed_in: AdminEnv) -> None:
    async with signed_in.h.engine.begin() as db:
        await connections_store.create(db, name="Existing", now=signed_in.h.clock.now())
    for method, path in admin_routes(signed_in.app):
        if method == "GET":
            continue
        missing = await signed_in.client.request(method, path, data={"name": "x"})
        assert missing.status_code == 403, (method, path)
        forged = await signed_in.client.request(
            method, path, data={"name": "x", "csrf_token": "forged.token.value"}
        )
        assert forged.status_code == 403, (method, path)
    async with read(signed_in.h.engine) as db:
        names = [c.name for c in await connections_store.list_all(db)]
    assert names == ["Existing"]


@pytest.mark.anyio
async def test_a_token_from_another_session_is_refused(signed_in: AdminEnv) -> None:
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=signed_in.app), base_url=PUBLIC_URL
    ) as attacker:
        their_token = csrf_from((await attacker.get("/login")).text)
    refused = await signed_in.client.post(
        "/connections", data={"name": "Evil", "csrf_token": their_token}
    )
    assert refused.status_code == 403
    accepted = await signed_in.post("/connections", {"name": "Good"})
    assert accepted.status_code == 303
    async with read(signed_in.h.engine) as db:
        assert [c.name for c in await connections_store.list_all(db)] == ["Good"]


@pytest.mark.anyio
async def test_static_files_are_public_and_served(env: AdminEnv) -> None:
    css = await env.client.get("/static/admin.css")
    assert css.status_code == 200
    assert "skip-link" in css.text


@pytest.mark.anyio
async def test_html_pages_carry_security_headers(env: AdminEnv) -> None:
    page = await env.client.get("/login")
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "no-store"


@pytest.mark.anyio
async def test_session_cookie_is_httponly_secure_and_lax(env: AdminEnv) -> None:
    token = await env.token("/login")
    answer = await env.client.post(
        "/login", data={"username": ADMIN_USER, "password": ADMIN_PASSWORD, "csrf_token": token}
    )
    cookie = answer.headers["set-cookie"].lower()
    assert cookie.startswith("mlc_session=")
    assert "httponly" in cookie
    assert "secure" in cookie
    assert "samesite=lax" in cookie


@pytest.mark.anyio
async def test_wrong_password_is_refused_and_rate_limited(env: AdminEnv) -> None:
    for _ in range(5):
        token = await env.token("/login")
        wrong = await env.client.post(
            "/login", data={"username": ADMIN_USER, "password": "guess", "csrf_token": token}
        )
        assert wrong.status_code == 401
        assert "Wrong username or password" in wrong.text
    token = await env.token("/login")
    limited = await env.client.post(
        "/login", data={"username": ADMIN_USER, "password": ADMIN_PASSWORD, "csrf_token": token}
    )
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) > 0
    assert (await env.client.get("/")).status_code == 303  # still signed out
    env.h.clock.advance(16 * 60)
    await env.login()


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/connections?x=1", "/connections?x=1"),
        ("//evil.example/", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("", "/"),
    ],
)
async def test_sign_in_never_redirects_off_site(env: AdminEnv, target: str, expected: str) -> None:
    token = await env.token("/login")
    answer = await env.client.post(
        "/login",
        data={
            "username": ADMIN_USER,
            "password": ADMIN_PASSWORD,
            "next": target,
            "csrf_token": token,
        },
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == expected


@pytest.mark.anyio
async def test_sign_out_ends_the_session(signed_in: AdminEnv) -> None:
    answer = await signed_in.post("/logout", {})
    assert answer.status_code == 303
    assert (await signed_in.client.get("/connections")).status_code == 303


@pytest.mark.anyio
async def test_without_an_admin_password_the_ui_refuses_to_run_open(tmp_path: Path) -> None:
    with sqlite_database(tmp_path) as url:
        async with Harness.start(url, scenario="empty", data_dir=tmp_path) as h:
            settings = h.settings.model_copy(update={"admin_password": None})
            h.runtime.settings = settings
            routes, middleware = mount(AppDeps(runtime=h.runtime))
            app = Starlette(routes=routes, middleware=middleware)
            async with httpx2.AsyncClient(
                transport=httpx2.ASGITransport(app=app), base_url=PUBLIC_URL
            ) as client:
                for path in ("/login", "/", "/connections"):
                    answer = await client.get(path)
                    assert answer.status_code == 503
                    assert "MLC_ADMIN_PASSWORD" in answer.text
                posted = await client.post("/login", data={"username": ADMIN_USER, "password": ""})
                assert posted.status_code == 503


@pytest.mark.anyio
async def test_composed_app_keeps_webhooks_outside_the_admin_guard(env: AdminEnv) -> None:
    """In the served app (`web.server.build_app`) webhooks take no session and no CSRF."""
    from ml_connector.web.server import build_app

    app = build_app(AppDeps(runtime=env.h.runtime))
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url=PUBLIC_URL
    ) as client:
        login = await client.get("/login")
        assert login.status_code == 200
        assert "Sign in" in login.text
        hook = await client.post("/webhooks/freshbooks/1", data={"name": "bill.create"})
        assert "Form expired" not in hook.text
        assert "set-cookie" not in hook.headers
