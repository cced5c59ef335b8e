"""Real worker processes against emulators served over HTTP in the test process.

`WorkersEnv` serves both emulators with uvicorn on loopback (one thread), seeds the
FreshBooks side, connects and sets up a connection through the product's own code, and
starts `ml-connector worker` subprocesses configured only by `MLC_*` variables — what an
operator would run on each machine.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
import uvicorn
from pydantic import SecretStr

from ml_connector.queue import JobState, list_jobs, stats
from ml_connector.settings import Settings
from ml_connector.store import audit, make_engine, read
from ml_connector.store import connections as connections_store
from ml_connector.store import credentials as credentials_store
from ml_connector.store.connections import ConnectionStatus
from ml_connector.sync.backfill import BackfillProgress, backfill_progress, start_backfill
from ml_connector.sync.runtime import RAMP_CLIENT_ID, RAMP_CLIENT_SECRET, Runtime
from ml_connector.sync.setup import setup_connection
from ml_connector_emulators.clock import EmulatorClock
from ml_connector_emulators.freshbooks import FreshBooksWorld
from ml_connector_emulators.freshbooks import create_app as create_freshbooks_app
from ml_connector_emulators.ramp import RampWorld
from ml_connector_emulators.ramp import create_app as create_ramp_app
from support.harness import TEST_KEY

PUBLIC_URL = "http://127.0.0.1:9"
"""Nothing listens there: these tests never register webhooks (workers run without a
scheduler), so the product's own URL is only the OAuth redirect's name."""


VENDOR_NAMES = (
    "Harbor Print Co", "Lumen Electric", "Quartz Legal LLP", "Maple Courier",
    "Birch Catering", "Atlas Software", "Cobalt Staffing", "Juniper Travel",
    "Osprey Cleaning", "Tidewater Insurance",
)  # fmt: skip
"""Names no fuzzy matcher confuses: these tests are about processes, not vendor review."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServedApps:
    """Both emulator apps on loopback ports, served from one background thread."""

    def __init__(self, apps: dict[int, Any]) -> None:
        self.servers = [
            uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
            for port, app in apps.items()
        ]
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        async def serve_all() -> None:
            await asyncio.gather(*(s.serve() for s in self.servers))

        asyncio.run(serve_all())

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not all(s.started for s in self.servers):
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise AssertionError("the emulators did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        for server in self.servers:
            server.should_exit = True
        self._thread.join(timeout=30)


@dataclass
class WorkersEnv:
    database_url: str
    tmp: Path
    fb_port: int = field(default_factory=free_port)
    ramp_port: int = field(default_factory=free_port)
    clock: EmulatorClock = field(default_factory=EmulatorClock)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    connection_id: int = 0
    fb_bill_ids: list[str] = field(default_factory=list)
    vendor_names: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.freshbooks = FreshBooksWorld(
            scenario="empty",
            clock=self.clock,
            redirect_uris=(f"{PUBLIC_URL}/oauth/freshbooks/callback",),
        )
        self.ramp = RampWorld(
            scenario="empty", clock=self.clock, public_url=f"http://127.0.0.1:{self.ramp_port}"
        )
        creds = self.freshbooks.credentials()
        self.settings = Settings(
            data_dir=self.tmp,
            database_url=self.database_url,
            public_url=PUBLIC_URL,
            encryption_keys=[SecretStr(TEST_KEY)],
            freshbooks_client_id=creds["client_id"],
            freshbooks_client_secret=SecretStr(creds["client_secret"]),
            freshbooks_api_base_url=self.fb_url,
            freshbooks_auth_base_url=self.fb_url,
            ramp_api_base_url=f"http://127.0.0.1:{self.ramp_port}/developer/v1",
        )
        self.served = ServedApps(
            {
                self.fb_port: create_freshbooks_app(self.freshbooks),
                self.ramp_port: create_ramp_app(self.ramp),
            }
        )

    @property
    def fb_url(self) -> str:
        return f"http://127.0.0.1:{self.fb_port}"

    # --- the firm's data, entered before anything is served -------------------------------

    def seed(self, vendors: int, bills: int) -> None:
        books = self.freshbooks.primary.books
        categories = sorted(books.categories)[:5]
        vendor_ids = []
        for n in range(vendors):
            name = VENDOR_NAMES[n]
            record = books.create(
                "bill_vendors",
                {"vendor_name": name, "currency_code": "USD", "country": "US", "province": "CA",
                 "primary_contact_email": f"ap{n}@supplier{n}.example"},
            )  # fmt: skip
            vendor_ids.append(record.id)
            self.vendor_names.append(name)
        for n in range(bills):
            record = books.create(
                "bills",
                {"vendorid": vendor_ids[n % vendors], "bill_number": f"INV-{n:04d}",
                 "issue_date": "2026-10-01", "due_offset_days": 30, "currency_code": "USD",
                 "lines": [{"categoryid": categories[n % len(categories)], "quantity": 1,
                            "unit_cost": {"amount": f"{100 + n}.25", "code": "USD"}}]},
            )  # fmt: skip
            self.fb_bill_ids.append(str(record.id))

    # --- the product, from the test process -----------------------------------------------

    def runtime(self) -> Runtime:
        return Runtime.build(make_engine(self.database_url), self.settings)

    async def connect_and_set_up(self) -> None:
        runtime = self.runtime()
        try:
            client = next(iter(self.ramp.test_business.clients.values()))
            now = runtime.clock()
            async with runtime.engine.begin() as db:
                conn = await connections_store.create(db, name="Northbeam", now=now)
                for kind, value in (
                    (RAMP_CLIENT_ID, client.client_id),
                    (RAMP_CLIENT_SECRET, client.client_secret),
                ):
                    await credentials_store.put(
                        db, runtime.cipher, connection_id=conn.id, kind=kind, secret=value, now=now
                    )
            fb = runtime.freshbooks_client(conn)
            try:
                code = await self._approve(fb.authorization_url(state="e2e"))
                await fb.exchange_code(code)
                business = (await fb.businesses())[0]
            finally:
                await fb.aclose()
            async with runtime.engine.begin() as db:
                await connections_store.update(
                    db, conn.id, now=now, freshbooks_account_id=business.account_id,
                    ramp_business_id=self.ramp.test_business_id,
                )  # fmt: skip
                await connections_store.set_status(db, conn.id, ConnectionStatus.ACTIVE, now=now)
            self.connection_id = conn.id
            await setup_connection(runtime, conn.id)
            async with runtime.engine.begin() as db:
                await start_backfill(db, conn.id, runtime.clock())
        finally:
            await runtime.engine.dispose()

    async def _approve(self, authorize_url: str) -> str:
        async with httpx2.AsyncClient() as browser:
            page = await browser.get(authorize_url)
            assert page.status_code == 200, page.text
            fields = {k: v[0] for k, v in parse_qs(urlsplit(authorize_url).query).items()}
            answer = await browser.post(
                str(page.url.copy_with(query=None)), data=fields | {"decision": "approve"}
            )
        assert answer.status_code == 302, answer.text
        return parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]

    async def progress(self) -> BackfillProgress | None:
        runtime = self.runtime()
        try:
            return await backfill_progress(runtime, self.connection_id)
        finally:
            await runtime.engine.dispose()

    async def audit_of(self, fb_id: str) -> tuple[list[audit.AuditEntry], list[str]]:
        runtime = self.runtime()
        try:
            async with read(runtime.engine) as db:
                entries = await audit.for_fb_object(
                    db, fb_id=fb_id, object_type="bill", connection_id=self.connection_id
                )
                problems = [
                    p for chain in {e.chain for e in entries}
                    for p in await audit.verify_chain(db, chain)
                ]  # fmt: skip
            return entries, problems
        finally:
            await runtime.engine.dispose()

    # --- worker processes ----------------------------------------------------------------

    def environment(self) -> dict[str, str]:
        s = self.settings
        assert s.freshbooks_client_secret is not None
        keep = {k: v for k, v in os.environ.items() if not k.startswith("MLC_")}
        return keep | {
            "PYTHONUNBUFFERED": "1",
            "MLC_DATA_DIR": str(self.tmp),
            "MLC_DATABASE_URL": self.database_url,
            "MLC_PUBLIC_URL": s.public_url,
            "MLC_ENCRYPTION_KEYS": TEST_KEY,
            "MLC_FRESHBOOKS_CLIENT_ID": s.freshbooks_client_id or "",
            "MLC_FRESHBOOKS_CLIENT_SECRET": s.freshbooks_client_secret.get_secret_value(),
            "MLC_FRESHBOOKS_API_BASE_URL": s.freshbooks_api_base_url,
            "MLC_FRESHBOOKS_AUTH_BASE_URL": s.freshbooks_auth_base_url,
            "MLC_RAMP_API_BASE_URL": s.ramp_api_base_url,
        }

    def start_worker(self, name: str) -> subprocess.Popen[bytes]:
        log = (self.tmp / f"{name}.log").open("wb")
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "ml_connector", "worker", "--no-scheduler",
                "--concurrency", "3", "--poll-interval", "0.1", "--lease", "5",
                "--rescue-seconds", "1", "--json-logs",
            ],
            env=self.environment(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        log.close()
        self.processes.append(proc)
        return proc

    def log_of(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text(errors="replace")

    def stop_workers(self) -> list[int]:
        """SIGTERM every live worker and wait: a clean stop exits 0."""
        for proc in self.processes:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        return [proc.wait(timeout=60) for proc in self.processes]

    def kill_all(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)

    def slow_ramp(self, latency_ms: int) -> None:
        """Every Ramp answer takes this long, so work is in flight when faults strike."""
        answer = httpx2.post(
            f"http://127.0.0.1:{self.ramp_port}/_sandbox/faults",
            json={"latency_ms": latency_ms},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text

    async def running_jobs_of(self, proc: subprocess.Popen[bytes]) -> list[int]:
        """Jobs leased right now by that process (lease owners are host:pid:suffix)."""
        runtime = self.runtime()
        try:
            async with read(runtime.engine) as db:
                running = await list_jobs(db, states=[JobState.RUNNING], limit=500)
        finally:
            await runtime.engine.dispose()
        return [j.id for j in running if f":{proc.pid}:" in (j.lease_owner or "")]

    async def unfinished_jobs(self) -> dict[str, int]:
        """Jobs still waiting or running, by state (the dependency syncs a backfill sets off
        are not in its own progress counts)."""
        runtime = self.runtime()
        try:
            async with read(runtime.engine) as db:
                counts = await stats(db, now=runtime.clock())
        finally:
            await runtime.engine.dispose()
        return {
            state: n
            for state, n in counts.by_state.items()
            if state in ("available", "retryable", "running") and n
        }

    async def job_summary(self) -> list[tuple[int, str, str, str | None]]:
        runtime = self.runtime()
        try:
            async with read(runtime.engine) as db:
                every = await list_jobs(db, limit=10_000)
        finally:
            await runtime.engine.dispose()
        return [
            (j.id, j.kind, j.state.value, j.last_error) for j in every if j.kind != "sync.category"
        ]

    async def rescued_jobs(self) -> list[int]:
        """Jobs whose attempt was lost with its worker and handed to another."""
        runtime = self.runtime()
        try:
            async with read(runtime.engine) as db:
                every = await list_jobs(db, limit=10_000)
        finally:
            await runtime.engine.dispose()
        return [j.id for j in every if any("expired" in str(e.get("error", "")) for e in j.errors)]

    def expire_freshbooks_tokens(self) -> int:
        answer = httpx2.post(f"{self.fb_url}/_sandbox/faults/expire_tokens", timeout=10)
        assert answer.status_code == 200, answer.text
        return int(answer.json()["expired"])

    def ramp_bills_by_fb_id(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for bill in self.ramp.test_business.bills.values():
            if bill.remote_id:
                out.setdefault(bill.remote_id.rsplit(":", 1)[-1], []).append(bill.id)
        return out
