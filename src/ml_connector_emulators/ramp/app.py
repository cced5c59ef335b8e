"""The Ramp emulator as one Starlette app: the API, its conventions, and `/_sandbox`.

A pure-ASGI middleware does what Ramp does around every API route: an `x-trace-id` on each
response, counting requests by route template, the per-business rolling rate limit
(429 with `Retry-After`), and the armed faults. "Commit the write, then drop the
connection" lets the route run and commit, then withholds its answer: in-process (an
`httpx2.ASGITransport` mount) the client gets `httpx2.RemoteProtocolError`, exactly what
it would get from a peer that hung up; served by uvicorn (detected by the lifespan having
run) the status line goes out and the connection is closed before the body, so the
client's read fails the same way.

Served mode also delivers webhooks from a background task started by the lifespan.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx2
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ml_connector_emulators.ramp import (
    accounting,
    auth,
    bills,
    org,
    sandbox_routes,
    transactions,
    vendors,
    webhook_routes,
)
from ml_connector_emulators.ramp.conventions import RATE_LIMITED, SERVER_ERROR, ApiError
from ml_connector_emulators.ramp.world import RampWorld

API_PREFIX = "/developer/v1"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
DELIVERY_INTERVAL_SECONDS = 0.25

log = logging.getLogger(__name__)


def api_routes() -> list[BaseRoute]:
    return [
        *auth.ROUTES,
        *vendors.ROUTES,
        *bills.ROUTES,
        *accounting.ROUTES,
        *org.ROUTES,
        *transactions.ROUTES,
        *webhook_routes.ROUTES,
    ]


class RampMiddleware:
    def __init__(self, app: ASGIApp, world: RampWorld, routes: list[BaseRoute]) -> None:
        self.app = app
        self.world = world
        self._templates: list[tuple[re.Pattern[str], str]] = [
            (route.path_regex, route.path) for route in routes if isinstance(route, Route)
        ]

    def _template(self, path: str) -> str:
        return next((tpl for regex, tpl in self._templates if regex.match(path)), path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        world = self.world
        trace_id = world.new_trace_id()

        async def traced(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-trace-id", trace_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        path: str = scope["path"]
        if not path.startswith(API_PREFIX):
            await self.app(scope, receive, traced)
            return
        method: str = scope["method"]
        template = self._template(path)
        world.counters.count_route(f"{method} {template}")
        refusal = await self._refusal(scope)
        if refusal is not None:
            await refusal.response()(scope, receive, traced)
            return
        if method not in WRITE_METHODS or not world.faults.wants_drop(method, template):
            await self.app(scope, receive, traced)
            return
        await self._commit_then_drop(scope, receive, traced, method, template)

    async def _refusal(self, scope: Scope) -> ApiError | None:
        world = self.world
        faults = world.faults
        # Counted on arrival, as Ramp counts it; the latency is then the whole round trip.
        # Counting after the simulated latency would also count this process's own
        # event-loop lag (a late wake-up under load), which bunches requests that left
        # evenly and refuses what Ramp would admit.
        key = self._business_of(scope)
        wait = None if key is None else world.limiter.admit(key)
        if faults.latency_ms:
            await anyio.sleep(faults.latency_ms / 1000)
        retry_after = faults.take_rate_limit()
        if retry_after is not None:
            world.counters.faults_injected += 1
            return self._too_many(retry_after)
        status = faults.take_server_error()
        if status is not None:
            world.counters.faults_injected += 1
            return ApiError(status, SERVER_ERROR, "Internal server error (injected).")
        if wait is not None:
            world.counters.rate_limited += 1
            return self._too_many(wait)
        return None

    def _too_many(self, retry_after: int) -> ApiError:
        headers = {"Retry-After": str(retry_after)} if self.world.quirks.retry_after_header else {}
        return ApiError(429, RATE_LIMITED, "Too Many Requests", headers=headers)

    def _business_of(self, scope: Scope) -> str | None:
        """Whose budget a request spends: the token's business, or the Basic client's."""
        header = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer":
            token = self.world.tokens.get(value.strip())
            return token.business_id if token else None
        if scheme.lower() == "basic":
            try:
                client_id = base64.b64decode(value.strip()).decode().partition(":")[0]
            except (binascii.Error, UnicodeDecodeError):
                return None
            found = self.world.find_client(client_id)
            return found[0].id if found else None
        return None

    async def _commit_then_drop(
        self, scope: Scope, receive: Receive, send: Send, method: str, template: str
    ) -> None:
        messages: list[Message] = []

        async def capture(message: Message) -> None:
            messages.append(message)

        await self.app(scope, receive, capture)
        start = messages[0] if messages else None
        if start is None or start.get("status", 500) >= 400:
            for message in messages:
                await send(message)
            return
        self.world.faults.spend_drop(method, template)
        self.world.counters.dropped_connections += 1
        if scope["app"].state.served:
            # uvicorn closes the connection when an app returns mid-response.
            await send(start)
            return
        raise httpx2.RemoteProtocolError("Server disconnected without sending a response.")


async def _deliver_forever(world: RampWorld) -> None:
    while True:
        try:
            await world.webhooks.drain()
        except Exception:
            log.exception("webhook delivery loop failed; continuing")
        await anyio.sleep(DELIVERY_INTERVAL_SECONDS)


def create_app(world: RampWorld) -> Starlette:
    """The emulator app for `world` (mount in-process, or serve with uvicorn)."""
    routes = [*api_routes(), *sandbox_routes.ROUTES]

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        app.state.served = True
        world.served = True
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(_deliver_forever, world)
            yield {}
            tasks.cancel_scope.cancel()

    app = Starlette(
        routes=routes,
        middleware=[Middleware(RampMiddleware, world=world, routes=routes)],
        lifespan=lifespan,
    )
    app.state.world = world
    app.state.served = False
    return app
