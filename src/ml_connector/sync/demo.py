"""The demo: both emulators and the connector in one process, end to end, on SQLite.

What `ml-connector demo` runs. Nothing is faked on the product's side: the FreshBooks
user's consent is given on the emulator's real consent page and exchanged through the
OAuth code flow; the Ramp API client comes from the emulator's sandbox credentials;
setup, webhook registration (with FreshBooks' verifier handshake), the backfill and the
live changes all go through the same handlers, queue and web endpoints as production.
Webhooks are delivered by the emulators to the product's ASGI app in-process.

Time is the emulators' clock, frozen at a date just after the services-firm roster's
last purchase and moved forward by the demo itself (to a retry's time, or past a full
rate budget), so the run is fast and repeatable. The emulators are a separate package
the product never imports; they are loaded by name, as `ml-connector sandbox` does.
"""

from __future__ import annotations

import importlib
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio
import httpx2
from cryptography.fernet import Fernet
from pydantic import SecretStr

from ml_connector.core.errors import ConfigurationError
from ml_connector.queue import WAITING, JobState, Registry, Worker, list_jobs, stats
from ml_connector.settings import Settings
from ml_connector.store import DbRateLimiter, make_engine, migrate, read
from ml_connector.store import audit as audit_store
from ml_connector.store import connections as connections_store
from ml_connector.store import credentials as credentials_store
from ml_connector.store.connections import ConnectionStatus
from ml_connector.sync.backfill import backfill_progress, register_backfill_handlers, start_backfill
from ml_connector.sync.connect import enqueue_register_webhooks, register_connect_handlers
from ml_connector.sync.demo_tally import RampView, SourceObject, Tally, tally_connection
from ml_connector.sync.handlers import register_sync_handlers
from ml_connector.sync.runtime import RAMP_CLIENT_ID, RAMP_CLIENT_SECRET, Runtime, Transports
from ml_connector.sync.setup import setup_connection

DEMO_START = datetime(2026, 11, 2, 14, 0, tzinfo=UTC)
"""A Monday just after the services-firm roster's last purchase (2026-10-31)."""
FRESHBOOKS_API = "https://api.freshbooks.com"
FRESHBOOKS_AUTH = "https://auth.freshbooks.com"
RAMP_HOST = "https://api.ramp.com"
DATABASE_FILE = "demo.db"
CONNECTION_NAME = "Northbeam Studio"
MAX_ROUNDS = 400
FRESHBOOKS_DELETED = 1
"""FreshBooks' `vis_state` of a deleted object (0 active, 2 archived)."""

Say = Callable[[str], None]
WebBuilder = Callable[[Runtime], Any]
Seed = Callable[["DemoWorld"], Awaitable[None]]


class _LateTransport(httpx2.AsyncBaseTransport):
    """Webhook deliveries go to the product app, which exists only after the runtime."""

    def __init__(self) -> None:
        self.target: httpx2.AsyncBaseTransport | None = None

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if self.target is None:
            return httpx2.Response(503, text="the connector is not up yet")
        return await self.target.handle_async_request(request)


