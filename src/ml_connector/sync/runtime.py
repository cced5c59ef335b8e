"""Everything a job handler needs, built once per process: the per-connection seams.

`Runtime` owns the engine, the cipher, the durable token store, the shared rate budget,
the clock and the HTTP transports (None in production; in-process emulator transports in
tests and the demo). Handlers ask it for a connection's FreshBooks and Ramp clients
instead of building their own, so credentials, budgets and token single-flight are the
same everywhere.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import anyio
import httpx2
from sqlalchemy.ext.asyncio import AsyncEngine

from ml_connector.clients.freshbooks import FreshBooksClient
from ml_connector.clients.ramp import RampClient
from ml_connector.core.clock import Clock, system_clock
from ml_connector.core.errors import ConfigurationError, NeedsAttentionError
from ml_connector.settings import Settings
from ml_connector.store import Cipher, DbRateLimiter, DbTokenStore, read, token_key
from ml_connector.store import connections as connections_store
from ml_connector.store import credentials as credentials_store
from ml_connector.store.connections import Connection
from ml_connector.store.ratebudget import Sleep

RAMP_CLIENT_ID = "ramp_client_id"
RAMP_CLIENT_SECRET = "ramp_client_secret"  # noqa: S105 - the credential kind's name

BACKGROUND_SHARE = 0.6
"""The part of a FreshBooks budget (about 50 requests / 10 s) listings may fill. At a
backfill's start the page listing, the full sweep it asks for and a fresh connection's
setup had used the whole window, and every bill job waiting on one call (its vendor's
recent bills, for the payment terms) sat idle for seconds; listings run far ahead of
what Ramp's limit lets the syncs write, so holding them to part of the budget costs
nothing."""
"""Credential kinds under which a connection's Ramp API client is stored (encrypted)."""


@dataclass(frozen=True)
class Transports:
    """Optional transports per vendor; None means the real network."""

    freshbooks: httpx2.AsyncBaseTransport | None = None
    ramp: httpx2.AsyncBaseTransport | None = None


def ramp_budget_key(connection: Connection) -> str:
    return f"ramp:{connection.ramp_business_id or f'connection-{connection.id}'}"


def freshbooks_budget_key(connection: Connection) -> str:
    return f"freshbooks:{connection.freshbooks_account_id or f'connection-{connection.id}'}"


@dataclass
class Runtime:
    engine: AsyncEngine
    settings: Settings
    cipher: Cipher
    token_store: DbTokenStore
    rate_limiter: DbRateLimiter
    clock: Clock = system_clock
    transports: Transports = field(default_factory=Transports)

    @classmethod
    def build(
        cls,
        engine: AsyncEngine,
        settings: Settings,
        *,
        clock: Clock = system_clock,
        transports: Transports | None = None,
        sleep: Sleep = anyio.sleep,
    ) -> Runtime:
        """`sleep` is how waits (rate budget, token lease polls) pass; tests move a clock."""
        cipher = Cipher(settings.resolved_encryption_keys())
        return cls(
            engine=engine,
            settings=settings,
            cipher=cipher,
            token_store=DbTokenStore(engine, cipher, clock=clock, sleep=sleep),
            rate_limiter=DbRateLimiter(engine, clock=clock, sleep=sleep),
            clock=clock,
            transports=transports or Transports(),
        )

    async def connection(self, connection_id: int) -> Connection:
        async with read(self.engine) as db:
            return await connections_store.get(db, connection_id)

    def freshbooks_client(
        self, connection: Connection, *, background: bool = False
    ) -> FreshBooksClient:
        """The FreshBooks client acting for `connection` (tokens from the token store).

        `background`: for listings no job waits on (the backfill's pages, the sweep),
        which fill at most `BACKGROUND_SHARE` of the FreshBooks budget.
        """
        s = self.settings
        if not s.freshbooks_client_id or s.freshbooks_client_secret is None:
            raise ConfigurationError(
                "FreshBooks app credentials are not configured: set MLC_FRESHBOOKS_CLIENT_ID "
                "and MLC_FRESHBOOKS_CLIENT_SECRET"
            )
        return FreshBooksClient(
            client_id=s.freshbooks_client_id,
            client_secret=s.freshbooks_client_secret.get_secret_value(),
            redirect_uri=self.freshbooks_redirect_uri,
            token_store=self.token_store,
            token_key=token_key("freshbooks", connection.id),
            api_base_url=s.freshbooks_api_base_url,
            auth_base_url=s.freshbooks_auth_base_url,
            transport=self.transports.freshbooks,
            clock=self.clock,
            rate_limiter=self.rate_limiter,
            rate_limit_key=freshbooks_budget_key(connection),
            rate_limit_share=BACKGROUND_SHARE if background else 1.0,
        )

    @property
    def freshbooks_redirect_uri(self) -> str:
        return f"{self.settings.public_url.rstrip('/')}/oauth/freshbooks/callback"

    async def ramp_client(self, connection: Connection) -> RampClient:
        """The Ramp client of `connection`'s Ramp business (API client from credentials)."""
        async with read(self.engine) as db:
            client_id = await credentials_store.get(
                db, self.cipher, connection_id=connection.id, kind=RAMP_CLIENT_ID
            )
            client_secret = await credentials_store.get(
                db, self.cipher, connection_id=connection.id, kind=RAMP_CLIENT_SECRET
            )
        if client_id is None or client_secret is None:
            raise NeedsAttentionError(
                f"connection {connection.name!r} has no Ramp API client: run "
                "`ml-connector connect ramp` or enter it on the Connections page",
                code="ramp_not_connected",
            )
        return RampClient(
            client_id=client_id.get_secret_value(),
            client_secret=client_secret.get_secret_value(),
            token_store=self.token_store,
            token_key=token_key("ramp", connection.id),
            base_url=self.settings.ramp_api_base_url,
            transport=self.transports.ramp,
            clock=self.clock,
            rate_limiter=self.rate_limiter,
            rate_limit_key=ramp_budget_key(connection),
        )

    @asynccontextmanager
    async def clients(
        self, connection: Connection
    ) -> AsyncIterator[tuple[FreshBooksClient, RampClient]]:
        """Both clients of a connection, closed on exit."""
        fb = self.freshbooks_client(connection)
        try:
            ramp = await self.ramp_client(connection)
            try:
                yield fb, ramp
            finally:
                await ramp.aclose()
        finally:
            await fb.aclose()


__all__ = [
    "BACKGROUND_SHARE",
    "RAMP_CLIENT_ID",
    "RAMP_CLIENT_SECRET",
    "Runtime",
    "Transports",
    "freshbooks_budget_key",
    "ramp_budget_key",
]
