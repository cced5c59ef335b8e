"""Turn Ramp responses and transport failures into the connector's error tree.

Ramp errors arrive as `{"error_v2": {"error_code", "message", "additional_info", ...},
"error": ...}`; the token endpoint answers OAuth-style `{"error": "invalid_client"}`.
Messages built here name the method, the path and Ramp's code and message — never a
header, a token or a request body, so they are safe to log and to show.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

import httpx2

from ml_connector.clients.http import parse_retry_after
from ml_connector.core.errors import (
    ApiError,
    ApiValidationError,
    AuthError,
    FatalError,
    InvalidGrantError,
    MissingScopeError,
    NotFoundError,
    RateLimitedError,
    TransientApiError,
)

SYSTEM = "ramp"

SCOPE_NOT_ALLOWED = "DEVELOPER_7100"
VALIDATION_FAILED = "DEVELOPER_7001"
OBJECT_NOT_FOUND = "DEVELOPER_7002"
DUPLICATE_DRAFT_REMOTE_ID = "DEVELOPER_7153"

_SCOPE_IN_MESSAGE = re.compile(r"not allowed for this client:\s*(?P<scopes>[\w:, ]+)")
_MAX_DETAIL = 500


class RequestNotSentError(TransientApiError):
    """The request never reached Ramp (connection refused, token endpoint down).

    Unlike other transient errors the outcome is known — nothing happened — so even a
    non-idempotent write may be retried.
    """


class PaginationError(ApiError, FatalError):
    """Ramp's `page.next` cursor looped or pointed outside the API."""


class UnexpectedResponseError(ApiError, FatalError):
    """A 2xx response whose body does not have the shape the reference documents."""


def _decode(response: httpx2.Response) -> dict[str, Any] | None:
    try:
        body = json.loads(response.content)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _error_details(body: dict[str, Any] | None) -> tuple[str | None, str | None]:
    """(code, message) from an `error_v2` envelope or an OAuth error body."""
    if body is None:
        return None, None
    v2 = body.get("error_v2")
    if isinstance(v2, dict):
        code = v2.get("error_code")
        message = v2.get("message") or None
        info = v2.get("additional_info")
        if isinstance(info, dict) and info:
            fields = "; ".join(f"{field}: {_as_text(msgs)}" for field, msgs in info.items())
            message = f"{message} ({fields})" if message else fields
        return (str(code) if code else None), (str(message)[:_MAX_DETAIL] if message else None)
    error = body.get("error")
    if isinstance(error, str):
        description = body.get("error_description")
        return error, (str(description)[:_MAX_DETAIL] if description else None)
    if isinstance(error, dict):
        return None, "; ".join(f"{k}: {_as_text(v)}" for k, v in error.items())[:_MAX_DETAIL]
    message = body.get("message")
    return None, (str(message)[:_MAX_DETAIL] if message else None)


def _as_text(value: object) -> str:
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)


def missing_scopes_in(detail: str | None) -> list[str]:
    """The scope names in Ramp's "These scopes are not allowed for this client: …" text."""
    if not detail:
        return []
    match = _SCOPE_IN_MESSAGE.search(detail)
    if match is None:
        return []
    return [s for s in re.split(r"[,\s]+", match.group("scopes")) if ":" in s]


def classify_response(  # noqa: PLR0911 - one return per error class: it reads as the table it is
    response: httpx2.Response, *, now: datetime
) -> ApiError | None:
    """The error a non-2xx response stands for, or None when it succeeded."""
    status = response.status_code
    if status < 400:
        return None
    request = response.request
    code, detail = _error_details(_decode(response))
    where = f"{request.method} {request.url.path}"
    text = f"Ramp {where} failed with HTTP {status}"
    if code:
        text += f" {code}"
    if detail:
        text += f": {detail}"
    kwargs: dict[str, Any] = {"system": SYSTEM, "status": status, "code": code, "detail": detail}
    if status == 429:
        retry_after = parse_retry_after(response.headers.get("Retry-After"), now)
        return RateLimitedError(text, retry_after=retry_after, **kwargs)
    if status >= 500 or status == 408:
        return TransientApiError(text, **kwargs)
    if code == "invalid_grant":
        return InvalidGrantError(text, **kwargs)
    if code == "invalid_scope" or (status == 403 and code == SCOPE_NOT_ALLOWED):
        return MissingScopeError(text, **kwargs)
    if status in (401, 403) or code in ("invalid_client", "unauthorized_client", "access_denied"):
        return AuthError(text, **kwargs)
    if status == 404:
        return NotFoundError(text, **kwargs)
    return ApiValidationError(text, **kwargs)


_NOT_SENT = (httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.PoolTimeout)


def classify_transport_error(exc: httpx2.TransportError, method: str, path: str) -> ApiError:
    """A failure with no response. Only failures before sending mean "nothing happened"."""
    where = f"{method} {path}"
    kind = type(exc).__name__
    if isinstance(exc, _NOT_SENT):
        return RequestNotSentError(f"Ramp {where} was not sent: {kind}", system=SYSTEM)
    return TransientApiError(
        f"Ramp {where} got no response ({kind}); the outcome is unknown", system=SYSTEM
    )


__all__ = [
    "DUPLICATE_DRAFT_REMOTE_ID",
    "OBJECT_NOT_FOUND",
    "SCOPE_NOT_ALLOWED",
    "SYSTEM",
    "VALIDATION_FAILED",
    "PaginationError",
    "RequestNotSentError",
    "UnexpectedResponseError",
    "classify_response",
    "classify_transport_error",
    "missing_scopes_in",
]
