"""The served web app for a runtime: the one place the CLI builds it (`serve`, `demo`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ml_connector.sync.runtime import Runtime
from ml_connector.web.deps import AppDeps
from ml_connector.web.server import build_app

WebAppBuilder = Callable[[Runtime], Any]
"""Builds the served ASGI app (`web.server.build_app`) for a runtime."""


def web_app_builder() -> WebAppBuilder:
    def build(runtime: Runtime) -> Any:
        return build_app(AppDeps(runtime=runtime))

    return build


__all__ = ["WebAppBuilder", "web_app_builder"]
