"""`FreshBooksWorld`: all state of one emulated FreshBooks (auth server, identity,
businesses with their books and ledgers, callbacks, webhook sender, faults, counters).

Time comes from an `EmulatorClock` and every random choice from one seeded
`random.Random`, so a world built twice with the same arguments is identical.
"""

from __future__ import annotations

import random
import string
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx2

from ml_connector_emulators.clock import EmulatorClock
from ml_connector_emulators.freshbooks.books import Books, IdSource
from ml_connector_emulators.freshbooks.callbacks import CallbackStore
from ml_connector_emulators.freshbooks.counters import Counters
from ml_connector_emulators.freshbooks.faults import Faults
from ml_connector_emulators.freshbooks.ledger import Ledger
from ml_connector_emulators.freshbooks.oauth import OAuthServer, RegisteredApp
from ml_connector_emulators.freshbooks.records import Staff
from ml_connector_emulators.freshbooks.webhooks import Webhooks
from ml_connector_emulators.scenarios import SCENARIOS

DEFAULT_REDIRECT_URIS = (
    "http://127.0.0.1:8000/oauth/freshbooks/callback",
    "http://localhost:8000/oauth/freshbooks/callback",
)
SANDBOX_CLIENT_ID = "fbemu-client-6f1d2c"
SANDBOX_CLIENT_SECRET = "fbemu-secret-not-for-production-3b9a"
# The system chart and seeded rows predate anything a test does.
CHART_CREATED = datetime(2024, 3, 4, 15, 12, 40, tzinfo=UTC)


@dataclass
class SandboxUser:
    identity_id: int
    identity_uuid: str
    first_name: str
    last_name: str
    email: str
    userid: int = 1


@dataclass
class Business:
    id: int
    uuid: str
    name: str
    account_id: str
    membership_id: int
    role: str
    books: Books
    ledger: Ledger
    staffid: int
    scenario: str = "empty"
    extra: dict[str, Any] = field(default_factory=dict)


