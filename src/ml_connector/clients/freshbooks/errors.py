"""Turn FreshBooks responses into the error tree of `core.errors`.

FreshBooks has five error body shapes (accounting `response.errors[]`, events
`{errno, message, details}`, auth `{error, error_description}`, ledger
`{errors: {message, status, details}}`, and a briefly shipped Google-RPC `{code, message,
details}`), and it reports some errors with HTTP 200. So every response body is checked,
whatever its status, and the vendor's errno outranks the status where it says more.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
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

SYSTEM = "freshbooks"

_DETAIL_LIMIT = 500

ERRNO_ACCESS_DENIED = 1003
ERRNO_DELETED_RESOURCE = 1011
ERRNO_UNKNOWN_RESOURCE = 1012
ERRNO_INACTIVE_ACCOUNT = 1042
ERRNO_CONFLICT = 409
ERRNO_UNEXPECTED = 500

FEATURE_GATED_ERRNOS = frozenset({12001, 31001, 41001, 41101})
"""Seen with HTTP 200 when the account's plan lacks items, bill vendors, bills or bill payments."""


class FeatureUnavailableError(ApiError, FatalError):
    """The FreshBooks account's plan does not include this resource (errno 41001 & co.).

    Fatal for the connection rather than for one object: no retry helps until the firm
    changes its FreshBooks plan.
    """


@dataclass(frozen=True)
class VendorError:
    """The first error a FreshBooks body reports, normalized across its shapes."""

    code: str | None
    message: str


def decode_json(content: bytes) -> Any:
    """JSON with every non-integer number as `Decimal`, so money never passes through float."""
    return json.loads(content, parse_float=Decimal)


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _code(value: object) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | str | Decimal):
        return str(value)
    return None


def vendor_error(body: object) -> VendorError | None:
    """The error a decoded FreshBooks body carries, or None for a body without one."""
    if not isinstance(body, Mapping):
        return None
    response = body.get("response")
    if isinstance(response, Mapping):
        errors = response.get("errors")
        if isinstance(errors, list) and errors:
            first = errors[0] if isinstance(errors[0], Mapping) else {}
            message = _text(first.get("message")) or "error without message"
            field = _text(first.get("field"))
            return VendorError(
                code=_code(first.get("errno")),
                message=f"{message} (field {field})" if field else message,
            )
    if "error" in body and isinstance(body.get("error"), str):
        return VendorError(
            code=body["error"], message=_text(body.get("error_description")) or body["error"]
        )
    ledger = body.get("errors")
    if isinstance(ledger, Mapping):
        reasons = [
            _text(d.get("reason"))
            for d in ledger.get("details") or []
            if isinstance(d, Mapping) and _text(d.get("reason"))
        ]
        message = _text(ledger.get("message")) or "error without message"
        return VendorError(
            code=_code(ledger.get("status")),
            message=f"{message}: {'; '.join(reasons)}" if reasons else message,
        )
    if "errno" in body or ("code" in body and "details" in body):
        details = body.get("details")
        reason: str | None = None
        extra: list[str] = []
        if isinstance(details, list):
            for d in details:
                if isinstance(d, str):
                    extra.append(d)
                elif isinstance(d, Mapping) and reason is None:
                    reason = _code(d.get("reason"))
        message = _text(body.get("message")) or "error without message"
        code = _code(body.get("errno")) if "errno" in body else (reason or _code(body["code"]))
        return VendorError(
            code=code, message=f"{message} {'; '.join(extra)}".strip() if extra else message
        )
    return None


