"""The product against both emulators in-process: one world, one clock, one database.

    async with Harness.start(database_url, scenario="services-firm") as h:
        await h.connect()                 # real OAuth code flow + Ramp API client stored
        h.runtime                         # what job handlers get
        h.route_webhooks_to(product_app)  # emulator deliveries → our web app, in-process

Both emulators and the product read the same frozen `EmulatorClock`, so token expiry,
rate windows and retry schedules agree and tests move time instead of sleeping.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from ml_connector.settings import Settings
from ml_connector.store import connections as connections_store
from ml_connector.store import credentials as credentials_store
from ml_connector.store import make_engine
from ml_connector.store.connections import Connection, ConnectionStatus
from ml_connector.sync.runtime import RAMP_CLIENT_ID, RAMP_CLIENT_SECRET, Runtime, Transports
from ml_connector_emulators.clock import EmulatorClock
from ml_connector_emulators.freshbooks import FreshBooksWorld
from ml_connector_emulators.freshbooks import create_app as create_freshbooks_app
from ml_connector_emulators.ramp import RampWorld
from ml_connector_emulators.ramp import create_app as create_ramp_app

T0 = datetime(2026, 11, 2, 14, 0, tzinfo=UTC)
"""A Monday after the services-firm roster's last purchase (2026-10-31)."""

PUBLIC_URL = "https://connector.test"
FRESHBOOKS_API = "https://api.freshbooks.com"
FRESHBOOKS_AUTH = "https://auth.freshbooks.com"
RAMP_API = "https://api.ramp.com/developer/v1"
TEST_KEY = "yGqtS6LzT2cLJ3wqYyTQaJpP0j1dB0yq3f8m7t7bJ0Y="
"""A fixed Fernet key so tests never write a key file."""


class DeferredTransport(httpx2.AsyncBaseTransport):
    """A transport whose target is chosen later (the product app is built after the worlds)."""

    def __init__(self) -> None:
        self.target: httpx2.AsyncBaseTransport | None = None

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if self.target is None:
            return httpx2.Response(503, text="no webhook receiver attached")
        return await self.target.handle_async_request(request)


