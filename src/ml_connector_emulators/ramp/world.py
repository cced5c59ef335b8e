"""`RampWorld`: every Ramp business the emulator hosts, plus the machinery around them.

One world serves the API app and its `/_sandbox` surface: businesses (each with its own API
clients, users, vendors, bills, accounting connections, card transactions), issued
tokens, the rate limiter, armed faults, counters, and the webhook dispatcher. Time comes
from the injected `EmulatorClock` and every id or secret from one seeded RNG, so a world
built twice with the same arguments is the same world.
"""

from __future__ import annotations

import random
import re
import unicodedata
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

import httpx2

from ml_connector_emulators.clock import EmulatorClock
from ml_connector_emulators.ramp.faults import FaultPlan
from ml_connector_emulators.ramp.models import (
    AccessToken,
    ApiClient,
    AuthorizationCode,
    Business,
    RefreshGrant,
)
from ml_connector_emulators.ramp.quirks import RampQuirks
from ml_connector_emulators.ramp.ratelimit import RollingWindowLimiter
from ml_connector_emulators.ramp.seed import seed_world
from ml_connector_emulators.ramp.webhooks import WebhookDispatcher
from ml_connector_emulators.scenarios import SCENARIOS


@dataclass
class Counters:
    requests_by_route: dict[str, int] = field(default_factory=dict)
    bills_created: int = 0
    vendors_created: int = 0
    duplicate_bills_by_remote_id: int = 0
    duplicate_vendors_by_name: int = 0
    rate_limited: int = 0
    faults_injected: int = 0
    dropped_connections: int = 0

    def count_route(self, route: str) -> None:
        self.requests_by_route[route] = self.requests_by_route.get(route, 0) + 1


def normalized_name(name: str) -> str:
    """Case-, accent- and spacing-insensitive name, for counting duplicate vendors."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().casefold()
    return re.sub(r"\s+", " ", folded).strip()


class RampWorld:
    def __init__(
        self,
        scenario: str = "empty",
        clock: EmulatorClock | None = None,
        webhook_transport: httpx2.AsyncBaseTransport | None = None,
        public_url: str = "https://api.ramp.com",
        *,
        seed: int = 2026,
        quirks: RampQuirks | None = None,
    ) -> None:
        if scenario not in SCENARIOS:
            raise ValueError(f"Unknown scenario {scenario!r}; known: {', '.join(SCENARIOS)}")
        self.clock = clock or EmulatorClock()
        self.public_url = public_url.rstrip("/")
        self.quirks = quirks or RampQuirks()
        self._webhook_transport = webhook_transport
        self._seed = seed
        self.served = False
        self._build(scenario)

    def _build(self, scenario: str) -> None:
        self.scenario = scenario
        self.rng = random.Random(self._seed)
        # Trace ids come from their own stream so that the number of requests served
        # does not shift the ids of the objects those requests create.
        self._trace_rng = random.Random(self._seed + 1)
        self.businesses: dict[str, Business] = {}
        self.tokens: dict[str, AccessToken] = {}
        self.refresh_grants: dict[str, RefreshGrant] = {}
        self.codes: dict[str, AuthorizationCode] = {}
        self.limiter = RollingWindowLimiter(
            self.clock, self.quirks.rate_limit_requests, self.quirks.rate_limit_window_seconds
        )
        self.faults = FaultPlan(self.clock)
        self.counters = Counters()
        self.webhooks = WebhookDispatcher(
            self.clock, self.rng, self.new_id, lambda: self.quirks, self._webhook_transport
        )
        self.test_business_id = seed_world(self, scenario)

    def reset(self, scenario: str | None = None) -> None:
        """Back to a freshly seeded world (same seed: same ids and credentials)."""
        if scenario is not None and scenario not in SCENARIOS:
            raise ValueError(f"Unknown scenario {scenario!r}")
        self._build(scenario or self.scenario)

    def set_quirks(self, **changes: Any) -> RampQuirks:
        self.quirks = replace(self.quirks, **changes)
        self.limiter.configure(
            self.quirks.rate_limit_requests, self.quirks.rate_limit_window_seconds
        )
        return self.quirks

    # --- ids and secrets ---------------------------------------------------------------

    def new_id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def new_trace_id(self) -> str:
        return str(uuid.UUID(int=self._trace_rng.getrandbits(128), version=4))

    def new_secret(self, prefix: str, length: int = 32) -> str:
        alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
        return prefix + "".join(self.rng.choice(alphabet) for _ in range(length))

    # --- lookups -----------------------------------------------------------------------

    @property
    def test_business(self) -> Business:
        return self.businesses[self.test_business_id]

    def add_business(self, name: str, scopes: frozenset[str]) -> Business:
        business = Business(id=self.new_id(), name=name)
        self.businesses[business.id] = business
        self.add_client(business, f"{name} integration", scopes)
        return business

    def add_client(self, business: Business, name: str, scopes: frozenset[str]) -> ApiClient:
        client = ApiClient(
            client_id=self.new_secret("ramp_id_", 24),
            client_secret=self.new_secret("ramp_sec_", 40),
            name=name,
            allowed_scopes=scopes,
            grant_types=frozenset({"client_credentials", "authorization_code", "refresh_token"}),
        )
        business.clients[client.client_id] = client
        return client

    def find_client(self, client_id: str) -> tuple[Business, ApiClient] | None:
        for business in self.businesses.values():
            if client_id in business.clients:
                return business, business.clients[client_id]
        return None
