"""FreshBooks OAuth 2.0: the authorize URL, code exchange, refresh and revoke calls.

Token calls go to the API host (`/auth/oauth/token`, `/auth/oauth/revoke`) form-encoded;
the browser goes to the auth host (`/oauth/authorize`). Refresh tokens are single-use and
rotate, so this module only *performs* calls; persisting their result before use is the
token store's job (see `core.tokens.TokenStore.refresh`).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx2

from ml_connector.clients.freshbooks.errors import SYSTEM, classify_response
from ml_connector.core.clock import Clock
from ml_connector.core.errors import ConfigurationError, TransientApiError
from ml_connector.core.tokens import TokenSet

AUTHORIZE_PATH = "/oauth/authorize"
TOKEN_PATH = "/auth/oauth/token"  # noqa: S105 - a URL path, not a secret
REVOKE_PATH = "/auth/oauth/revoke"

CONNECTOR_SCOPES = (
    "user:profile:read",
    "user:bills:read",
    "user:bill_vendors:read",
    "user:bill_payments:read",
    "user:expenses:read",
    "user:taxes:read",
)
"""What the one-way sync reads; webhooks need the same `:read` scopes as their resources."""


def validate_redirect_uri(redirect_uri: str) -> str:
    """FreshBooks appends `code` and `state` itself and rejects redirect URIs with a query."""
    parts = urlsplit(redirect_uri)
    if not parts.scheme or not parts.netloc:
        raise ConfigurationError("the FreshBooks redirect URI must be an absolute URL")
    if parts.query or parts.fragment:
        raise ConfigurationError("the FreshBooks redirect URI must not have a query or fragment")
    return redirect_uri


def new_code_verifier(token_bytes: Callable[[int], bytes] = secrets.token_bytes) -> str:
    """A PKCE code verifier (RFC 7636: 43-128 unreserved characters) from 32 random bytes."""
    return base64.urlsafe_b64encode(token_bytes(32)).rstrip(b"=").decode("ascii")


def code_challenge_s256(code_verifier: str) -> str:
    """The S256 PKCE challenge of `code_verifier`."""
    digest = hashlib.sha256(code_verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def authorization_url(
    auth_base_url: str,
    *,
    client_id: str,
    redirect_uri: str,
    state: str,
    scopes: Sequence[str] = (),
    code_challenge: str | None = None,
) -> str:
    """The consent URL to send the user's browser to.

    `state` is required: it is how the callback is tied to the session that started it.
    Scopes omitted means "the app's registered scopes". PKCE (S256) is sent when a
    challenge is given; FreshBooks accepts it and still requires the client secret.
    """
    if not state:
        raise ConfigurationError("an OAuth state value is required")
    params: list[tuple[str, str]] = [
        ("client_id", client_id),
        ("response_type", "code"),
        ("redirect_uri", validate_redirect_uri(redirect_uri)),
        ("state", state),
    ]
    if scopes:
        params.append(("scope", " ".join(scopes)))
    if code_challenge:
        params += [("code_challenge", code_challenge), ("code_challenge_method", "S256")]
    return f"{auth_base_url.rstrip('/')}{AUTHORIZE_PATH}?{urlencode(params)}"


def token_set_from_response(body: object, now: datetime) -> TokenSet:
    """A `TokenSet` from a token endpoint answer.

    Expiry is `created_at + expires_in` (epoch seconds): a refresh may return the original
    `created_at` with a decremented `expires_in`, so `now + expires_in` would be wrong.
    `now` is used only when `created_at` is absent.
    """
    if not isinstance(body, Mapping):
        raise TransientApiError("FreshBooks token endpoint returned no token object", system=SYSTEM)
    access = body.get("access_token")
    expires_in = body.get("expires_in")
    if not isinstance(access, str) or not access or not isinstance(expires_in, int):
        raise TransientApiError(
            "FreshBooks token endpoint answer lacks access_token or expires_in", system=SYSTEM
        )
    created_at = body.get("created_at")
    issued = (
        datetime.fromtimestamp(created_at, UTC)
        if isinstance(created_at, int) and not isinstance(created_at, bool)
        else now
    )
    refresh = body.get("refresh_token")
    scope = body.get("scope")
    token_type = body.get("token_type")
    return TokenSet(
        access_token=access,
        refresh_token=refresh if isinstance(refresh, str) and refresh else None,
        expires_at=issued + timedelta(seconds=expires_in),
        scope=scope if isinstance(scope, str) else None,
        token_type=token_type if isinstance(token_type, str) and token_type else "Bearer",
    )


class FreshBooksOAuth:
    """The token endpoint calls, over an `httpx2.AsyncClient` based on the API host.

    The client it is given must not carry the API auth flow: token calls authenticate
    with the client secret, never with a bearer token.
    """

    def __init__(
        self,
        http: httpx2.AsyncClient,
        *,
        client_id: str,
        client_secret: str,
        redirect_uri: str,
        clock: Clock,
    ) -> None:
        self._http = http
        self._client_id = client_id
        self._client_secret = client_secret
        self._redirect_uri = validate_redirect_uri(redirect_uri)
        self._clock = clock

    def __repr__(self) -> str:
        return f"FreshBooksOAuth(client_id={self._client_id!r})"

    async def _post(self, path: str, form: dict[str, str], *, sent: Sequence[str]) -> Any:
        try:
            response = await self._http.post(
                path, data=form, headers={"Accept": "application/json"}
            )
        except httpx2.TransportError as exc:
            raise TransientApiError(
                f"FreshBooks POST {path} did not complete: {type(exc).__name__}", system=SYSTEM
            ) from exc
        body, error = classify_response(
            response, now=self._clock(), what=f"POST {path}", secrets=sent
        )
        if error is not None:
            raise error
        return body

    async def exchange_code(self, code: str, *, code_verifier: str | None = None) -> TokenSet:
        """Trade an authorization code (5-minute, single-use) for a token pair."""
        form = {
            "grant_type": "authorization_code",
            "client_id": self._client_id,
            "client_secret": self._client_secret,
            "code": code,
            "redirect_uri": self._redirect_uri,
        }
        if code_verifier:
            form["code_verifier"] = code_verifier
        body = await self._post(
            TOKEN_PATH, form, sent=(self._client_secret, code, code_verifier or "")
        )
        return token_set_from_response(body, self._clock())

    async def refresh(self, refresh_token: str) -> TokenSet:
        """Spend `refresh_token` for a new pair. The caller must persist the result first.

        `redirect_uri` is sent although FreshBooks does not need it: both official SDKs
        send it, and it costs nothing. An answer without a new refresh token is still
        returned (its access token is good for hours); the next refresh then asks for a
        reconnection instead of losing the working access token now.
        """
        form = {
            "grant_type": "refresh_token",
            "client_id": self._client_id,
            "client_secret": self._client_secret,
            "refresh_token": refresh_token,
            "redirect_uri": self._redirect_uri,
        }
        body = await self._post(TOKEN_PATH, form, sent=(self._client_secret, refresh_token))
        return token_set_from_response(body, self._clock())

    async def revoke(self, token: str) -> None:
        """Revoke an access or refresh token; FreshBooks answers `200 {}`."""
        form = {"client_id": self._client_id, "client_secret": self._client_secret, "token": token}
        await self._post(REVOKE_PATH, form, sent=(self._client_secret, token))


__all__ = [
    "AUTHORIZE_PATH",
    "CONNECTOR_SCOPES",
    "REVOKE_PATH",
    "TOKEN_PATH",
    "FreshBooksOAuth",
    "authorization_url",
    "code_challenge_s256",
    "new_code_verifier",
    "token_set_from_response",
    "validate_redirect_uri",
]
