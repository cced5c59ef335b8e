"""`FreshBooksClient`: one FreshBooks connection (one user's authorization) over httpx2.

Layers, outermost first: resource methods → `ApiSession` (classify, decode) →
`FreshBooksAuth` (bearer token, refresh ahead of expiry and once on 401, through the
token store) → `RateLimitedTransport` (every real request books the budget, refresh
calls included) → the network transport, or the one a test passes in. Retrying a failed
call is the caller's decision (the job queue honours `RetriableError.retry_after`); this
client only classifies.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from types import TracebackType
from typing import Self

import httpx2

from ml_connector.clients.freshbooks.auth import DEFAULT_REFRESH_MARGIN, FreshBooksAuth, renew_with
from ml_connector.clients.freshbooks.callbacks import Callbacks
from ml_connector.clients.freshbooks.identity import BusinessRef, businesses_of
from ml_connector.clients.freshbooks.models import (
    Bill,
    BillPayment,
    BillVendor,
    Expense,
    Identity,
)
from ml_connector.clients.freshbooks.oauth import FreshBooksOAuth, authorization_url
from ml_connector.clients.freshbooks.resources import (
    CategoryResource,
    LedgerAccounts,
    TaxResource,
    VisStateResource,
    parse_one,
)
from ml_connector.clients.freshbooks.resources import bill_payments as _bill_payments
from ml_connector.clients.freshbooks.resources import bill_vendors as _bill_vendors
from ml_connector.clients.freshbooks.resources import bills as _bills
from ml_connector.clients.freshbooks.resources import categories as _categories
from ml_connector.clients.freshbooks.resources import expenses as _expenses
from ml_connector.clients.freshbooks.resources import taxes as _taxes
from ml_connector.clients.freshbooks.session import ApiSession, RateLimitedTransport
from ml_connector.clients.http import make_async_client, network_transport
from ml_connector.core.clock import Clock, system_clock
from ml_connector.core.errors import TransientApiError
from ml_connector.core.ratelimit import RateLimiter
from ml_connector.core.tokens import TokenSet, TokenStore

API_BASE_URL = "https://api.freshbooks.com"
AUTH_BASE_URL = "https://auth.freshbooks.com"
IDENTITY_PATH = "/auth/api/v1/users/me"


class FreshBooksClient:
    """Everything the connector asks of FreshBooks for one connection.

    Args:
        client_id, client_secret, redirect_uri: the FreshBooks app's credentials.
        token_store: where this connection's tokens live; it serializes refreshes.
        token_key: the connection's key in the store, e.g. `fb:<connection id>`.
        api_base_url, auth_base_url: hosts (emulators and sandboxes override them).
        transport: an httpx2 transport; tests pass `ASGITransport` or `MockTransport`.
        clock: injected time, for expiry and `Retry-After` dates.
        refresh_margin: refresh this long before the access token expires.
        rate_limiter: books every request under `rate_limit_key` (default `token_key`),
            filling at most `rate_limit_share` of the budget.
    """

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        redirect_uri: str,
        token_store: TokenStore,
        token_key: str,
        api_base_url: str = API_BASE_URL,
        auth_base_url: str = AUTH_BASE_URL,
        transport: httpx2.AsyncBaseTransport | None = None,
        clock: Clock = system_clock,
        refresh_margin: timedelta = DEFAULT_REFRESH_MARGIN,
        rate_limiter: RateLimiter | None = None,
        rate_limit_key: str | None = None,
        rate_limit_share: float = 1.0,
    ) -> None:
        self._client_id = client_id
        self._redirect_uri = redirect_uri
        self._auth_base_url = auth_base_url
        self._token_store = token_store
        self._token_key = token_key
        inner: httpx2.AsyncBaseTransport = transport or network_transport()
        if rate_limiter is not None:
            inner = RateLimitedTransport(
                inner, rate_limiter, rate_limit_key or token_key, rate_limit_share
            )
        self._http = make_async_client(api_base_url.rstrip("/"), transport=inner)
        self.oauth = FreshBooksOAuth(
            self._http,
            client_id=client_id,
            client_secret=client_secret,
            redirect_uri=redirect_uri,
            clock=clock,
        )
        self.auth = FreshBooksAuth(
            store=token_store,
            key=token_key,
            renew=renew_with(self.oauth),
            clock=clock,
            refresh_margin=refresh_margin,
        )
        self._session = ApiSession(self._http, auth=self.auth, clock=clock)

    def __repr__(self) -> str:
        return f"FreshBooksClient(client_id={self._client_id!r}, token_key={self._token_key!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- OAuth -----------------------------------------------------------------------

    def authorization_url(
        self, *, state: str, scopes: Sequence[str] = (), code_challenge: str | None = None
    ) -> str:
        """The consent URL; see `oauth.authorization_url`."""
        return authorization_url(
            self._auth_base_url,
            client_id=self._client_id,
            redirect_uri=self._redirect_uri,
            state=state,
            scopes=scopes,
            code_challenge=code_challenge,
        )

    async def exchange_code(self, code: str, *, code_verifier: str | None = None) -> TokenSet:
        """Trade the callback's code for tokens and persist them; returns the stored set."""
        tokens = await self.oauth.exchange_code(code, code_verifier=code_verifier)
        return await self._token_store.save(self._token_key, tokens)

    async def revoke(self) -> None:
        """Revoke the stored refresh token, then the access token (disconnect).

        Revoking the refresh token ends the grant; the access token is revoked as well so
        it cannot be used for the hours it would otherwise stay valid.
        """
        tokens = await self._token_store.load(self._token_key)
        if tokens is None:
            return
        if tokens.refresh_token:
            await self.oauth.revoke(tokens.refresh_token)
        await self.oauth.revoke(tokens.access_token)

    # --- identity --------------------------------------------------------------------

    async def identity(self) -> Identity:
        """`/auth/api/v1/users/me` (envelope `{"response": {...}}`, no `result`)."""
        body = await self._session.call("GET", IDENTITY_PATH)
        what = f"GET {IDENTITY_PATH}"
        if not isinstance(body, dict) or "response" not in body:
            raise TransientApiError(
                f"FreshBooks {what}: answer lacks `response`", system="freshbooks"
            )
        return parse_one(body["response"], Identity, what)

    async def businesses(self) -> list[BusinessRef]:
        """The businesses this connection can reach, ids resolved (roles fallback included)."""
        return businesses_of(await self.identity())

    # --- resources -------------------------------------------------------------------

    def bills(self, account_id: str) -> VisStateResource[Bill]:
        return _bills(self._session, account_id)

    def bill_vendors(self, account_id: str) -> VisStateResource[BillVendor]:
        return _bill_vendors(self._session, account_id)

    def bill_payments(self, account_id: str) -> VisStateResource[BillPayment]:
        return _bill_payments(self._session, account_id)

    def expenses(self, account_id: str) -> VisStateResource[Expense]:
        return _expenses(self._session, account_id)

    def categories(self, account_id: str) -> CategoryResource:
        return _categories(self._session, account_id)

    def taxes(self, account_id: str) -> TaxResource:
        return _taxes(self._session, account_id)

    def ledger_accounts(self, business_uuid: str) -> LedgerAccounts:
        return LedgerAccounts(self._session, business_uuid)

    def callbacks(self, account_id: str) -> Callbacks:
        return Callbacks(self._session, account_id)


__all__ = ["API_BASE_URL", "AUTH_BASE_URL", "IDENTITY_PATH", "FreshBooksClient"]
