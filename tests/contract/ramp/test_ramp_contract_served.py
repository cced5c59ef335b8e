"""The emulator served by uvicorn on loopback: credentials answer JSON, and a dropped
connection after a committed write is a real dropped connection."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import httpx2
import pytest
import uvicorn

from ml_connector_emulators.ramp import RampWorld, create_app

pytestmark = pytest.mark.anyio


@pytest.fixture
async def served() -> AsyncIterator[tuple[RampWorld, str]]:
    world = RampWorld(scenario="empty")
    config = uvicorn.Config(
        create_app(world), host="127.0.0.1", port=0, log_level="critical", lifespan="on"
    )
    server = uvicorn.Server(config)
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(server.serve)
        for _ in range(1000):
            if server.started:
                break
            await anyio.sleep(0.01)
        assert server.started, "uvicorn did not start"
        port = server.servers[0].sockets[0].getsockname()[1]
        world.public_url = f"http://127.0.0.1:{port}"
        yield world, world.public_url
        server.should_exit = True


async def test_served_credentials_and_dropped_write(served: tuple[RampWorld, str]) -> None:
    world, base = served
    async with httpx2.AsyncClient(base_url=base) as http:
        creds = await http.get("/_sandbox/credentials")
        assert creds.headers["content-type"] == "application/json"
        body = creds.json()
        assert {"client_id", "client_secret", "business_id", "scopes"} <= body.keys()
        token = (
            await http.post(
                "/developer/v1/token",
                auth=(body["client_id"], body["client_secret"]),
                data={"grant_type": "client_credentials", "scope": body["scope"]},
            )
        ).json()["access_token"]
        armed = await http.post(
            "/_sandbox/faults",
            json={"drop_after_write": {"route": "POST /developer/v1/departments"}},
        )
        assert armed.status_code == 200
        with pytest.raises(httpx2.RemoteProtocolError):
            await http.post(
                "/developer/v1/departments",
                headers={"Authorization": f"Bearer {token}"},
                json={"name": "Consulting"},
            )
    # The write committed although the client never saw the answer.
    assert [d.name for d in world.test_business.departments.values()] == ["Consulting"]
    assert world.counters.dropped_connections == 1
