"""Serve the FreshBooks emulator (and a webhook receiver) on loopback for the official SDK.

`freshbooks-sdk` is synchronous and uses real sockets, so both apps run under uvicorn in
background threads on ports the OS picks; the SDK finds the emulator through
`FRESHBOOKS_API_URL` / `FRESHBOOKS_AUTH_URL`, exactly as it documents.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ml_connector_emulators.freshbooks import FreshBooksWorld, create_app


@dataclass
class ServedApp:
    url: str
    server: uvicorn.Server
    thread: threading.Thread


def _serve(app: Any) -> ServedApp:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="critical", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    started = threading.Event()
    for _ in range(500):
        if server.started:
            started.set()
            break
        started.wait(0.01)
    assert server.started, "uvicorn did not start"
    return ServedApp(f"http://127.0.0.1:{port}", server, thread)


def _stop(served: ServedApp) -> None:
    served.server.should_exit = True
    served.thread.join(timeout=10)


@dataclass
class Receiver:
    """The webhook endpoint a FreshBooks app would expose; records every post."""

    posts: list[tuple[list[tuple[str, str]], dict[str, str]]] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def app(self) -> Starlette:
        async def hook(request: Request) -> Response:
            body = (await request.body()).decode()
            with self.arrived:
                self.posts.append((parse_qsl(body, keep_blank_values=True), dict(request.headers)))
                self.arrived.notify_all()
            return Response(status_code=200)

        return Starlette(routes=[Route("/hooks", hook, methods=["POST"])])

    def wait_for(self, predicate: Any, timeout: float = 15.0) -> list[tuple[str, str]]:
        """Block until a post matching `predicate` arrives (deliveries are asynchronous)."""
        with self.arrived:
            found = self.arrived.wait_for(
                lambda: next((form for form, _ in self.posts if predicate(dict(form))), None),
                timeout,
            )
        assert found, f"no matching webhook arrived; got {[dict(f) for f, _ in self.posts]}"
        return next(f for f, _ in self.posts if predicate(dict(f)))

    def headers_of(self, form: list[tuple[str, str]]) -> dict[str, str]:
        return next(h for f, h in self.posts if f == form)


@pytest.fixture(scope="module")
def receiver_server() -> Iterator[tuple[Receiver, str]]:
    receiver = Receiver()
    served = _serve(receiver.app())
    yield receiver, f"{served.url}/hooks"
    _stop(served)


@pytest.fixture(scope="module")
def emulator() -> Iterator[tuple[FreshBooksWorld, str]]:
    world = FreshBooksWorld(scenario="empty")
    served = _serve(create_app(world, webhook_poll_seconds=0.05))
    world.register_redirect_uri("https://app.example.com/oauth/freshbooks/callback")
    yield world, served.url
    _stop(served)


@pytest.fixture
def sdk_env(
    emulator: tuple[FreshBooksWorld, str], monkeypatch: pytest.MonkeyPatch
) -> tuple[FreshBooksWorld, str]:
    _, url = emulator
    monkeypatch.setenv("FRESHBOOKS_API_URL", url)
    monkeypatch.setenv("FRESHBOOKS_AUTH_URL", url)
    return emulator
