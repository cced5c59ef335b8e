"""What the Ramp client component tests share: the emulator sandbox and its shared clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx2

from ml_connector_emulators.clock import EmulatorClock
from ml_connector_emulators.ramp import RampWorld

BASE_URL = "https://api.ramp.com"
START = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


@dataclass
class Receiver:
    """The connector's webhook endpoint, as far as the emulator can tell: records and acks."""

    deliveries: list[httpx2.Request] = field(default_factory=list)

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.deliveries.append(request)
        return httpx2.Response(200)


class SharedTime:
    """The emulator clock seen as a monotonic clock, plus a sleep that moves it."""

    def __init__(self, clock: EmulatorClock) -> None:
        self.clock = clock
        self.slept = 0.0

    def monotonic(self) -> float:
        return self.clock.now().timestamp()

    async def sleep(self, seconds: float) -> None:
        self.slept += seconds
        self.clock.advance(seconds)


@dataclass
class Sandbox:
    world: RampWorld
    transport: httpx2.ASGITransport
    control: httpx2.AsyncClient
    time: SharedTime
    receiver: Receiver
    credentials: dict[str, Any]

    async def counters(self) -> dict[str, Any]:
        response = await self.control.get("/_sandbox/counters")
        response.raise_for_status()
        return dict(response.json())

    async def post(self, path: str, body: dict[str, Any]) -> Any:
        response = await self.control.post(path, json=body)
        response.raise_for_status()
        return response.json()
