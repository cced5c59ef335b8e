"""One Ramp API call: send, classify, retry within the call when that is safe.

Retry rules (stamina, around the whole call so each attempt re-runs authentication and
books a new rate-limit slot):

- 429: Ramp did not process the request, so any method is retried; `Retry-After` is the
  backoff when present. A hint longer than `max_retry_after` is not waited out here:
  the error goes up and the job queue schedules the retry instead of holding a worker.
- Not sent at all (connection refused, token endpoint down): retried for any method.
- 5xx, timeouts, dropped connections: retried only for idempotent calls. For a
  non-idempotent write (create a bill or vendor) the outcome is unknown, so the error
  surfaces as `TransientApiError` and the caller looks the object up before re-creating.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

import httpx2
import pydantic
import stamina

from ml_connector.clients.ramp.errors import (
    SYSTEM,
    RequestNotSentError,
    UnexpectedResponseError,
    classify_response,
    classify_transport_error,
)
from ml_connector.clients.ramp.pagination import paginate
from ml_connector.core.clock import Clock
from ml_connector.core.errors import RateLimitedError, TransientApiError

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})

M = TypeVar("M", bound=pydantic.BaseModel)


def parse_as(model: type[M], data: Any, *, what: str) -> M:
    """Validate one response object; a shape we cannot read is Ramp's error, not ours."""
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) or "<root>" for e in exc.errors())
        raise UnexpectedResponseError(
            f"Ramp returned a {what} this client cannot read (fields: {fields})", system=SYSTEM
        ) from exc


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """In-call retry limits; job-level retries (minutes to hours) belong to the queue."""

    attempts: int = 5
    timeout: float = 90.0
    wait_initial: float = 1.0
    wait_max: float = 30.0
    wait_jitter: float = 1.0
    max_retry_after: float = 60.0


def retry_backoff(  # noqa: PLR0911 - one return per retry rule, in the order the module docs give
    exc: Exception, *, idempotent: bool, max_retry_after: float
) -> bool | float:
    """stamina's backoff hook: False = give up, True = exponential backoff, float = wait that long."""
    if isinstance(exc, RateLimitedError):
        if exc.retry_after is None:
            return True
        return exc.retry_after if exc.retry_after <= max_retry_after else False
    if isinstance(exc, RequestNotSentError):
        return True
    if isinstance(exc, TransientApiError):
        if not idempotent:
            return False
        if exc.retry_after is not None and exc.retry_after <= max_retry_after:
            return exc.retry_after
        return True
    return False


def decode_json(response: httpx2.Response) -> Any:
    """The body as JSON with decimals kept exact; None for an empty body (204)."""
    if not response.content:
        return None
    try:
        return json.loads(response.content, parse_float=Decimal)
    except ValueError as exc:
        request = response.request
        raise UnexpectedResponseError(
            f"Ramp {request.method} {request.url.path} returned a body that is not JSON",
            system=SYSTEM,
            status=response.status_code,
        ) from exc


class Requester:
    """Sends requests through an `httpx2.AsyncClient` whose base URL is the API root."""

    def __init__(
        self, http: httpx2.AsyncClient, *, api_path: str, clock: Clock, retry: RetryPolicy
    ) -> None:
        self.http = http
        self.api_path = api_path
        self._clock = clock
        self._retry = retry

    async def send_once(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        data: Mapping[str, str] | None = None,
        auth: httpx2.Auth | None = None,
    ) -> Any:
        """One attempt: the decoded body, or the classified error raised."""
        extra: dict[str, Any] = {} if auth is None else {"auth": auth}
        try:
            response = await self.http.request(
                method, url, params=_query(params), json=json_body, data=data, **extra
            )
        except httpx2.TransportError as exc:
            path = self.http.base_url.join(url).path
            raise classify_transport_error(exc, method, path) from exc
        error = classify_response(response, now=self._clock())
        if error is not None:
            raise error
        return decode_json(response)

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        idempotent: bool | None = None,
    ) -> Any:
        """Send with in-call retries; `idempotent` defaults from the HTTP method."""
        safe = method.upper() in IDEMPOTENT_METHODS if idempotent is None else idempotent
        policy = self._retry

        def hook(exc: Exception) -> bool | float:
            return retry_backoff(exc, idempotent=safe, max_retry_after=policy.max_retry_after)

        async for attempt in stamina.retry_context(
            on=hook,
            attempts=policy.attempts,
            timeout=policy.timeout,
            wait_initial=policy.wait_initial,
            wait_max=policy.wait_max,
            wait_jitter=policy.wait_jitter,
        ):
            with attempt:
                return await self.send_once(method, url, params=params, json_body=json_body)
        raise AssertionError("stamina either returns a result or re-raises")  # pragma: no cover

    def list(self, path: str, params: Mapping[str, Any]) -> AsyncIterator[Any]:
        """Every item of a paginated listing (raw dicts)."""

        async def fetch(target: str, query: Mapping[str, Any] | None) -> Any:
            return await self.request("GET", target, params=query)

        return paginate(fetch, path, params, api_path=self.api_path)

    async def iterate(
        self, path: str, params: Mapping[str, Any], model: type[M], *, what: str
    ) -> AsyncIterator[M]:
        """Every item of a paginated listing, validated as `model`."""
        async for item in self.list(path, params):
            yield parse_as(model, item, what=what)

    async def call(
        self,
        method: str,
        path: str,
        model: type[M],
        *,
        what: str,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        idempotent: bool | None = None,
    ) -> M:
        """One call whose response body is a single `model` object."""
        body = await self.request(
            method, path, params=params, json_body=json_body, idempotent=idempotent
        )
        return parse_as(model, body, what=what)


def _query(params: Mapping[str, Any] | None) -> dict[str, str] | None:
    """Query parameters as Ramp expects them: None dropped, booleans lower-case, lists comma-joined."""
    if params is None:
        return None
    query: dict[str, str] = {}
    for name, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            query[name] = "true" if value else "false"
        elif isinstance(value, list | tuple | set | frozenset):
            query[name] = ",".join(str(v) for v in value)
        elif isinstance(value, Decimal):
            query[name] = format(value, "f")
        elif hasattr(value, "isoformat"):
            query[name] = value.isoformat()
        else:
            query[name] = str(value)
    return query


__all__ = [
    "IDEMPOTENT_METHODS",
    "Requester",
    "RetryPolicy",
    "decode_json",
    "parse_as",
    "retry_backoff",
]
