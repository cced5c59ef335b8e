"""A scripted Ramp for the client unit tests, served through `httpx2.MockTransport`.

`FakeRamp` answers the token endpoint itself and routes every other request to
handlers registered per (method, path); it records every request that reached it
(after the rate-limit transport), so tests can count exactly what Ramp would see.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import httpx2

CLIENT_ID = "ramp_id_unit"
CLIENT_SECRET = "ramp_secret_unit_do_not_log"
START = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)

Handler = Callable[[httpx2.Request], httpx2.Response]


def ramp_error(status: int, code: str, message: str, **info: list[str]) -> httpx2.Response:
    body = {
        "error_v2": {
            "error_code": code,
            "message": message,
            "additional_info": info,
            "notes": "",
        },
        "error": info or message,
    }
    return httpx2.Response(status, json=body)


class FakeRamp:
    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Handler] = {}
        self.requests: list[httpx2.Request] = []
        self.authorizations: list[str] = []
        """The API requests' Authorization headers as sent (a resend mutates the request)."""
        self.tokens_issued: list[str] = []
        self.token_requests: list[httpx2.Request] = []
        self.token_scope: str | None = None
        self.token_expires_in = 864000
        self.token_handler: Handler | None = None
        self.valid_tokens: set[str] = set()
        self.check_bearer = True

    def route(self, method: str, path: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.routes[(method, "/developer/v1/" + path.lstrip("/"))] = handler
            return handler

        return register

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        if request.url.path == "/developer/v1/token":
            self.token_requests.append(request)
            if self.token_handler is not None:
                return self.token_handler(request)
            return self._mint(request)
        header = request.headers.get("Authorization", "")
        self.authorizations.append(header)
        if self.check_bearer and header.removeprefix("Bearer ") not in self.valid_tokens:
            return httpx2.Response(401, json={"error": "invalid_token"})
        handler = self.routes.get((request.method, request.url.path))
        if handler is None:
            return httpx2.Response(404, text="Not Found")
        return handler(request)

    def _mint(self, request: httpx2.Request) -> httpx2.Response:
        expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if request.headers.get("Authorization") != expected:
            return httpx2.Response(401, json={"error": "invalid_client"})
        token = f"ramp_tok_{len(self.tokens_issued) + 1}"
        self.tokens_issued.append(token)
        self.valid_tokens.add(token)
        body: dict[str, Any] = {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": self.token_expires_in,
        }
        if self.token_scope is not None:
            body["scope"] = self.token_scope
        return httpx2.Response(200, json=body)

    def api_requests(self) -> list[httpx2.Request]:
        return [r for r in self.requests if r.url.path != "/developer/v1/token"]


def form(request: httpx2.Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.content.decode()).items()}


def body(request: httpx2.Request) -> Any:
    return json.loads(request.content)


def page(items: list[dict[str, Any]], next_url: str | None = None) -> httpx2.Response:
    return httpx2.Response(200, json={"data": items, "page": {"next": next_url}})