@dataclass
class DemoWorld:
    """The running demo: emulator worlds, the product runtime and its web app."""

    clock: Any
    freshbooks: Any
    ramp: Any
    freshbooks_app: Any
    ramp_app: Any
    runtime: Runtime
    registry: Registry
    web_app: Any
    settings: Settings
    admin_password: str
    connection_id: int = 0

    async def deliver_webhooks(self) -> int:
        sent = await self.freshbooks.webhooks.drain()
        sent += await self.ramp.webhooks.drain()
        return len(sent)

    def webhooks_pending(self) -> bool:
        return bool(self.freshbooks.webhooks.pending) or any(
            d.state == "pending" for d in self.ramp.webhooks.deliveries
        )

    def worker(self) -> Worker:
        return Worker(
            self.runtime.engine,
            self.registry,
            clock=self.runtime.clock,
            concurrency=4,
            poll_interval=0.05,
            jitter=lambda: 0.5,
        )

    async def settle(self, *, until: Callable[[], Any] | None = None) -> None:
        """Deliver webhooks and run jobs until nothing is waiting (moving time as needed)."""
        worker = self.worker()
        for _ in range(MAX_ROUNDS):
            delivered = await self.deliver_webhooks()
            ran = await worker.run_until_idle()
            delivered += await self.deliver_webhooks()
            async with read(self.runtime.engine) as db:
                waiting = await list_jobs(db, states=WAITING, limit=1000)
            if until is not None and await until():
                return
            if not waiting and not delivered and not ran and not self.webhooks_pending():
                return
            now = self.runtime.clock()
            upcoming = [j.scheduled_at for j in waiting if j.scheduled_at > now]
            if not ran and not delivered:
                # Nothing was due: jump to the next retry, or let delayed webhooks fall due.
                gap = (min(upcoming) - now).total_seconds() if upcoming else 5.0
                self.clock.advance(gap + 0.001)
        raise ConfigurationError("the demo's queue did not settle; see `ml-connector status`")

    async def sandbox(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """A change made "by a person in FreshBooks" (the emulator's sandbox surface)."""
        async with httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=self.freshbooks_app), base_url=FRESHBOOKS_API
        ) as http:
            answer = await http.request(method, path, json=body)
        if answer.status_code != 200:
            raise ConfigurationError(
                f"the FreshBooks emulator refused {method} {path}: {answer.text}"
            )
        result: dict[str, Any] = answer.json()
        return result


@dataclass
class DemoSummary:
    """What happened, for people (rendered by the CLI) and machines (`--json`)."""

    connection: str = CONNECTION_NAME
    database: str = ""
    steps: list[dict[str, Any]] = field(default_factory=list)
    setup: dict[str, Any] = field(default_factory=dict)
    backfill: list[dict[str, Any]] = field(default_factory=list)
    live: list[dict[str, Any]] = field(default_factory=list)
    jobs: dict[str, int] = field(default_factory=dict)
    needs_attention: list[dict[str, Any]] = field(default_factory=list)
    counters: dict[str, Any] = field(default_factory=dict)
    timelines: list[dict[str, Any]] = field(default_factory=list)
    reconciliation: list[dict[str, Any]] = field(default_factory=list)
    """Per object kind: FreshBooks = in Ramp + waiting for review + skipped, duplicates."""
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _emulators() -> tuple[Any, Any, Any]:
    try:
        clock = importlib.import_module("ml_connector_emulators.clock")
        fb = importlib.import_module("ml_connector_emulators.freshbooks")
        ramp = importlib.import_module("ml_connector_emulators.ramp")
    except ModuleNotFoundError as exc:  # pragma: no cover - packaging error
        raise ConfigurationError(f"the emulator package is not installed: {exc}") from exc
    return clock, fb, ramp


def _fresh_database(data_dir: Path, url: str) -> None:
    """The demo starts from nothing every run: remove its previous database, migrate anew."""
    data_dir.mkdir(parents=True, exist_ok=True)
    for name in (DATABASE_FILE, f"{DATABASE_FILE}-wal", f"{DATABASE_FILE}-shm"):
        (data_dir / name).unlink(missing_ok=True)
    migrate.upgrade(url)


