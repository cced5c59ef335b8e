"""The OAuth 2.0 authorization server: codes, token pairs, rotation, revocation.

FreshBooks' rules reproduced: codes live 5 minutes and work once; access tokens live
12 hours (`expires_in` 43200 with `created_at` in epoch seconds); refresh tokens never
expire but work once, and issuing any new pair for the same user and app invalidates
every older refresh token, so a reused or superseded one gets `400 invalid_grant`.
`client_secret` is always required (no public clients).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ml_connector_emulators.clock import EmulatorClock
from ml_connector_emulators.freshbooks.counters import Counters

ACCESS_TOKEN_SECONDS = 43200
CODE_TTL = timedelta(minutes=5)

_OBJECTS = (
    "bill_payments",
    "bill_vendors",
    "billable_items",
    "bills",
    "business",
    "clients",
    "credit_notes",
    "estimates",
    "expenses",
    "invoices",
    "journal_entries",
    "notifications",
    "online_payments",
    "other_income",
    "payments",
    "profile",
    "projects",
    "reports",
    "retainers",
    "taxes",
    "teams",
    "time_entries",
)
_READ_ONLY = frozenset({"profile", "notifications", "reports"})
KNOWN_SCOPES = frozenset(
    f"user:{obj}:{mode}"
    for obj in _OBJECTS
    for mode in ("read", "write")
    if mode == "read" or obj not in _READ_ONLY
)
DEFAULT_APP_SCOPES = (
    "user:profile:read",
    "user:business:read",
    "user:bills:read",
    "user:bills:write",
    "user:bill_vendors:read",
    "user:bill_vendors:write",
    "user:bill_payments:read",
    "user:bill_payments:write",
    "user:expenses:read",
    "user:expenses:write",
    "user:taxes:read",
    "user:taxes:write",
    "user:teams:read",
    "user:journal_entries:read",
    "user:reports:read",
)


class OAuthError(Exception):
    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.description = description

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


@dataclass
class RegisteredApp:
    client_id: str
    client_secret: str = field(repr=False)
    redirect_uris: list[str]
    scopes: tuple[str, ...] = DEFAULT_APP_SCOPES
    name: str = "ml-connector (sandbox)"


@dataclass
class _Code:
    client_id: str
    redirect_uri: str
    identity_id: int
    scopes: tuple[str, ...]
    expires_at: datetime
    used: bool = False


@dataclass
class AccessToken:
    client_id: str
    identity_id: int
    scopes: tuple[str, ...]
    created_at: datetime
    expires_at: datetime
    revoked: bool = False


@dataclass
class _Refresh:
    client_id: str
    identity_id: int
    scopes: tuple[str, ...]
    spent: bool = False
    access_tokens: list[str] = field(default_factory=list)


class OAuthServer:
    def __init__(
        self, app: RegisteredApp, clock: EmulatorClock, rng: random.Random, counters: Counters
    ) -> None:
        self.app = app
        self._clock = clock
        self._rng = rng
        self._counters = counters
        self._codes: dict[str, _Code] = {}
        self._access: dict[str, AccessToken] = {}
        self._refresh: dict[str, _Refresh] = {}
        self._current: dict[tuple[str, int], str] = {}  # (client, identity) -> live refresh
        self._signing_key = self._hex(32).encode()

    def _hex(self, nbytes: int) -> str:
        return f"{self._rng.getrandbits(nbytes * 8):0{nbytes * 2}x}"

    # --- authorize -------------------------------------------------------------------

    def check_authorize(
        self, client_id: str | None, redirect_uri: str | None, scope: str | None
    ) -> tuple[str, ...]:
        """Validate an authorize request; the scopes it grants (registered ones if none)."""
        if client_id != self.app.client_id:
            raise OAuthError(
                400, "invalid_client", "Client authentication failed due to unknown client."
            )
        if not redirect_uri or redirect_uri not in self.app.redirect_uris:
            raise OAuthError(
                400,
                "invalid_request",
                "The redirect_uri does not match any URI registered for this application.",
            )
        return self.scopes_for(scope)

    def scopes_for(self, scope: str | None) -> tuple[str, ...]:
        if not scope or not scope.strip():
            return self.app.scopes
        wanted = tuple(scope.split())
        if any(s not in KNOWN_SCOPES or s not in self.app.scopes for s in wanted):
            raise OAuthError(
                400, "invalid_scope", "The requested scope is invalid, unknown, or malformed."
            )
        return wanted

    def issue_code(
        self, client_id: str, redirect_uri: str, identity_id: int, scopes: tuple[str, ...]
    ) -> str:
        code = self._hex(32)
        self._codes[code] = _Code(
            client_id, redirect_uri, identity_id, scopes, self._clock.now() + CODE_TTL
        )
        return code

    # --- token endpoint -----------------------------------------------------------------

    def _check_client(self, form: dict[str, str]) -> None:
        if form.get("client_id") != self.app.client_id:
            raise OAuthError(
                401, "invalid_client", "Client authentication failed due to unknown client."
            )
        secret = form.get("client_secret")
        if not secret or not hmac.compare_digest(secret, self.app.client_secret):
            raise OAuthError(
                401,
                "invalid_client",
                "Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.",
            )

    def token(self, form: dict[str, str]) -> dict[str, Any]:
        grant_type = form.get("grant_type")
        if grant_type not in {"authorization_code", "refresh_token"}:
            raise OAuthError(
                400,
                "unsupported_grant_type",
                "The authorization grant type is not supported by the authorization server.",
            )
        self._check_client(form)
        if grant_type == "authorization_code":
            return self._exchange(form)
        return self._rotate(form)

    def _exchange(self, form: dict[str, str]) -> dict[str, Any]:
        invalid = OAuthError(
            400,
            "invalid_grant",
            "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.",
        )
        code = self._codes.get(form.get("code") or "")
        if code is None or code.used or code.client_id != form.get("client_id"):
            raise invalid
        if self._clock.now() >= code.expires_at or code.redirect_uri != form.get("redirect_uri"):
            raise invalid
        code.used = True
        self._counters.code_exchanges += 1
        return self._issue(code.client_id, code.identity_id, code.scopes)

    def _rotate(self, form: dict[str, str]) -> dict[str, Any]:
        token = form.get("refresh_token") or ""
        record = self._refresh.get(token)
        if record is None or record.client_id != form.get("client_id"):
            raise OAuthError(
                400,
                "invalid_grant",
                "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.",
            )
        live = self._current.get((record.client_id, record.identity_id)) == token
        if record.spent or not live:
            self._counters.refresh_token_reuses += 1
            raise OAuthError(
                400,
                "invalid_grant",
                "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.",
            )
        redirect_uri = form.get("redirect_uri")
        if redirect_uri is not None and redirect_uri not in self.app.redirect_uris:
            raise OAuthError(
                400,
                "invalid_grant",
                "The redirect_uri does not match the one used in the authorization request.",
            )
        record.spent = True
        self._counters.refreshes += 1
        return self._issue(record.client_id, record.identity_id, record.scopes)

    def _issue(self, client_id: str, identity_id: int, scopes: tuple[str, ...]) -> dict[str, Any]:
        now = self._clock.now()
        created_at = int(now.timestamp())
        access = self._jwt(identity_id, created_at)
        refresh = self._hex(32)
        self._access[access] = AccessToken(
            client_id, identity_id, scopes, now, now + timedelta(seconds=ACCESS_TOKEN_SECONDS)
        )
        self._refresh[refresh] = _Refresh(client_id, identity_id, scopes, access_tokens=[access])
        self._current[(client_id, identity_id)] = refresh
        return {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": ACCESS_TOKEN_SECONDS,
            "refresh_token": refresh,
            "scope": " ".join(scopes),
            "created_at": created_at,
        }

    def _jwt(self, identity_id: int, issued: int) -> str:
        """Access tokens look like FreshBooks' JWTs, but clients must treat them as opaque."""

        def part(data: bytes) -> str:
            return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

        header = part(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        claims = part(
            json.dumps(
                {
                    "iss": "freshbooks-emulator",
                    "sub": identity_id,
                    "iat": issued,
                    "exp": issued + ACCESS_TOKEN_SECONDS,
                    "jti": self._hex(8),
                }
            ).encode()
        )
        signature = hmac.new(self._signing_key, f"{header}.{claims}".encode(), hashlib.sha256)
        return f"{header}.{claims}.{part(signature.digest())}"

    # --- revoke, expiry, lookup ------------------------------------------------------------

    def revoke(self, form: dict[str, str]) -> None:
        self._check_client(form)
        token = form.get("token") or ""
        self._counters.revocations += 1
        if token in self._access:
            self._access[token].revoked = True
        elif token in self._refresh:
            record = self._refresh[token]
            record.spent = True
            for access in record.access_tokens:
                self._access[access].revoked = True

    def expire_all_now(self) -> int:
        now = self._clock.now()
        live = [t for t in self._access.values() if t.expires_at > now]
        for token in live:
            token.expires_at = now
        return len(live)

    def authenticate(self, bearer: str | None) -> AccessToken | None:
        if not bearer:
            return None
        token = self._access.get(bearer)
        if token is None or token.revoked or self._clock.now() >= token.expires_at:
            return None
        return token


__all__ = [
    "ACCESS_TOKEN_SECONDS",
    "DEFAULT_APP_SCOPES",
    "KNOWN_SCOPES",
    "AccessToken",
    "OAuthError",
    "OAuthServer",
    "RegisteredApp",
]
