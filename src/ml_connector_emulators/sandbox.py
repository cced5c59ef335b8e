"""Serve one or both emulators on loopback ports (what `ml-connector sandbox` runs)."""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn

from ml_connector_emulators.scenarios import SCENARIOS


def build_apps(
    *,
    freshbooks_port: int,
    ramp_port: int,
    scenario: str,
    host: str = "127.0.0.1",
    redirect_uris: tuple[str, ...] = (),
) -> dict[str, Any]:
    """The emulator ASGI apps to serve, keyed by name; a port of 0 leaves that one out."""
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; choose one of: {', '.join(SCENARIOS)}")
    if not freshbooks_port and not ramp_port:
        raise ValueError("nothing to serve: give a FreshBooks port, a Ramp port, or both")
    apps: dict[str, Any] = {}
    if freshbooks_port:
        from ml_connector_emulators.freshbooks import FreshBooksWorld
        from ml_connector_emulators.freshbooks import create_app as create_freshbooks

        fb_kwargs: dict[str, Any] = {"scenario": scenario}
        if redirect_uris:
            fb_kwargs["redirect_uris"] = redirect_uris
        apps["freshbooks"] = create_freshbooks(FreshBooksWorld(**fb_kwargs))
    if ramp_port:
        from ml_connector_emulators.ramp import RampWorld
        from ml_connector_emulators.ramp import create_app as create_ramp

        apps["ramp"] = create_ramp(
            RampWorld(scenario=scenario, public_url=f"http://{host}:{ramp_port}")
        )
    return apps


async def _serve_all(servers: list[uvicorn.Server]) -> None:
    await asyncio.gather(*(server.serve() for server in servers))


def serve(*, freshbooks_port: int, ramp_port: int, scenario: str, host: str = "127.0.0.1") -> None:
    """Run the requested emulators until interrupted (Ctrl-C stops both)."""
    apps = build_apps(
        freshbooks_port=freshbooks_port, ramp_port=ramp_port, scenario=scenario, host=host
    )
    ports = {"freshbooks": freshbooks_port, "ramp": ramp_port}
    servers = [
        uvicorn.Server(uvicorn.Config(app, host=host, port=ports[name], log_level="warning"))
        for name, app in apps.items()
    ]
    for name in apps:
        print(f"{name} emulator: http://{host}:{ports[name]}  (credentials: /_sandbox/credentials)")
    asyncio.run(_serve_all(servers))


__all__ = ["build_apps", "serve"]