def redact(text: str, secrets: Sequence[str]) -> str:
    """`text` with every secret we sent replaced, in case the vendor echoes one back."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    return text[:_DETAIL_LIMIT]


def _errno(code: str | None) -> int | None:
    return int(code) if code is not None and code.isdigit() else None


_GONE_ERRNOS = frozenset({ERRNO_UNKNOWN_RESOURCE, ERRNO_DELETED_RESOURCE})
_AUTH_CODES = frozenset(
    {"invalid_client", "unauthorized_client", "unauthenticated", "invalid_token"}
)


def error_class(status: int, code: str | None, detail: str) -> type[ApiError]:
    """Which error a status + vendor code means; the first matching rule wins.

    429 and 5xx outrank the body (the body of a proxy's 502 says nothing), then the
    OAuth codes, then auth, then FreshBooks' errno, then the status. Unknown-resource
    errnos with a 4xx other than 404 are about a *reference* in our request (a bill
    naming a missing vendor gets 422 + errno 1012): the request is wrong, not the object
    missing.
    """
    errno = _errno(code)
    scope_problem = code == "insufficient_scope" or (
        status in (401, 403) and "scope" in detail.lower()
    )
    rules: tuple[tuple[bool, type[ApiError]], ...] = (
        (status == 429, RateLimitedError),
        (
            status >= 500
            or status in (408, 409, 425)
            or errno in (ERRNO_CONFLICT, ERRNO_UNEXPECTED),
            TransientApiError,
        ),
        (code == "invalid_grant", InvalidGrantError),
        (scope_problem, MissingScopeError),
        (
            status in (401, 403)
            or errno in (ERRNO_ACCESS_DENIED, ERRNO_INACTIVE_ACCOUNT)
            or code in _AUTH_CODES,
            AuthError,
        ),
        (errno in FEATURE_GATED_ERRNOS, FeatureUnavailableError),
        (status == 404 or (status < 400 and errno in _GONE_ERRNOS), NotFoundError),
    )
    return next((cls for matched, cls in rules if matched), ApiValidationError)


def classify(
    *,
    status: int,
    body: object,
    headers: Mapping[str, str],
    now: datetime,
    what: str,
    secrets: Sequence[str] = (),
) -> ApiError | None:
    """The error a response represents, or None when it is a success.

    Args:
        status: the HTTP status.
        body: the decoded JSON body (None when there was none or it was not JSON).
        headers: response headers (for `Retry-After`).
        now: the current time, to read an HTTP-date `Retry-After`.
        what: a short, secret-free label of the call, e.g. "GET /accounting/account/X/bills/bills".
        secrets: values we sent that must never appear in the error (tokens, client secret).
    """
    error = vendor_error(body)
    if error is None and status < 400:
        return None
    code = error.code if error else None
    detail = redact(error.message, secrets) if error else f"HTTP {status}"
    message = f"FreshBooks {what} failed ({status}): {detail}"
    cls = error_class(status, code, detail)
    if cls is RateLimitedError or cls is TransientApiError:
        retry_after = parse_retry_after(headers.get("retry-after"), now)
        return cls(
            message, system=SYSTEM, status=status, code=code, detail=detail, retry_after=retry_after
        )
    return cls(message, system=SYSTEM, status=status, code=code, detail=detail)


def classify_response(
    response: httpx2.Response, *, now: datetime, what: str, secrets: Sequence[str] = ()
) -> tuple[Any, ApiError | None]:
    """Decode `response` and classify it: `(body, error)`; exactly one is meaningful.

    A 2xx whose body is not JSON is transient (a truncated or proxied answer); the outcome
    of a write that got one is unknown, which is what `TransientApiError` means.
    """
    body: Any = None
    if response.content:
        try:
            body = decode_json(response.content)
        except (ValueError, RecursionError):
            if response.is_success:
                return None, TransientApiError(
                    f"FreshBooks {what} returned a body that is not JSON",
                    system=SYSTEM,
                    status=response.status_code,
                    detail="malformed JSON",
                )
    error = classify(
        status=response.status_code,
        body=body,
        headers=response.headers,
        now=now,
        what=what,
        secrets=secrets,
    )
    return body, error


__all__ = [
    "FEATURE_GATED_ERRNOS",
    "SYSTEM",
    "FeatureUnavailableError",
    "VendorError",
    "classify",
    "classify_response",
    "decode_json",
    "error_class",
    "redact",
    "vendor_error",
]
