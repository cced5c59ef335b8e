"""Raw-HTTP fixtures for the Ramp contract suite: the emulator mounted in-process.

These tests speak plain HTTP with `httpx2` exactly as `reference/ramp-api.md` describes
the API; they never use the product's Ramp client.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx2
import pytest
from ramp_contract_helpers import BASE, Receiver, get_token

from ml_connector_emulators.clock import EmulatorClock
from ml_connector_emulators.ramp import RampWorld, create_app


@pytest.fixture
def clock() -> EmulatorClock:
    return EmulatorClock(frozen=datetime(2026, 11, 2, 15, 0, tzinfo=UTC))


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
def world(clock: EmulatorClock, receiver: Receiver) -> RampWorld:
    return RampWorld(
        scenario="empty",
        clock=clock,
        webhook_transport=httpx2.MockTransport(receiver),
        public_url=BASE,
    )


@pytest.fixture
async def http(world: RampWorld) -> AsyncIterator[httpx2.AsyncClient]:
    transport = httpx2.ASGITransport(app=create_app(world))
    async with httpx2.AsyncClient(transport=transport, base_url=BASE) as client:
        yield client


@pytest.fixture
async def creds(http: httpx2.AsyncClient) -> dict[str, Any]:
    response = await http.get("/_sandbox/credentials")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
async def headers(http: httpx2.AsyncClient, creds: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {await get_token(http, creds)}"}


@pytest.fixture
async def owner_id(http: httpx2.AsyncClient, headers: dict[str, str]) -> str:
    users = (await http.get("/developer/v1/users", headers=headers)).json()["data"]
    owner: str = users[0]["id"]
    return owner


@pytest.fixture
async def entity(http: httpx2.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    entities = (await http.get("/developer/v1/entities", headers=headers)).json()["data"]
    first: dict[str, Any] = entities[0]
    return first
