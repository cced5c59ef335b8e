"""One authenticated FreshBooks API call: send, classify, decode.

Every resource goes through `ApiSession.call`, so transport failures, 200-with-errors
and malformed bodies are handled in one place. Request bodies are JSON with `Decimal`
money written as strings, never floats.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import httpx2

from ml_connector.clients.freshbooks.errors import SYSTEM, classify_response
from ml_connector.core.clock import Clock
from ml_connector.core.errors import TransientApiError
from ml_connector.core.ratelimit import RateLimiter

Params = Sequence[tuple[str, str]]


def to_wire(value: Any) -> Any:
    """A JSON-ready copy of `value`: Decimal → string, date → ISO, models → dicts."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        raise TypeError("FreshBooks request fields take dates (YYYY-MM-DD), not datetimes")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        raise TypeError("refusing to send a float to FreshBooks; use Decimal or a string")
    if isinstance(value, Mapping):
        return {str(k): to_wire(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_wire(v) for v in value]
    if hasattr(value, "model_dump"):
        return to_wire(value.model_dump(by_alias=True, exclude_none=True))
    return value


class RateLimitedTransport(httpx2.AsyncBaseTransport):
    """Books one request against the budget before every real request.

    It wraps the network transport, so refresh calls and the retry after a 401 are
    counted as well — they cost FreshBooks requests just the same. `share` is the part
    of the budget this client may fill (`RateLimiter.acquire`).
    """

    def __init__(
        self, inner: httpx2.AsyncBaseTransport, limiter: RateLimiter, key: str, share: float = 1.0
    ) -> None:
        self._inner = inner
        self._limiter = limiter
        self._key = key
        self._share = share

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        await self._limiter.acquire(self._key, share=self._share)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


class ApiSession:
    """Authenticated calls on the API host; `auth` is applied per request."""

    def __init__(self, http: httpx2.AsyncClient, *, auth: httpx2.Auth, clock: Clock) -> None:
        self._http = http
        self._auth = auth
        self._clock = clock

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: Params = (),
        body: Mapping[str, Any] | None = None,
    ) -> Any:
        """The decoded JSON answer (None for an empty body), or a classified error."""
        what = f"{method} {path}"
        content = None if body is None else json.dumps(to_wire(body)).encode("utf-8")
        headers = {"Accept": "application/json"}
        if content is not None:
            headers["Content-Type"] = "application/json"
        try:
            response = await self._http.request(
                method, path, params=list(params), content=content, headers=headers, auth=self._auth
            )
        except httpx2.TransportError as exc:
            raise TransientApiError(
                f"FreshBooks {what} did not complete: {type(exc).__name__}", system=SYSTEM
            ) from exc
        decoded, error = classify_response(response, now=self._clock(), what=what)
        if error is not None:
            raise error
        return decoded


def result_of(body: Any, key: str, what: str) -> Any:
    """`body.response.result[key]` of the accounting and events envelopes."""
    try:
        value = body["response"]["result"][key]
    except (KeyError, TypeError) as exc:
        raise TransientApiError(
            f"FreshBooks {what}: answer lacks response.result.{key}", system=SYSTEM
        ) from exc
    return value


def result_mapping(body: Any, what: str) -> Mapping[str, Any]:
    """`body.response.result` of a list answer."""
    try:
        value = body["response"]["result"]
    except (KeyError, TypeError) as exc:
        raise TransientApiError(
            f"FreshBooks {what}: answer lacks response.result", system=SYSTEM
        ) from exc
    if not isinstance(value, Mapping):
        raise TransientApiError(f"FreshBooks {what}: result is not an object", system=SYSTEM)
    return value


__all__ = ["ApiSession", "Params", "RateLimitedTransport", "result_mapping", "result_of", "to_wire"]