async def build_world(
    data_dir: Path,
    build_web: WebBuilder,
    *,
    scenario: str = "services-firm",
    public_url: str = "http://127.0.0.1:8000",
) -> DemoWorld:
    """A fresh demo database and both emulators, wired to the product's runtime and app."""
    clock_mod, fb_mod, ramp_mod = _emulators()
    clock = clock_mod.EmulatorClock(frozen=DEMO_START)
    late = _LateTransport()
    redirect_uri = f"{public_url.rstrip('/')}/oauth/freshbooks/callback"
    fb_world = fb_mod.FreshBooksWorld(
        scenario=scenario, clock=clock, webhook_transport=late, redirect_uris=(redirect_uri,)
    )
    ramp_world = ramp_mod.RampWorld(
        scenario=scenario, clock=clock, webhook_transport=late, public_url=RAMP_HOST
    )
    fb_app = fb_mod.create_app(fb_world)
    ramp_app = ramp_mod.create_app(ramp_world)

    database = data_dir / DATABASE_FILE
    url = f"sqlite+aiosqlite:///{database.resolve()}"
    await anyio.to_thread.run_sync(_fresh_database, data_dir, url)

    fb_credentials = fb_world.credentials()
    admin_password = secrets.token_urlsafe(12)
    settings = Settings(
        data_dir=data_dir,
        database_url=url,
        public_url=public_url,
        # A throwaway key: the demo database is recreated on every run.
        encryption_keys=[SecretStr(Fernet.generate_key().decode("ascii"))],
        session_secret=SecretStr(secrets.token_urlsafe(32)),
        freshbooks_client_id=fb_credentials["client_id"],
        freshbooks_client_secret=SecretStr(fb_credentials["client_secret"]),
        freshbooks_api_base_url=FRESHBOOKS_API,
        freshbooks_auth_base_url=FRESHBOOKS_AUTH,
        ramp_api_base_url=f"{RAMP_HOST}/developer/v1",
        admin_password=SecretStr(admin_password),
    )
    engine = make_engine(url)

    async def advance(seconds: float) -> None:
        # The shared budget is full at this instant: move the demo's clock past it.
        clock.advance(max(seconds, 0.001))

    runtime = Runtime.build(
        engine,
        settings,
        clock=clock.now,
        transports=Transports(
            freshbooks=httpx2.ASGITransport(app=fb_app), ramp=httpx2.ASGITransport(app=ramp_app)
        ),
    )
    runtime = replace(runtime, rate_limiter=DbRateLimiter(engine, clock=clock.now, sleep=advance))
    registry = Registry()
    register_sync_handlers(registry, runtime)
    register_connect_handlers(registry, runtime)
    register_backfill_handlers(registry, runtime)
    web_app = build_web(runtime)
    late.target = httpx2.ASGITransport(app=web_app)
    return DemoWorld(
        clock=clock, freshbooks=fb_world, ramp=ramp_world, freshbooks_app=fb_app,
        ramp_app=ramp_app, runtime=runtime, registry=registry, web_app=web_app,
        settings=settings, admin_password=admin_password,
    )  # fmt: skip


async def connect(world: DemoWorld, say: Say) -> int:
    """Create the connection: Ramp API client from the emulator, FreshBooks by OAuth consent."""
    runtime = world.runtime
    now = runtime.clock()
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=world.ramp_app), base_url=RAMP_HOST
    ) as http:
        ramp_credentials = (await http.get("/_sandbox/credentials")).json()
    async with runtime.engine.begin() as db:
        connection = await connections_store.create(db, name=CONNECTION_NAME, now=now)
        for kind, value in (
            (RAMP_CLIENT_ID, ramp_credentials["client_id"]),
            (RAMP_CLIENT_SECRET, ramp_credentials["client_secret"]),
        ):
            await credentials_store.put(
                db, runtime.cipher, connection_id=connection.id, kind=kind, secret=value, now=now
            )
    say(f"Ramp API client of {ramp_credentials['business_name']!r} stored (encrypted)")
    fb = runtime.freshbooks_client(connection)
    try:
        state = secrets.token_urlsafe(16)
        code = await _approve_consent(world, fb.authorization_url(state=state), state)
        await fb.exchange_code(code)
        business = next(b for b in await fb.businesses() if b.account_id)
    finally:
        await fb.aclose()
    async with runtime.engine.begin() as db:
        await connections_store.update(
            db,
            connection.id,
            now=now,
            freshbooks_account_id=business.account_id,
            freshbooks_business_id=None
            if business.business_id is None
            else str(business.business_id),
            ramp_business_id=ramp_credentials["business_id"],
        )
        await connections_store.set_status(db, connection.id, ConnectionStatus.ACTIVE, now=now)
    say(
        f"FreshBooks business {business.name!r} ({business.account_id}) authorized by OAuth consent"
    )
    world.connection_id = connection.id
    return connection.id


