"""The product's ASGI application: webhooks, health and metrics, plus what others mount.

`create_app` takes every dependency explicitly (`AppDeps`), so tests build the app on
the in-process emulators and the server builds it on the real ones; the admin UI's
routes and session/CSRF middleware come in through `extra_routes` / `extra_middleware`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager

import structlog
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ml_connector.logging import bind_context
from ml_connector.web.deps import AppDeps
from ml_connector.web.health import health_routes, migrations_current
from ml_connector.web.webhooks import webhook_routes

log = structlog.get_logger(__name__)

REQUEST_ID_HEADER = "x-request-id"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")


def _new_request_id() -> str:
    return uuid.uuid4().hex


class RequestContextMiddleware:
    """Gives every request an id (the caller's `X-Request-ID` if sane) for logs and replies."""

    def __init__(self, app: ASGIApp, new_id: Callable[[], str] = _new_request_id) -> None:
        self.app = app
        self._new_id = new_id

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        offered = next(
            (
                value.decode("latin-1")
                for name, value in scope.get("headers", [])
                if name.decode("latin-1").lower() == REQUEST_ID_HEADER
            ),
            None,
        )
        request_id = (
            offered if offered is not None and _SAFE_REQUEST_ID.match(offered) else self._new_id()
        )

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER.encode("latin-1"), request_id.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        with bind_context(request_id=request_id):
            await self.app(scope, receive, send_with_id)


def create_app(
    deps: AppDeps,
    *,
    extra_routes: Sequence[BaseRoute] = (),
    extra_middleware: Sequence[Middleware] = (),
) -> Starlette:
    """The web app: `/webhooks/{freshbooks,ramp}/{connection_id}`, `/healthz`, `/metrics`."""

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        try:
            current = await migrations_current(deps)
        except Exception as exc:
            log.warning("web.migration_check_failed", error=type(exc).__name__)
        else:
            if not current:
                log.warning("web.migrations_not_current", advice="run `ml-connector migrate`")
        log.info("web.started", public_url=deps.settings.public_url)
        yield
        # A batch may still hold the delivery of a client that hung up: let it commit
        # before the server goes on to close the engine under it.
        await deps.delivery_writer.wait_idle()
        log.info("web.stopped")

    app = Starlette(
        routes=[*webhook_routes(), *health_routes(), *extra_routes],
        middleware=[Middleware(RequestContextMiddleware), *extra_middleware],
        lifespan=lifespan,
    )
    app.state.deps = deps
    return app


__all__ = ["REQUEST_ID_HEADER", "RequestContextMiddleware", "create_app"]
