"""`create_app(world)`: one Starlette app serving the API host, the auth host (consent
page) and `/_sandbox`, with the webhook sender running in the lifespan when served."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from ml_connector_emulators.freshbooks import (
    accounting,
    events,
    ledger_routes,
    oauth_routes,
    sandbox_routes,
)
from ml_connector_emulators.freshbooks.errors import ApiError
from ml_connector_emulators.freshbooks.surface import ApiSurface
from ml_connector_emulators.freshbooks.world import FreshBooksWorld


async def _api_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return exc.response


def create_app(world: FreshBooksWorld, *, webhook_poll_seconds: float = 0.2) -> Starlette:
    routes: list[BaseRoute] = [
        *oauth_routes.routes(),
        *ledger_routes.routes(),
        *accounting.routes(),
        *events.routes(),
        *sandbox_routes.routes(),
    ]

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        # Only a real server runs the lifespan; in-process tests call `drain()` instead.
        async with anyio.create_task_group() as group:
            group.start_soon(world.webhooks.run, webhook_poll_seconds)
            yield
            group.cancel_scope.cancel()

    app = Starlette(
        routes=routes,
        middleware=[Middleware(ApiSurface, world=world, routes=routes)],
        exception_handlers={ApiError: _api_error},
        lifespan=lifespan,
    )
    app.state.world = world
    return app


__all__ = ["create_app"]
