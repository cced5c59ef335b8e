"""Fixtures for the FreshBooks emulator's own tests: an in-process world, an HTTP client
on it, a signed-in token, and a webhook receiver app that records what it is sent."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ml_connector_emulators.clock import EmulatorClock
from ml_connector_emulators.freshbooks import FreshBooksWorld, create_app

START = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
RECEIVER = "http://receiver.test/hooks/freshbooks"


@dataclass
class Received:
    form: list[tuple[str, str]]
    body: bytes
    headers: dict[str, str]


@dataclass
class Receiver:
    """A stand-in for the product's webhook endpoint; `status` is what it answers."""

    posts: list[Received] = field(default_factory=list)
    status: int = 200

    def app(self) -> Starlette:
        async def hook(request: Request) -> Response:
            from urllib.parse import parse_qsl

            body = await request.body()
            self.posts.append(
                Received(
                    parse_qsl(body.decode(), keep_blank_values=True), body, dict(request.headers)
                )
            )
            return Response(status_code=self.status)

        return Starlette(routes=[Route("/hooks/freshbooks", hook, methods=["POST"])])

    def events(self) -> list[dict[str, str]]:
        return [dict(p.form) for p in self.posts if "verifier" not in dict(p.form)]

    def handshakes(self) -> list[dict[str, str]]:
        return [dict(p.form) for p in self.posts if "verifier" in dict(p.form)]


@pytest.fixture
def clock() -> EmulatorClock:
    return EmulatorClock(START)


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
def world(clock: EmulatorClock, receiver: Receiver) -> FreshBooksWorld:
    return FreshBooksWorld(
        scenario="empty",
        clock=clock,
        webhook_transport=httpx2.ASGITransport(app=receiver.app()),
    )


@pytest.fixture
async def client(world: FreshBooksWorld) -> AsyncIterator[httpx2.AsyncClient]:
    transport = httpx2.ASGITransport(app=create_app(world))
    async with httpx2.AsyncClient(transport=transport, base_url="https://api.freshbooks.test") as c:
        yield c


async def sign_in(
    client: httpx2.AsyncClient, world: FreshBooksWorld, scope: str | None = None
) -> dict[str, Any]:
    """Consent (approve) and code exchange; the token response."""
    app = world.oauth.app
    form = {
        "client_id": app.client_id,
        "redirect_uri": app.redirect_uris[0],
        "response_type": "code",
        "state": "s1",
    }
    if scope is not None:
        form["scope"] = scope
    approved = await client.post("/oauth/authorize", data={**form, "decision": "approve"})
    code = httpx2.URL(approved.headers["location"]).params["code"]
    response = await client.post(
        "/auth/oauth/token",
        data={
            "grant_type": "authorization_code",
            "client_id": app.client_id,
            "client_secret": app.client_secret,
            "code": code,
            "redirect_uri": app.redirect_uris[0],
        },
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


Login = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
def login(client: httpx2.AsyncClient, world: FreshBooksWorld) -> Login:
    """`await login()` or `await login(scope="...")`: a fresh token response."""

    async def run(scope: str | None = None) -> dict[str, Any]:
        return await sign_in(client, world, scope)

    return run


@pytest.fixture
async def auth(client: httpx2.AsyncClient, world: FreshBooksWorld) -> dict[str, str]:
    token = await sign_in(client, world)
    return {"Authorization": f"Bearer {token['access_token']}"}


@pytest.fixture
def acct(world: FreshBooksWorld) -> Callable[[str], str]:
    """`acct("bills/bills")` → the accounting path for the primary account."""
    account_id = world.primary.account_id
    return lambda path: f"/accounting/account/{account_id}/{path}"