@dataclass
class Harness:
    clock: EmulatorClock
    freshbooks: FreshBooksWorld
    ramp: RampWorld
    freshbooks_transport: httpx2.ASGITransport
    ramp_transport: httpx2.ASGITransport
    webhook_target: DeferredTransport
    engine: AsyncEngine
    settings: Settings
    runtime: Runtime
    connection: Connection | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    @asynccontextmanager
    async def start(
        cls,
        database_url: str,
        *,
        scenario: str = "services-firm",
        data_dir: Path | None = None,
        now: datetime = T0,
    ) -> AsyncIterator[Harness]:
        clock = EmulatorClock(frozen=now)
        webhook_target = DeferredTransport()
        redirect_uri = f"{PUBLIC_URL}/oauth/freshbooks/callback"
        fb_world = FreshBooksWorld(
            scenario=scenario,
            clock=clock,
            webhook_transport=webhook_target,
            redirect_uris=(redirect_uri,),
        )
        ramp_world = RampWorld(
            scenario=scenario,
            clock=clock,
            webhook_transport=webhook_target,
            public_url="https://api.ramp.com",
        )
        fb_credentials = fb_world.credentials()
        settings = Settings(
            data_dir=data_dir or Path("./data"),
            database_url=database_url,
            public_url=PUBLIC_URL,
            encryption_keys=[SecretStr(TEST_KEY)],
            session_secret=SecretStr("test-session-secret"),
            freshbooks_client_id=fb_credentials["client_id"],
            freshbooks_client_secret=SecretStr(fb_credentials["client_secret"]),
            freshbooks_api_base_url=FRESHBOOKS_API,
            freshbooks_auth_base_url=FRESHBOOKS_AUTH,
            ramp_api_base_url=RAMP_API,
            admin_password=SecretStr("test-admin-password"),
        )
        fb_transport = httpx2.ASGITransport(app=create_freshbooks_app(fb_world))
        ramp_transport = httpx2.ASGITransport(app=create_ramp_app(ramp_world))
        engine = make_engine(database_url)

        async def advance(seconds: float) -> None:
            # Waits (a full rate budget, a token lease held elsewhere) move the shared
            # clock instead of sleeping: nothing in the harness waits in real time.
            clock.advance(max(seconds, 0.001))

        runtime = Runtime.build(
            engine,
            settings,
            clock=clock.now,
            transports=Transports(freshbooks=fb_transport, ramp=ramp_transport),
            sleep=advance,
        )
        try:
            yield cls(
                clock=clock,
                freshbooks=fb_world,
                ramp=ramp_world,
                freshbooks_transport=fb_transport,
                ramp_transport=ramp_transport,
                webhook_target=webhook_target,
                engine=engine,
                settings=settings,
                runtime=runtime,
            )
        finally:
            await engine.dispose()

    def route_webhooks_to(self, app: Any) -> None:
        """Deliver both emulators' webhooks to `app` (the product's ASGI app)."""
        self.webhook_target.target = httpx2.ASGITransport(app=app)

    async def approve_consent(self, authorize_url: str) -> str:
        """Act as the FreshBooks user: open the consent page, approve, return the code."""
        async with httpx2.AsyncClient(transport=self.freshbooks_transport) as browser:
            page = await browser.get(authorize_url)
            assert page.status_code == 200, page.text
            fields = {k: v[0] for k, v in parse_qs(urlsplit(authorize_url).query).items()}
            answer = await browser.post(
                str(page.url.copy_with(query=None)), data=fields | {"decision": "approve"}
            )
        assert answer.status_code == 302, answer.text
        query = parse_qs(urlsplit(answer.headers["location"]).query)
        return query["code"][0]

    async def connect(self, name: str = "Northbeam") -> Connection:
        """A connection authorized on both sides, as an operator would leave it."""
        now = self.clock.now()
        async with httpx2.AsyncClient(
            transport=self.ramp_transport, base_url="https://api.ramp.com"
        ) as http:
            ramp_credentials = (await http.get("/_sandbox/credentials")).json()
        async with self.engine.begin() as db:
            connection = await connections_store.create(db, name=name, now=now)
            await credentials_store.put(
                db,
                self.runtime.cipher,
                connection_id=connection.id,
                kind=RAMP_CLIENT_ID,
                secret=ramp_credentials["client_id"],
                now=now,
            )
            await credentials_store.put(
                db,
                self.runtime.cipher,
                connection_id=connection.id,
                kind=RAMP_CLIENT_SECRET,
                secret=ramp_credentials["client_secret"],
                now=now,
            )
        fb = self.runtime.freshbooks_client(connection)
        try:
            code = await self.approve_consent(fb.authorization_url(state="harness"))
            await fb.exchange_code(code)
            business = (await fb.businesses())[0]
        finally:
            await fb.aclose()
        async with self.engine.begin() as db:
            self.connection = await connections_store.update(
                db,
                connection.id,
                now=now,
                freshbooks_account_id=business.account_id,
                freshbooks_business_id=str(business.business_id),
                ramp_business_id=ramp_credentials["business_id"],
            )
            self.connection = await connections_store.set_status(
                db, connection.id, ConnectionStatus.ACTIVE, now=now
            )
        return self.connection

    async def setup(self, *, accept_suggestions: bool = True) -> Any:
        """Run the product's accounting setup on the connected connection (`SetupReport`)."""
        from ml_connector.sync.setup import setup_connection

        assert self.connection is not None, "call connect() first"
        return await setup_connection(
            self.runtime, self.connection.id, accept_suggestions=accept_suggestions
        )


__all__ = ["FRESHBOOKS_API", "PUBLIC_URL", "RAMP_API", "T0", "DeferredTransport", "Harness"]