async def _approve_consent(world: DemoWorld, authorize_url: str, state: str) -> str:
    """Open the consent page as the FreshBooks user and press Allow."""
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=world.freshbooks_app)
    ) as browser:
        page = await browser.get(authorize_url)
        if page.status_code != 200:
            raise ConfigurationError(f"the consent page answered {page.status_code}")
        fields = {k: v[0] for k, v in parse_qs(urlsplit(authorize_url).query).items()}
        answer = await browser.post(
            str(page.url.copy_with(query=None)), data=fields | {"decision": "approve"}
        )
    location = parse_qs(urlsplit(answer.headers.get("location", "")).query)
    if answer.status_code != 302 or location.get("state") != [state] or "code" not in location:
        raise ConfigurationError("the consent page did not redirect back with a code and our state")
    return location["code"][0]


async def run_demo(
    data_dir: Path,
    build_web: WebBuilder,
    say: Say,
    *,
    scenario: str = "services-firm",
    public_url: str = "http://127.0.0.1:8000",
    timelines: int = 3,
    seed: Seed | None = None,
) -> tuple[DemoWorld, DemoSummary]:
    """The whole flow; returns the live world (for `--serve`) and what happened.

    `seed` adds objects to the emulators before the connection is made (the firm's data
    as it stands when it signs up), for a run on the `empty` scenario with a chosen few.
    """
    world = await build_world(data_dir, build_web, scenario=scenario, public_url=public_url)
    if seed is not None:
        await seed(world)
    summary = DemoSummary(database=str(data_dir / DATABASE_FILE))
    runtime = world.runtime

    def step(name: str, detail: str) -> None:
        summary.steps.append({"step": name, "detail": detail})
        say(detail)

    connection_id = await connect(world, lambda text: step("connect", text))

    report = await setup_connection(runtime, connection_id, accept_suggestions=True)
    summary.setup = {
        "chart": report.chart,
        "gl_accounts": report.gl_accounts_total,
        "department_options": len(report.department_options_uploaded),
        "mapping_version": report.mapping_version,
        "categories_in_use": len(report.coverage.in_use),
        "unmapped": len(report.coverage.unmapped),
    }
    step(
        "setup",
        f"accounting setup: GL chart {report.chart} ({report.gl_accounts_total} accounts), "
        f"suggested mapping v{report.mapping_version} accepted "
        f"({len(report.coverage.in_use)} categories in use, {len(report.coverage.unmapped)} unmapped)",
    )

    async with runtime.engine.begin() as db:
        await enqueue_register_webhooks(db, connection_id=connection_id, now=runtime.clock())
    await world.settle()
    fb_hooks = world.freshbooks.callbacks.of_account(
        (await runtime.connection(connection_id)).freshbooks_account_id
    )
    verified = sum(1 for c in fb_hooks if getattr(c, "verified", False))
    ramp_hooks = world.ramp.webhooks.of_business(world.ramp.test_business_id)
    step(
        "webhooks",
        f"webhooks registered: {len(fb_hooks)} FreshBooks callbacks ({verified} verified), "
        f"{len(ramp_hooks)} Ramp subscription(s)",
    )

    async with runtime.engine.begin() as db:
        started = await start_backfill(db, connection_id, runtime.clock())
    say(f"backfill run {started.run} of the {scenario} scenario…")

    async def backfilled() -> bool:
        progress = await backfill_progress(runtime, connection_id)
        return progress is not None and (progress.finished or progress.status == "stalled")

    await world.settle(until=backfilled)
    await world.settle()
    progress = await backfill_progress(runtime, connection_id)
    if progress is None or not progress.finished:
        summary.problems.append(
            "the backfill did not complete"
            + ("" if progress is None or not progress.error else f": {progress.error}")
        )
    else:
        summary.backfill = [
            {
                "collection": c.collection,
                "in_freshbooks": c.total,
                "synced": c.synced,
                "needs_attention": c.failed,
                "superseded": c.superseded,
            }
            for c in progress.collections
        ]
        step(
            "backfill",
            "backfill complete: "
            + ", ".join(f"{c.synced} {c.collection}" for c in progress.collections)
            + f" synced; {sum(c.failed for c in progress.collections)} need attention",
        )

    live_bill = await _live_changes(world, summary, step)
    await _collect(world, summary, live_bill, timelines)
    tally = await reconcile(world)
    summary.reconciliation = [k.as_dict() for k in tally.kinds]
    summary.problems.extend(tally.problems())
    return world, summary