class FreshBooksWorld:
    def __init__(
        self,
        scenario: str = "empty",
        clock: EmulatorClock | None = None,
        webhook_transport: httpx2.AsyncBaseTransport | None = None,
        redirect_uris: Sequence[str] = DEFAULT_REDIRECT_URIS,
        *,
        seed: int = 2026,
        client_id: str = SANDBOX_CLIENT_ID,
        client_secret: str = SANDBOX_CLIENT_SECRET,
        null_account_id_quirk: bool = False,
    ) -> None:
        if scenario not in SCENARIOS:
            raise ValueError(f"unknown scenario {scenario!r}; choose one of {', '.join(SCENARIOS)}")
        if not redirect_uris:
            raise ValueError("register at least one redirect URI")
        self.clock = clock or EmulatorClock()
        self.rng = random.Random(seed)
        self.seed = seed
        self.counters = Counters()
        self.faults = Faults()
        self.callbacks = CallbackStore(self.rng)
        self.webhooks = Webhooks(
            self.clock, self.rng, self.counters, self.callbacks, webhook_transport
        )
        self.oauth = OAuthServer(
            RegisteredApp(client_id, client_secret, list(redirect_uris)),
            self.clock,
            self.rng,
            self.counters,
        )
        self.null_account_id_quirk = null_account_id_quirk
        self.ids = IdSource()
        self.user = SandboxUser(
            identity_id=self._next_number(6),
            identity_uuid=self._uuid(),
            first_name="Jordan",
            last_name="Blake",
            email="jordan.blake@northbeam.example",
        )
        self.businesses: list[Business] = []
        name = "Northbeam Studio" if scenario == "services-firm" else "Sandbox Company"
        self.add_business(name, scenario)

    # --- ids -------------------------------------------------------------------------

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _next_number(self, digits: int) -> int:
        return self.rng.randrange(10 ** (digits - 1), 10**digits)

    def _account_id(self) -> str:
        alphabet = string.ascii_letters + string.digits
        taken = {b.account_id for b in self.businesses}
        while True:
            candidate = "".join(self.rng.choice(alphabet) for _ in range(6))
            if candidate not in taken:
                return candidate

    # --- businesses ---------------------------------------------------------------------

    def add_business(self, name: str, scenario: str = "empty", role: str = "owner") -> Business:
        """Give the test user another business (FreshBooks identities can have several)."""
        if scenario not in SCENARIOS:
            raise ValueError(f"unknown scenario {scenario!r}")
        account_id = self._account_id()
        books = Books(account_id, self.clock, self.ids, self._on_event, CHART_CREATED)
        owner = Staff(
            id=self.ids.next("staff"),
            first_name=self.user.first_name,
            last_name=self.user.last_name,
            email=self.user.email,
            created=CHART_CREATED,
            updated=CHART_CREATED,
        )
        books.staff[owner.id] = owner
        business = Business(
            id=self._next_number(6),
            uuid=self._uuid(),
            name=name,
            account_id=account_id,
            membership_id=self._next_number(6),
            role=role,
            books=books,
            ledger=Ledger(self.rng, CHART_CREATED),
            staffid=owner.id,
        )
        self.businesses.append(business)
        self.seed_scenario(business, scenario)
        return business

    def seed_scenario(self, business: Business, scenario: str) -> None:
        """Add a scenario's objects to a business; writes announce webhooks like any other."""
        if scenario == "services-firm":
            from ml_connector_emulators.freshbooks.seed import seed_services_firm

            seed_services_firm(business.books, seed=self.seed)
        business.scenario = scenario

    @property
    def primary(self) -> Business:
        return self.businesses[0]

    def business_by_account(self, account_id: str) -> Business | None:
        return next((b for b in self.businesses if b.account_id == account_id), None)

    def business_by_uuid(self, business_uuid: str) -> Business | None:
        return next((b for b in self.businesses if b.uuid == business_uuid), None)

    def _on_event(self, account_id: str, name: str, object_id: int) -> None:
        self.webhooks.publish(account_id, name, object_id)

    # --- identity and credentials -------------------------------------------------------

    def identity(self) -> dict[str, Any]:
        memberships = []
        roles = []
        groups = []
        for business in self.businesses:
            memberships.append(
                {
                    "id": business.membership_id,
                    "role": business.role,
                    "unacknowledged_change": False,
                    "fasttrack_token": None,
                    "business": {
                        "id": business.id,
                        "business_uuid": business.uuid,
                        "name": business.name,
                        "account_id": None if self.null_account_id_quirk else business.account_id,
                        "date_format": "mm/dd/yyyy",
                        "active": True,
                    },
                }
            )
            roles.append(
                {
                    "id": business.membership_id + 1,
                    "role": "admin",
                    "systemid": business.id,
                    "userid": self.user.userid,
                    "accountid": business.account_id,
                }
            )
            groups.append(
                {
                    "id": business.membership_id + 2,
                    "group_id": business.id + 7,
                    "role": business.role,
                    "business_id": business.id,
                    "active": True,
                }
            )
        return {
            "id": self.user.identity_id,
            "identity_id": self.user.identity_id,
            "identity_uuid": self.user.identity_uuid,
            "first_name": self.user.first_name,
            "last_name": self.user.last_name,
            "email": self.user.email,
            "language": "en",
            "confirmed_at": "2024-03-04T15:12:40Z",
            "created_at": "2024-03-04T15:10:02Z",
            "setup_complete": True,
            "business_memberships": memberships,
            "roles": roles,
            "groups": groups,
        }

    def credentials(self) -> dict[str, Any]:
        app = self.oauth.app
        return {
            "client_id": app.client_id,
            "client_secret": app.client_secret,
            "redirect_uri": app.redirect_uris[0],
            "redirect_uris": list(app.redirect_uris),
            "scopes": list(app.scopes),
            "user": {
                "email": self.user.email,
                "password": None,
                "identity_id": self.user.identity_id,
                "first_name": self.user.first_name,
                "last_name": self.user.last_name,
            },
            "businesses": [
                {
                    "name": b.name,
                    "account_id": b.account_id,
                    "business_id": b.id,
                    "business_uuid": b.uuid,
                    "scenario": b.scenario,
                }
                for b in self.businesses
            ],
        }

    def register_redirect_uri(self, uri: str) -> None:
        if uri not in self.oauth.app.redirect_uris:
            self.oauth.app.redirect_uris.append(uri)


__all__ = ["DEFAULT_REDIRECT_URIS", "Business", "FreshBooksWorld", "SandboxUser"]
