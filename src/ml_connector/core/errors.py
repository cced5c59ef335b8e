"""The exception tree of ml-connector. Callers catch at the level they can handle.

    ConnectorError                  base of everything we raise on purpose
    ├── RetriableError              try the same thing again later (carries retry_after)
    │   ├── RateLimitedError        HTTP 429; retry_after from Retry-After
    │   └── TransientApiError       5xx, timeouts, dropped connections, 200-with-errors of a
    │                               transient kind; the outcome of a write may be unknown
    ├── FatalError                  retrying the same input cannot succeed
    │   ├── AuthError               401/403 after refresh; the credentials are wrong or revoked
    │   │   ├── InvalidGrantError   the refresh token / code was rejected (single-use reuse)
    │   │   └── MissingScopeError   the token lacks a scope the call needs
    │   ├── ApiValidationError      4xx other than auth/not found/rate limit: our request is
    │   │                           wrong (Ramp 422 "Unknown field.", FreshBooks errno 2001…)
    │   ├── NotFoundError           404 / FreshBooks errno 1012
    │   └── ConfigurationError      settings or flow configuration are invalid
    └── SkippableError              this object cannot be processed now; others can
        └── NeedsAttentionError     send the object to "needs attention" with a reason

`ApiError` is mixed into every error that came from a vendor API and carries the system,
HTTP status, vendor error code and a message that never contains secrets.
"""

from __future__ import annotations


class ConnectorError(Exception):
    """Base of every error ml-connector raises on purpose."""


class RetriableError(ConnectorError):
    """The same operation may succeed later."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class FatalError(ConnectorError):
    """Retrying the same input cannot succeed; a human or a code change must act."""


class SkippableError(ConnectorError):
    """This object cannot be processed now, but the rest of the flow goes on."""


class NeedsAttentionError(SkippableError):
    """Park the object in "needs attention" with a specific, human-readable reason."""

    def __init__(self, reason: str, *, code: str = "needs_attention") -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


class ConfigurationError(FatalError):
    """Settings or flow configuration are invalid."""


class ApiError(ConnectorError):
    """Mixin data for errors raised from a vendor API response.

    Attributes:
        system: "freshbooks" or "ramp".
        status: the HTTP status, or None when no response arrived.
        code: the vendor's error code (FreshBooks errno, Ramp DEVELOPER_* / error_v2 code).
        detail: the vendor's message, already stripped of anything secret.
    """

    def __init__(
        self,
        message: str,
        *,
        system: str,
        status: int | None = None,
        code: str | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(message)
        self.system = system
        self.status = status
        self.code = code
        self.detail = detail


class RateLimitedError(ApiError, RetriableError):
    """HTTP 429. `retry_after` holds the server's hint in seconds when it gave one."""

    def __init__(
        self,
        message: str,
        *,
        system: str,
        status: int | None = 429,
        code: str | None = None,
        detail: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        ApiError.__init__(self, message, system=system, status=status, code=code, detail=detail)
        self.retry_after = retry_after


class TransientApiError(ApiError, RetriableError):
    """5xx, timeouts and dropped connections. For writes, the outcome is unknown."""

    def __init__(
        self,
        message: str,
        *,
        system: str,
        status: int | None = None,
        code: str | None = None,
        detail: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        ApiError.__init__(self, message, system=system, status=status, code=code, detail=detail)
        self.retry_after = retry_after


class AuthError(ApiError, FatalError):
    """Credentials are wrong, expired beyond refresh, or revoked."""


class InvalidGrantError(AuthError):
    """The authorization server rejected a code or refresh token (`invalid_grant`)."""


class MissingScopeError(AuthError):
    """The token lacks a scope the call needs; `detail` names the scope to grant."""


class ApiValidationError(ApiError, FatalError):
    """The vendor rejected our request as invalid (422/400 and friends)."""


class NotFoundError(ApiError, FatalError):
    """The object does not exist (or is not visible to this token)."""


__all__ = [
    "ApiError",
    "ApiValidationError",
    "AuthError",
    "ConfigurationError",
    "ConnectorError",
    "FatalError",
    "InvalidGrantError",
    "MissingScopeError",
    "NeedsAttentionError",
    "NotFoundError",
    "RateLimitedError",
    "RetriableError",
    "SkippableError",
    "TransientApiError",
]
