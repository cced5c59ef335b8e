"""The FreshBooks client against the in-process FreshBooks emulator.

The emulator runs on the emulator clock (frozen, moved by tests); the client reads the
same instant through `world.clock.now`, so expiry decisions on both sides agree. Webhook
deliveries go to an in-memory receiver instead of the network.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest
from fbemu_client_helpers import T0, Connect, NewClient, Receiver, consent

from ml_connector.clients.freshbooks import FreshBooksClient
from ml_connector.clients.tokens import InMemoryTokenStore
from ml_connector_emulators.clock import EmulatorClock
from ml_connector_emulators.freshbooks import FreshBooksWorld, create_app


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
def world(request: pytest.FixtureRequest, receiver: Receiver) -> FreshBooksWorld:
    """An empty FreshBooks; parametrize indirectly with a scenario name for another."""
    return FreshBooksWorld(
        scenario=getattr(request, "param", "empty"),
        clock=EmulatorClock(frozen=T0),
        webhook_transport=httpx2.MockTransport(receiver),
    )


@pytest.fixture
def transport(world: FreshBooksWorld) -> httpx2.ASGITransport:
    return httpx2.ASGITransport(app=create_app(world))


@pytest.fixture
def store() -> InMemoryTokenStore:
    return InMemoryTokenStore()


@pytest.fixture
async def new_client(
    world: FreshBooksWorld, transport: httpx2.ASGITransport, store: InMemoryTokenStore
) -> AsyncIterator[NewClient]:
    """A client for the emulator's sandbox app; `key` picks the connection in the store."""
    made: list[FreshBooksClient] = []
    credentials = world.credentials()

    def factory(key: str = "fb:conn-1", **kwargs: Any) -> FreshBooksClient:
        options: dict[str, Any] = {
            "client_id": credentials["client_id"],
            "client_secret": credentials["client_secret"],
            "redirect_uri": credentials["redirect_uri"],
            "token_store": store,
            "token_key": key,
            "transport": transport,
            "clock": world.clock.now,
        } | kwargs
        client = FreshBooksClient(**options)
        made.append(client)
        return client

    yield factory
    for client in made:
        await client.aclose()


@pytest.fixture
def connect(new_client: NewClient, transport: httpx2.ASGITransport) -> Connect:
    """A client that went through consent + code exchange (tokens in the store)."""

    async def go(key: str = "fb:conn-1", **kwargs: Any) -> FreshBooksClient:
        client = new_client(key, **kwargs)
        redirect = await consent(transport, client.authorization_url(state=f"state-{key}"))
        assert redirect["state"] == [f"state-{key}"]
        await client.exchange_code(redirect["code"][0])
        return client

    return go


@pytest.fixture
async def client(connect: Connect) -> FreshBooksClient:
    return await connect()


@pytest.fixture
def account_id(world: FreshBooksWorld) -> str:
    return world.primary.account_id
