"""The server process of the ingest benchmark: `ml-connector serve --no-worker`'s app, plus
one bare endpoint on the same stack.

The app is `web.server.build_app`'s composition (webhooks, health, metrics, the admin UI
and its session and security-header middleware) with `POST /bench/bare` added, which reads
the body and answers 200 — so both endpoints pass through the same uvicorn, the same
middleware and the same event loop, and the ratio between them is what the webhook's own
work (verify, record, enqueue, commit) costs.

    MLC_... python -m bench.ingest_server --port 8123
"""

from __future__ import annotations

import argparse
import logging

import anyio
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ml_connector.cli.processes import run_server
from ml_connector.logging import configure_logging
from ml_connector.settings import load_settings
from ml_connector.store import make_engine
from ml_connector.sync.runtime import Runtime
from ml_connector.web.admin import mount
from ml_connector.web.app import create_app
from ml_connector.web.deps import AppDeps

BARE_PATH = "/bench/bare"


async def bare(request: Request) -> Response:
    await request.body()
    return Response(b'{"outcome":"ok"}', status_code=200, media_type="application/json")


async def main(port: int) -> None:
    settings = load_settings()
    engine = make_engine(settings.resolved_database_url)
    try:
        deps = AppDeps(runtime=Runtime.build(engine, settings))
        routes, middleware = mount(deps)
        app = create_app(
            deps,
            extra_routes=[*routes, Route(BARE_PATH, bare, methods=["POST"])],
            extra_middleware=middleware,
        )
        await run_server(app, host="127.0.0.1", port=port, log_level="warning")
    finally:
        await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    # Per-request info logs are what `serve` writes too; keep them, but as JSON to a file.
    configure_logging(json=True, level=logging.INFO)
    anyio.run(main, args.port)
