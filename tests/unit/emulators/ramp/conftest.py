"""In-process fixtures for the Ramp emulator's behaviour tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx2
import pytest

from ml_connector_emulators.clock import EmulatorClock
from ml_connector_emulators.ramp import RampWorld, create_app


@pytest.fixture
def clock() -> EmulatorClock:
    return EmulatorClock(frozen=datetime(2026, 11, 2, 15, 0, tzinfo=UTC))


@pytest.fixture
def deliveries() -> list[httpx2.Request]:
    return []


@pytest.fixture
def world(clock: EmulatorClock, deliveries: list[httpx2.Request]) -> RampWorld:
    def receive(request: httpx2.Request) -> httpx2.Response:
        deliveries.append(request)
        return httpx2.Response(204)

    return RampWorld(
        scenario="services-firm", clock=clock, webhook_transport=httpx2.MockTransport(receive)
    )


@pytest.fixture
async def http(world: RampWorld) -> AsyncIterator[httpx2.AsyncClient]:
    transport = httpx2.ASGITransport(app=create_app(world))
    async with httpx2.AsyncClient(transport=transport, base_url="https://api.ramp.com") as client:
        yield client


@pytest.fixture
async def headers(http: httpx2.AsyncClient) -> dict[str, str]:
    creds = (await http.get("/_sandbox/credentials")).json()
    token = (
        await http.post(
            "/developer/v1/token",
            auth=(creds["client_id"], creds["client_secret"]),
            data={"grant_type": "client_credentials", "scope": creds["scope"]},
        )
    ).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}
