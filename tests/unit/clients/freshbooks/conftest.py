"""Fixtures for FreshBooks client unit tests: a fixed clock, an in-memory token store,
and a factory that builds a client over an `httpx2.MockTransport` handler."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest
from fbclient_helpers import CLIENT_ID, CLIENT_SECRET, KEY, REDIRECT_URI, T0, Handler, MakeClient

from ml_connector.clients.freshbooks import FreshBooksClient
from ml_connector.clients.tokens import InMemoryTokenStore
from ml_connector.core.clock import FixedClock
from ml_connector.core.tokens import TokenSet


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def store() -> InMemoryTokenStore:
    return InMemoryTokenStore()


@pytest.fixture
async def make_client(clock: FixedClock, store: InMemoryTokenStore) -> AsyncIterator[MakeClient]:
    """`await make_client(handler, stored=tokens(0))` → a client on a MockTransport."""
    clients: list[FreshBooksClient] = []

    async def factory(
        handler: Handler, *, stored: TokenSet | None = None, **kwargs: Any
    ) -> FreshBooksClient:
        if stored is not None:
            await store.save(KEY, stored)
        client = FreshBooksClient(
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            redirect_uri=REDIRECT_URI,
            token_store=store,
            token_key=KEY,
            transport=httpx2.MockTransport(handler),
            clock=clock,
            **kwargs,
        )
        clients.append(client)
        return client

    yield factory
    for client in clients:
        await client.aclose()
