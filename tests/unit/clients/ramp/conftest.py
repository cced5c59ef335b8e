"""Fixtures for the Ramp client unit tests (the fake itself lives in `ramp_fakes`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from typing import Any

import httpx2
import pytest
import stamina
from ramp_fakes import CLIENT_ID, CLIENT_SECRET, START, FakeRamp

from ml_connector.clients.ramp import RampClient
from ml_connector.clients.ratelimit import SlidingWindowLimiter
from ml_connector.clients.tokens import InMemoryTokenStore
from ml_connector.core.clock import FixedClock


def _advance(clock: FixedClock) -> Callable[[float], Awaitable[None]]:
    """A sleep that moves the test clock instead of waiting."""

    async def sleep(seconds: float) -> None:
        clock.advance(seconds)

    return sleep


@pytest.fixture(autouse=True)
def _stamina_testing() -> Iterator[None]:
    """No real backoff sleeps; enough attempts to see the retry rules at work."""
    with stamina.set_testing(True, attempts=4):
        yield


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def store() -> InMemoryTokenStore:
    return InMemoryTokenStore()


@pytest.fixture
def fake() -> FakeRamp:
    return FakeRamp()


@pytest.fixture
def make_client(
    fake: FakeRamp, store: InMemoryTokenStore, clock: FixedClock
) -> Callable[..., RampClient]:
    def build(**overrides: Any) -> RampClient:
        options: dict[str, Any] = {
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "token_store": store,
            "token_key": "ramp:conn-1",
            "base_url": "https://api.ramp.com",
            "transport": httpx2.MockTransport(fake),
            "clock": clock,
            "renew_margin": timedelta(days=2),
            "rate_limiter": SlidingWindowLimiter(
                limit=1000,
                clock=lambda: clock().timestamp(),
                wall_clock=clock,
                sleep=_advance(clock),
            ),
        }
        options.update(overrides)
        return RampClient(**options)

    return build
