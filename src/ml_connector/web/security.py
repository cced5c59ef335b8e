"""Admin authentication, sessions, CSRF and security headers for the admin UI.

- Login checks the configured admin username and password in constant time (both are
  always compared, so timing reveals neither which part was wrong nor how much matched).
- Sessions are Starlette's signed cookie (`SessionMiddleware`): HttpOnly, SameSite=Lax
  (the OAuth callback is a cross-site top-level redirect and must still carry the
  session), Secure when the public URL is https.
- CSRF: a signed double-submit token. The session (a cookie) holds a random nonce; every
  form carries the nonce signed with itsdangerous under a CSRF-only salt. An unsafe
  request passes only if the signature is valid, the token is younger than the session
  lifetime, and its nonce equals the session's — so a token minted for one session is
  worthless in another, and the cookie alone proves nothing.
- Failed logins are rate limited per client address (in process memory: an attacker
  spreading guesses over several `serve` processes still meets each one's limit).
"""

from __future__ import annotations

import hmac
import secrets
from collections import deque
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from pydantic import SecretStr
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ml_connector.core.clock import Clock

SESSION_COOKIE = "mlc_session"
SESSION_MAX_AGE = 8 * 3600
"""An admin session lasts a working day; CSRF tokens live no longer than their session."""
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
USER_KEY = "admin_user"
_NONCE_KEY = "csrf_nonce"
_CSRF_SALT = "ml-connector.csrf"


class AdminDisabledError(RuntimeError):
    """The admin UI was asked for, but no admin password is configured."""


@dataclass(frozen=True)
class AdminCredentials:
    """The one admin account from settings (`MLC_ADMIN_USERNAME` / `MLC_ADMIN_PASSWORD`)."""

    username: str
    password: SecretStr = field(repr=False)

    def verify(self, username: str, password: str) -> bool:
        """True only for the right pair; both parts are compared in constant time."""
        user_ok = hmac.compare_digest(username.encode("utf-8"), self.username.encode("utf-8"))
        pass_ok = hmac.compare_digest(
            password.encode("utf-8"), self.password.get_secret_value().encode("utf-8")
        )
        return user_ok & pass_ok


class CsrfProtector:
    """Mints and checks session-bound CSRF tokens."""

    def __init__(self, secret: str, *, max_age: int = SESSION_MAX_AGE) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt=_CSRF_SALT)
        self._max_age = max_age

    def __repr__(self) -> str:
        return "CsrfProtector()"

    def token_for(self, session: MutableMapping[str, Any]) -> str:
        """The token to embed in forms, creating the session's nonce on first use."""
        nonce = session.get(_NONCE_KEY)
        if not isinstance(nonce, str):
            nonce = secrets.token_urlsafe(32)
            session[_NONCE_KEY] = nonce
        return self._serializer.dumps(nonce)

    def is_valid(self, session: Mapping[str, Any], token: str | None) -> bool:
        nonce = session.get(_NONCE_KEY)
        if not token or not isinstance(nonce, str):
            return False
        try:
            signed_nonce = self._serializer.loads(token, max_age=self._max_age)
        except (SignatureExpired, BadSignature):
            return False
        return isinstance(signed_nonce, str) and hmac.compare_digest(signed_nonce, nonce)


class LoginRateLimiter:
    """At most `max_failures` failed logins per client in a sliding `window`."""

    def __init__(
        self,
        clock: Clock,
        *,
        max_failures: int = 5,
        window: timedelta = timedelta(minutes=15),
        max_clients: int = 10_000,
    ) -> None:
        self._clock = clock
        self._max = max_failures
        self._window = window
        self._max_clients = max_clients
        self._failures: dict[str, deque[datetime]] = {}

    def _recent(self, client: str) -> deque[datetime]:
        now = self._clock()
        failures = self._failures.get(client, deque())
        while failures and failures[0] <= now - self._window:
            failures.popleft()
        return failures

    def retry_after(self, client: str) -> int | None:
        """Seconds until `client` may try again, or None if it may try now."""
        failures = self._recent(client)
        if len(failures) < self._max:
            return None
        wait = failures[0] + self._window - self._clock()
        return max(int(wait.total_seconds()) + 1, 1)

    def failed(self, client: str) -> None:
        if client not in self._failures and len(self._failures) >= self._max_clients:
            # Bound memory under a flood of distinct addresses: drop the stalest client.
            self._failures.pop(next(iter(self._failures)))
        failures = self._recent(client)
        failures.append(self._clock())
        self._failures[client] = failures

    def succeeded(self, client: str) -> None:
        self._failures.pop(client, None)


def safe_next(target: str | None, default: str = "/") -> str:
    """A post-login redirect target that stays on this site (no open redirects)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target or any(ord(ch) < 32 for ch in target):
        return default
    return target


_HEADERS = {
    b"content-security-policy": (
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"form-action 'self' https: http:; frame-ancestors 'none'; base-uri 'none'; "
        b"object-src 'none'"
    ),
    b"x-content-type-options": b"nosniff",
    b"x-frame-options": b"DENY",
    b"referrer-policy": b"same-origin",
}


class SecurityHeadersMiddleware:
    """Adds CSP, anti-framing and no-sniff headers to every HTML response.

    `form-action` allows http(s) because the FreshBooks consent page is another origin
    reached by redirect; scripts and styles come only from our own `/static`.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                content_type = next(
                    (value for name, value in headers if name.lower() == b"content-type"), b""
                )
                if content_type.startswith(b"text/html"):
                    headers += [(k, v) for k, v in _HEADERS.items() if k not in present]
                    if b"cache-control" not in present:
                        headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


__all__ = [
    "CSRF_FIELD",
    "CSRF_HEADER",
    "SAFE_METHODS",
    "SESSION_COOKIE",
    "SESSION_MAX_AGE",
    "USER_KEY",
    "AdminCredentials",
    "AdminDisabledError",
    "CsrfProtector",
    "LoginRateLimiter",
    "SecurityHeadersMiddleware",
    "safe_next",
]
