"""The served web app: webhooks, health and metrics (`web.app`) plus the admin UI."""

from __future__ import annotations

from starlette.applications import Starlette

from ml_connector.web.admin import mount
from ml_connector.web.app import create_app
from ml_connector.web.deps import AppDeps


def build_app(deps: AppDeps) -> Starlette:
    """What `ml-connector serve` (and the demo) runs: `create_app` with the admin mounted."""
    routes, middleware = mount(deps)
    return create_app(deps, extra_routes=routes, extra_middleware=middleware)


__all__ = ["build_app"]