async def reconcile(world: DemoWorld) -> Tally:
    """Account for every object in the FreshBooks emulator against what the Ramp one holds."""
    connection = await world.runtime.connection(world.connection_id)
    account_id = connection.freshbooks_account_id or ""
    books = world.freshbooks.business_by_account(account_id).books
    business = world.ramp.test_business

    def objects(records: dict[int, Any]) -> list[SourceObject]:
        return [
            SourceObject(fb_id=str(fb_id), deleted=record.vis_state == FRESHBOOKS_DELETED)
            for fb_id, record in sorted(records.items())
        ]

    ramp = RampView(
        vendor_ids=frozenset(business.vendors),
        bills={bill.id: bill.remote_id for bill in business.bills.values()},
        archived_bill_ids=frozenset(
            bill.id for bill in business.bills.values() if bill.archived_at is not None
        ),
        coded_transaction_ids=frozenset(
            tx.id
            for tx in business.transactions.values()
            if tx.line_items or tx.selections or tx.memo
        ),
        vendors_created_twice=world.ramp.counters.duplicate_vendors_by_name,
    )
    return await tally_connection(
        world.runtime.engine,
        connection_id=world.connection_id,
        account_id=account_id,
        vendors=objects(books.vendors),
        bills=objects(books.bills),
        expenses=objects(books.expenses),
        ramp=ramp,
    )


async def _live_changes(
    world: DemoWorld, summary: DemoSummary, step: Callable[[str, str], None]
) -> str | None:
    """A new vendor and bill, then an edit of it — each reaching Ramp by webhook."""
    connection = await world.runtime.connection(world.connection_id)
    account = connection.freshbooks_account_id
    category = next(iter(world.freshbooks.primary.books.categories))
    vendor = await world.sandbox(
        "POST",
        f"/_sandbox/accounts/{account}/bill_vendors",
        {"bill_vendor": {"vendor_name": "Harbor Print Co", "currency_code": "USD",
                         "primary_contact_email": "ap@harborprint.example",
                         "country": "US", "province": "CA"}},
    )  # fmt: skip
    vendor_id = vendor["response"]["result"]["bill_vendor"]["vendorid"]
    issue = world.runtime.clock().date().isoformat()
    created = await world.sandbox(
        "POST",
        f"/_sandbox/accounts/{account}/bills",
        {"bill": {"vendorid": vendor_id, "bill_number": "HP-1001", "issue_date": issue,
                  "due_offset_days": 30, "currency_code": "USD",
                  "lines": [{"categoryid": category, "quantity": 1,
                             "unit_cost": {"amount": "120.00", "code": "USD"},
                             "description": "Brochure print run"}]}},
    )  # fmt: skip
    bill_id = str(created["response"]["result"]["bill"]["id"])
    await world.settle()
    business = world.ramp.test_business
    ramp_bill = _ramp_bill_for(business, bill_id)
    summary.live.append({"change": "bill created", "fb_id": bill_id, "ramp_bill": ramp_bill})
    if ramp_bill is None:
        summary.problems.append(f"the new FreshBooks bill {bill_id} did not reach Ramp")
        return bill_id
    step(
        "live",
        f"new FreshBooks bill {bill_id} (Harbor Print Co, 120.00 USD) → Ramp bill {ramp_bill}",
    )

    await world.sandbox(
        "PUT",
        f"/_sandbox/accounts/{account}/bills/{bill_id}",
        {"bill": {"lines": [{"categoryid": category, "quantity": 2,
                             "unit_cost": {"amount": "120.00", "code": "USD"},
                             "description": "Brochure print run (two batches)"}]}},
    )  # fmt: skip
    await world.settle()
    amount = _ramp_bill_total(business, ramp_bill)
    summary.live.append({"change": "bill edited", "fb_id": bill_id, "ramp_total_minor": amount})
    if amount != 24000:
        summary.problems.append(f"the edit of bill {bill_id} did not reach Ramp (total {amount})")
    else:
        step("live", f"edited bill {bill_id} to 240.00 USD → Ramp bill updated")
    return bill_id


