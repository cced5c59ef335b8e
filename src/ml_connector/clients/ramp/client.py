"""`RampClient`: one Ramp business, reached with one API app's client credentials.

The stack, outermost first: in-call retries (stamina, `requester`) → bearer auth with
token renewal (`auth`) → the rate-limit budget (`clients.ratelimit`, so every request
that leaves, token calls and retries included, is booked) → the network transport, or an
emulator's ASGI/mock transport in tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from types import TracebackType

import httpx2

from ml_connector.clients.http import DEFAULT_TIMEOUT, make_async_client, network_transport
from ml_connector.clients.ramp.accounting import AccountingApi
from ml_connector.clients.ramp.auth import ClientCredentialsAuth
from ml_connector.clients.ramp.bills import BillsApi
from ml_connector.clients.ramp.errors import (
    SYSTEM,
    RequestNotSentError,
    UnexpectedResponseError,
)
from ml_connector.clients.ramp.models import TokenResponse
from ml_connector.clients.ramp.org import DepartmentsApi, EntitiesApi, UsersApi
from ml_connector.clients.ramp.requester import Requester, RetryPolicy, parse_as
from ml_connector.clients.ramp.scopes import REQUIRED_SCOPES, MissingScope, missing
from ml_connector.clients.ramp.transactions import TransactionsApi
from ml_connector.clients.ramp.vendors import VendorsApi
from ml_connector.clients.ramp.webhooks import WebhooksApi
from ml_connector.clients.ratelimit import RateLimitedTransport, SlidingWindowLimiter
from ml_connector.core.clock import Clock, system_clock
from ml_connector.core.errors import (
    ApiError,
    ConfigurationError,
    MissingScopeError,
    RateLimitedError,
    TransientApiError,
)
from ml_connector.core.ratelimit import RateLimiter
from ml_connector.core.tokens import TokenSet, TokenStore

PRODUCTION_BASE_URL = "https://api.ramp.com"
SANDBOX_BASE_URL = "https://demo-api.ramp.com"
API_PATH = "/developer/v1"
DEFAULT_RENEW_MARGIN = timedelta(days=2)
"""Client-credentials tokens live 10 days; renewing with 2 left is renewing at 80 %."""

_NIL_UUID = "00000000-0000-0000-0000-000000000000"

# A request per scope whose answer tells whether the token holds that scope: Ramp checks
# the scope (403 DEVELOPER_7100) before it validates anything else. Writes are probed
# with bodies Ramp must reject, so a probe can never create or change anything.
_PROBES: dict[str, tuple[str, str, dict[str, object] | None]] = {
    "accounting:read": ("GET", "accounting/accounts", None),
    "bills:read": ("GET", "bills", None),
    "departments:read": ("GET", "departments", None),
    "entities:read": ("GET", "entities", None),
    "transactions:read": ("GET", "transactions", None),
    "users:read": ("GET", "users", None),
    "vendors:read": ("GET", "vendors", None),
    "accounting:write": ("POST", "accounting/accounts", {}),
    "bills:write": ("POST", "bills", {}),
    "vendors:write": ("POST", "vendors", {}),
    "memos:write": ("POST", f"memos/{_NIL_UUID}", {}),
    "transactions:write": ("PATCH", f"transactions/{_NIL_UUID}", {}),
}


def api_root(base_url: str) -> str:
    """`https://host[/prefix]` + `/developer/v1/`, whether or not the caller included it."""
    root = base_url.rstrip("/")
    if root.endswith(API_PATH):
        root = root[: -len(API_PATH)]
    if not root.startswith(("https://", "http://")):
        raise ConfigurationError(f"Ramp base URL must be an http(s) URL, got {base_url!r}")
    return f"{root}{API_PATH}/"


class RampClient:
    """Typed access to the Ramp Developer API for one connection.

    Use as an async context manager (or call `aclose`). `rate_limiter` should be shared
    by every client of the same Ramp business (the store's limiter across processes);
    without one, this client keeps its own in-process budget.
    """

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        token_store: TokenStore,
        token_key: str,
        base_url: str = PRODUCTION_BASE_URL,
        transport: httpx2.AsyncBaseTransport | None = None,
        clock: Clock = system_clock,
        renew_margin: timedelta = DEFAULT_RENEW_MARGIN,
        rate_limiter: RateLimiter | None = None,
        rate_limit_key: str | None = None,
        scopes: Sequence[str] = REQUIRED_SCOPES,
        retry: RetryPolicy | None = None,
        timeout: httpx2.Timeout = DEFAULT_TIMEOUT,
    ) -> None:
        if not client_id or not client_secret:
            raise ConfigurationError("Ramp client_id and client_secret are required")
        self._client_id = client_id
        self._basic = httpx2.BasicAuth(client_id, client_secret)
        self._clock = clock
        self._token_key = token_key
        self.scopes: tuple[str, ...] = tuple(dict.fromkeys(scopes))
        self.rate_limiter: RateLimiter = rate_limiter or SlidingWindowLimiter()
        limited = RateLimitedTransport(
            transport or network_transport(),
            limiter=self.rate_limiter,
            key=rate_limit_key or token_key,
            clock=clock,
        )
        self.auth = ClientCredentialsAuth(
            token_store=token_store,
            token_key=token_key,
            fetch_token=self._mint_token,
            clock=clock,
            renew_margin=renew_margin,
        )
        http = make_async_client(
            api_root(base_url), transport=limited, timeout=timeout, auth=self.auth
        )
        self._requester = Requester(
            http, api_path=API_PATH, clock=clock, retry=retry or RetryPolicy()
        )
        self.vendors = VendorsApi(self._requester)
        self.bills = BillsApi(self._requester)
        self.accounting = AccountingApi(self._requester)
        self.fields = self.accounting.fields
        self.departments = DepartmentsApi(self._requester)
        self.entities = EntitiesApi(self._requester)
        self.users = UsersApi(self._requester)
        self.transactions = TransactionsApi(self._requester)
        self.webhooks = WebhooksApi(self._requester)

    def __repr__(self) -> str:
        return f"RampClient(client_id={self._client_id!r}, token_key={self._token_key!r})"

    async def __aenter__(self) -> RampClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._requester.http.aclose()

    async def _mint_token(self, scopes: Sequence[str] | None = None) -> TokenSet:
        """One client-credentials token request (Basic auth, form body)."""
        requested = self.scopes if scopes is None else tuple(scopes)
        form = {"grant_type": "client_credentials"}
        if requested:
            form["scope"] = " ".join(requested)
        try:
            body = await self._requester.send_once("POST", "token", data=form, auth=self._basic)
        except RateLimitedError:
            raise
        except TransientApiError as exc:
            # The call that needed the token was never sent, so it is safe to retry.
            raise RequestNotSentError(
                f"Ramp token endpoint unavailable: {exc}", system=SYSTEM, status=exc.status
            ) from exc
        token = parse_as(TokenResponse, body, what="token response")
        if token.token_type.lower() != "bearer":
            raise UnexpectedResponseError(
                f"Ramp issued a {token.token_type!r} token, expected a bearer token", system=SYSTEM
            )
        return TokenSet(
            access_token=token.access_token,
            expires_at=self._clock() + timedelta(seconds=token.expires_in),
            scope=token.scope,
        )

    async def token(self) -> TokenSet:
        """The current token, minted or renewed first if it is missing or near expiry."""
        return await self.auth.token()

    async def check_scopes(self) -> list[MissingScope]:
        """The configured scopes this API app may not use, each with what to do about it.

        Mints a fresh token first, so scopes an administrator just added are seen. Ramp
        either refuses the scope at the token endpoint (documented) or mints the token
        and refuses at the resource with 403 `DEVELOPER_7100` (observed live); when the
        token response lists its scopes that list is trusted, otherwise each scope is
        probed with a request that cannot change anything.
        """
        try:
            stored = await self.auth.token()
            tokens, _ = await self.auth.renew_after_rejection(stored)
        except MissingScopeError:
            return missing([s for s in self.scopes if not await self._mintable(s)])
        if tokens.scope is not None:
            return missing([s for s in self.scopes if s not in tokens.scopes])
        return missing([s for s in self.scopes if not await self._probe(s)])

    async def _mintable(self, scope: str) -> bool:
        try:
            await self._mint_token([scope])
        except MissingScopeError:
            return False
        return True

    async def _probe(self, scope: str) -> bool:
        probe = _PROBES.get(scope)
        if probe is None:
            return True  # nothing to probe with; Ramp will say so on first use
        method, path, body = probe
        params = {"page_size": 2} if method == "GET" else None
        try:
            await self._requester.request(
                method, path, params=params, json_body=body, idempotent=method == "GET"
            )
        except MissingScopeError:
            return False
        except ApiError as exc:
            if isinstance(exc, TransientApiError | RateLimitedError) or exc.status in (401, None):
                raise
            return True
        return True


__all__ = [
    "API_PATH",
    "DEFAULT_RENEW_MARGIN",
    "PRODUCTION_BASE_URL",
    "SANDBOX_BASE_URL",
    "RampClient",
    "api_root",
]
