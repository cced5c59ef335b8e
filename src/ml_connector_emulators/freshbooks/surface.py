"""ASGI middleware around the API surface: request counters and injected faults.

Counts every request by route template (`GET /accounting/account/{account_id}/...`) and
status. For API paths (not `/_sandbox`, not the consent page) it applies the live fault
rules in order: latency, 429 with `Retry-After`, 5xx, and drop-after-commit — the
handler runs and its write commits, then the connection is cut before the client hears
the answer. Over a real socket the server starts the response and closes it (the client
sees a broken connection); in-process, `httpx2.ASGITransport` re-raises the error, so the
client gets the same `httpx2.RemoteProtocolError` a dead connection would give.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import anyio
import httpx2
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ml_connector_emulators.freshbooks.errors import family_of, family_status_error

if TYPE_CHECKING:
    from ml_connector_emulators.freshbooks.world import FreshBooksWorld

_NOT_API = ("/_sandbox", "/oauth/authorize", "/service/auth/oauth/authorize")


def _template(routes: Sequence[BaseRoute], scope: Scope) -> str:
    """The matched route's path, with the accounting resource segments filled in."""
    for route in routes:
        match, child = route.matches(scope)
        if match is Match.FULL:
            path = str(getattr(route, "path", scope["path"]))
            params = child.get("path_params", {})
            for name in ("group", "name"):
                if name in params:
                    path = path.replace("{" + name + "}", str(params[name]))
            return path
    return "(unmatched)"


class ApiSurface:
    def __init__(self, app: ASGIApp, world: FreshBooksWorld, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.world = world
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        route = f"{method} {_template(self.routes, scope)}"
        counters = self.world.counters
        if not path.startswith("/_sandbox"):
            counters.requests[route] += 1
        status_seen: list[int] = []

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_seen.append(message["status"])
                if not path.startswith("/_sandbox"):
                    counters.statuses[f"{route} {message['status']}"] += 1
            await send(message)

        if path.startswith(_NOT_API):
            await self.app(scope, receive, counting_send)
            return
        faults = self.world.faults
        latency = faults.take("latency", method, path)
        if latency is not None:
            counters.faults_injected["latency"] += 1
            await anyio.sleep(latency.seconds)
        limited = faults.take("rate_limit", method, path)
        if limited is not None:
            counters.faults_injected["rate_limit"] += 1
            await self._rate_limited(path, limited.seconds, counting_send)
            return
        broken = faults.take("server_error", method, path)
        if broken is not None:
            counters.faults_injected["server_error"] += 1
            await self._server_error(path, broken.status, counting_send)
            return
        if faults.take("drop_after_commit", method, path) is not None:
            counters.faults_injected["drop_after_commit"] += 1
            await self._drop_after(scope, receive, send)
            return
        await self.app(scope, receive, counting_send)

    async def _rate_limited(self, path: str, retry_after: float, send: Send) -> None:
        seconds = max(0, round(retry_after))
        error = family_status_error(family_of(path), 429, "Too many requests. Please retry later.")
        body = bytes(error.response.body)
        reset = int(self.world.clock.now().timestamp()) + seconds
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", str(seconds).encode()),
                    (b"x-ratelimit-limit", b"600"),
                    (b"x-ratelimit-remaining", b"0"),
                    (b"x-ratelimit-reset", str(reset).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def _server_error(self, path: str, status: int, send: Send) -> None:
        if status == 500:
            error = family_status_error(family_of(path), 500, "An unexpected error occurred.")
            body, kind = bytes(error.response.body), b"application/json"
        else:
            text = {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}.get(
                status, "Server Error"
            )
            body = f"<html><body><h1>{status} {text}</h1></body></html>".encode()
            kind = b"text/html"
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", kind), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def _drop_after(self, scope: Scope, receive: Receive, send: Send) -> None:
        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)

        await self.app(scope, receive, hold)
        start = next((m for m in held if m["type"] == "http.response.start"), None)
        status = start["status"] if start else 200
        self.world.counters.faults_injected[f"dropped_after_{status}"] += 1
        headers = list(start.get("headers", [])) if start else []
        # Starting the response makes a real server cut the socket mid-answer when we raise.
        await send({"type": "http.response.start", "status": status, "headers": headers})
        raise httpx2.RemoteProtocolError("Server disconnected without sending a complete response.")


__all__ = ["ApiSurface"]