def _ramp_bill_for(business: Any, fb_id: str) -> str | None:
    found = [
        b.id for b in business.bills.values() if b.remote_id and b.remote_id.endswith(f":{fb_id}")
    ]
    return found[0] if len(found) == 1 else None


def _ramp_bill_total(business: Any, ramp_id: str) -> int:
    bill = business.bills[ramp_id]
    return int(sum(line.amount_minor for line in bill.line_items))


async def _collect(
    world: DemoWorld, summary: DemoSummary, live_bill: str | None, how_many: int
) -> None:
    runtime = world.runtime
    ramp = world.ramp.counters
    fbc = world.freshbooks.counters
    summary.counters = {
        "ramp_bills_created": ramp.bills_created,
        "ramp_vendors_created": ramp.vendors_created,
        "ramp_duplicate_bills": ramp.duplicate_bills_by_remote_id,
        "ramp_duplicate_vendors": ramp.duplicate_vendors_by_name,
        "ramp_rate_limited": sum(world.ramp.limiter.refused.values()),
        "freshbooks_refreshes": fbc.refreshes,
        "freshbooks_refresh_token_reuses": fbc.refresh_token_reuses,
        "webhooks_delivered": {
            "freshbooks": dict(fbc.webhook_deliveries),
            "ramp": world.ramp.webhooks.counts(),
        },
    }
    if ramp.duplicate_bills_by_remote_id or ramp.duplicate_vendors_by_name:
        summary.problems.append("Ramp received duplicates")
    if fbc.refresh_token_reuses:
        summary.problems.append("a FreshBooks refresh token was reused")
    async with read(runtime.engine) as db:
        queue = await stats(db, now=runtime.clock())
        attention = await list_jobs(db, states=(JobState.ATTENTION, JobState.DEAD), limit=10)
        subjects: list[tuple[str, str]] = []
        if live_bill is not None:
            subjects.append(("bill", live_bill))
        for job in await list_jobs(db, states=(JobState.COMPLETED,), kind="sync.bill", limit=50):
            fb_id = str(job.args.get("fb_id"))
            if ("bill", fb_id) not in subjects:
                subjects.append(("bill", fb_id))
        for object_type, fb_id in subjects[:how_many]:
            entries = await audit_store.for_fb_object(
                db, fb_id=fb_id, object_type=object_type, connection_id=world.connection_id
            )
            broken = [
                p
                for chain in {e.chain for e in entries}
                for p in await audit_store.verify_chain(db, chain)
            ]
            summary.timelines.append(
                {
                    "object": f"{object_type}:{fb_id}",
                    "intact": not broken,
                    "entries": [
                        {
                            "seq": e.seq,
                            "at": e.at,
                            "step": e.step,
                            "actor": e.actor,
                            "ramp_id": e.ramp_id,
                        }
                        for e in entries
                    ],
                }
            )
            if broken:
                summary.problems.append(f"the audit chain of {object_type} {fb_id} is broken")
    summary.jobs = dict(sorted(queue.by_state.items()))
    summary.needs_attention = [
        {"job_id": j.id, "kind": j.kind, "object": j.args.get("fb_id"), "reason": j.last_error}
        for j in attention
    ]


def continue_in_real_time(world: DemoWorld) -> None:
    """For `--serve`: let the demo's clock run on from where it stands, at wall-clock pace."""
    at = world.clock.now()
    world.clock.unfreeze()
    world.clock.advance((at - world.clock.now()).total_seconds())


__all__ = [
    "DEMO_START",
    "DemoSummary",
    "DemoWorld",
    "Seed",
    "build_world",
    "continue_in_real_time",
    "reconcile",
    "run_demo",
]
