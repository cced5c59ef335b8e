"""The Ramp client against the in-process Ramp emulator, on one shared, hand-driven clock.

The emulator's clock is frozen; the client's clock, its rate limiter's clock and the
limiter's sleep all read and move that same clock. So the limiter "waits" by advancing
emulator time, the emulator's rolling window sees exactly the spacing the limiter chose,
and no test sleeps for real.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx2
import pytest
import stamina
from ramp_sandbox import BASE_URL, START, Receiver, Sandbox, SharedTime

from ml_connector.clients.ramp import RampClient
from ml_connector.clients.ratelimit import SlidingWindowLimiter
from ml_connector.clients.tokens import InMemoryTokenStore
from ml_connector_emulators.clock import EmulatorClock
from ml_connector_emulators.ramp import RampWorld, create_app


@pytest.fixture(autouse=True)
def _stamina_testing() -> Iterator[None]:
    with stamina.set_testing(True, attempts=5):
        yield


@pytest.fixture(params=["services-firm"])
def scenario(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def sandbox(scenario: str) -> AsyncIterator[Sandbox]:
    clock = EmulatorClock(frozen=START)
    receiver = Receiver()
    world = RampWorld(
        scenario=scenario,
        clock=clock,
        webhook_transport=httpx2.MockTransport(receiver),
        public_url=BASE_URL,
    )
    transport = httpx2.ASGITransport(app=create_app(world))
    async with httpx2.AsyncClient(transport=transport, base_url=BASE_URL) as control:
        response = await control.get("/_sandbox/credentials")
        response.raise_for_status()
        yield Sandbox(world, transport, control, SharedTime(clock), receiver, response.json())


@pytest.fixture
def store() -> InMemoryTokenStore:
    return InMemoryTokenStore()


@pytest.fixture
async def make_client(
    sandbox: Sandbox, store: InMemoryTokenStore
) -> AsyncIterator[Callable[..., RampClient]]:
    clients: list[RampClient] = []

    def build(**overrides: Any) -> RampClient:
        options: dict[str, Any] = {
            "client_id": sandbox.credentials["client_id"],
            "client_secret": sandbox.credentials["client_secret"],
            "token_store": store,
            "token_key": "ramp:component",
            "base_url": BASE_URL,
            "transport": sandbox.transport,
            "clock": sandbox.time.clock.now,
            "rate_limiter": SlidingWindowLimiter(
                clock=sandbox.time.monotonic,
                wall_clock=sandbox.time.clock.now,
                sleep=sandbox.time.sleep,
            ),
        }
        options.update(overrides)
        client = RampClient(**options)
        clients.append(client)
        return client

    yield build
    for client in clients:
        await client.aclose()


@pytest.fixture
def client(make_client: Callable[..., RampClient]) -> RampClient:
    return make_client()
