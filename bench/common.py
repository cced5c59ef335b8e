"""What every benchmark shares: machine facts, JSON results, databases, served emulators,
connections set up through the product's own code, and worker processes measured by the OS.

The emulators run on loopback in a thread of the benchmark process (uvicorn, real sockets,
wall-clock time); the product runs in separate processes — `bench.worker_process` workers
and, for ingest, `bench.ingest_server` — so their CPU time and peak RSS come from the
kernel (`wait4`), not from guesses.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
import sqlalchemy as sa
import uvicorn
from pydantic import SecretStr

from ml_connector.queue import stats
from ml_connector.settings import Settings
from ml_connector.store import connections as connections_store
from ml_connector.store import credentials as credentials_store
from ml_connector.store import make_engine, migrate, read
from ml_connector.store.connections import ConnectionStatus
from ml_connector.store.testing import postgres_admin_url, postgres_database
from ml_connector.sync.backfill import backfill_progress, start_backfill
from ml_connector.sync.runtime import RAMP_CLIENT_ID, RAMP_CLIENT_SECRET, Runtime
from ml_connector.sync.setup import setup_connection
from ml_connector_emulators.clock import EmulatorClock
from ml_connector_emulators.freshbooks import FreshBooksWorld
from ml_connector_emulators.freshbooks import create_app as create_freshbooks_app
from ml_connector_emulators.ramp import RampWorld
from ml_connector_emulators.ramp import create_app as create_ramp_app
from ml_connector_emulators.ramp.seed import ALL_SCOPES, add_entity, add_user

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"
BENCH_KEY = "yGqtS6LzT2cLJ3wqYyTQaJpP0j1dB0yq3f8m7t7bJ0Y="
"""A fixed Fernet key: benchmark databases are throwaway, and no key file is written."""
PUBLIC_URL = "http://127.0.0.1:9"
"""Nothing listens there: benchmark workers register no webhooks, so the product's own
URL is only the OAuth redirect's name."""

VENDOR_NAMES = (
    "Harbor Print Co", "Lumen Electric", "Quartz Legal LLP", "Maple Courier",
    "Birch Catering", "Atlas Software", "Cobalt Staffing", "Juniper Travel",
    "Osprey Cleaning", "Tidewater Insurance", "Granite Plumbing", "Saffron Florists",
    "Vector Analytics", "Willow Payroll", "Zephyr Freight", "Kestrel Security",
    "Meridian Telecom", "Nimbus Hosting", "Orchard Stationery", "Pinnacle Recruiting",
    "Redwood Furniture", "Sequoia Audit", "Tundra Refrigeration", "Umber Signage",
    "Velvet Interiors", "Wharfside Parking", "Yarrow Wellness", "Ironbark Tooling",
    "Falcon Translation", "Ember Coffee", "Driftwood Photography", "Cinder Locksmiths",
)  # fmt: skip
"""Names no fuzzy matcher confuses: these runs measure throughput, not vendor review."""


# --- facts about the run ----------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_mb() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    except OSError:
        pass
    return None


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],  # noqa: S607 - git from PATH is the point
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except OSError:
        return None
    return out.stdout.strip() or None


def _postgres_version() -> str | None:
    engine = sa.create_engine(
        sa.engine.make_url(postgres_admin_url()).set(drivername="postgresql+psycopg")
    )
    try:
        with engine.connect() as conn:
            return str(conn.exec_driver_sql("SHOW server_version").scalar())
    except sa.exc.OperationalError:
        return None
    finally:
        engine.dispose()


def machine_info(*, postgres: bool = False) -> dict[str, Any]:
    versions: dict[str, str | None] = {}
    for package in ("ml-connector", "starlette", "uvicorn", "sqlalchemy", "httpx2", "psycopg"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_mb": _memory_mb(),
        "sqlite": sqlite3.sqlite_version,
        "postgres": _postgres_version() if postgres else None,
        "git_commit": _git_commit(),
        "packages": versions,
    }


def write_result(
    name: str,
    *,
    command: str,
    parameters: Mapping[str, Any],
    results: Mapping[str, Any],
    goals: Mapping[str, Any],
    notes: list[str],
    started: datetime,
    postgres: bool = False,
) -> Path:
    """`bench/results/<name>.json`: what ran, where, what came out, and against which goal."""
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    document = {
        "benchmark": name,
        "command": command,
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(postgres=postgres),
        "parameters": dict(parameters),
        "results": dict(results),
        "goals": dict(goals),
        "notes": notes,
    }
    path.write_text(json.dumps(document, indent=2, sort_keys=False, default=str) + "\n")
    print(f"wrote {path.relative_to(ROOT)}")
    return path


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (no interpolation: every reported value was observed)."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = max(1, round(fraction * len(ordered) + 0.5 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


def now() -> datetime:
    return datetime.now(UTC)


# --- databases --------------------------------------------------------------------------


@contextmanager
def database(kind: str) -> Iterator[str]:
    """A migrated throwaway database: ``sqlite`` (a file, WAL) or ``postgres``."""
    if kind == "postgres":
        with postgres_database(prefix="mlc_bench") as url:
            yield url
        return
    if kind != "sqlite":
        raise ValueError(f"unknown database kind {kind!r}")
    with tempfile.TemporaryDirectory(prefix="mlc-bench-") as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        migrate.upgrade(url)
        yield url


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- the emulators, served ---------------------------------------------------------------


class ServedApps:
    """ASGI apps on loopback ports, served by uvicorn from one background thread."""

    def __init__(self, apps: Mapping[int, Any]) -> None:
        self.servers = [
            uvicorn.Server(
                uvicorn.Config(
                    app,
                    host="127.0.0.1",
                    port=port,
                    log_level="error",
                    access_log=False,
                    backlog=4096,
                )
            )
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
                raise RuntimeError("the emulators did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        for server in self.servers:
            server.should_exit = True
        self._thread.join(timeout=30)


# --- worker processes --------------------------------------------------------------------


@dataclass
class WorkerProcess:
    """One `bench.worker_process` child; CPU and peak RSS come from `wait4` when it exits."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    cpu_seconds: float | None = None
    peak_rss_mb: float | None = None
    exit_code: int | None = None
    rss_samples: list[tuple[float, float]] = field(default_factory=list)

    def current_rss_mb(self) -> float | None:
        try:
            for line in Path(f"/proc/{self.popen.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            return None
        return None

    def cpu_so_far(self) -> float | None:
        """User + system seconds of the live process (from /proc, clock ticks)."""
        try:
            fields = Path(f"/proc/{self.popen.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks

    async def wait_ready(self, within: float = 120) -> float:
        """Block until the worker logged that it started; the seconds that took."""
        started = time.monotonic()
        while b'"worker.started"' not in self.log.read_bytes():
            if self.popen.poll() is not None:
                raise RuntimeError(f"worker {self.name} exited during startup; see {self.log}")
            if time.monotonic() - started > within:
                raise TimeoutError(f"worker {self.name} did not start within {within:g} s")
            await asyncio.sleep(0.05)
        return time.monotonic() - started

    def stop(self, timeout: float = 60) -> None:
        """SIGTERM, then reap with `wait4` to read the child's own resource usage."""
        if self.exit_code is not None:
            return
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(self.popen.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                self.popen.kill()
                pid, status, usage = os.wait4(self.popen.pid, 0)
                break
            time.sleep(0.05)
        self.exit_code = os.waitstatus_to_exitcode(status)
        self.popen.returncode = self.exit_code
        self.cpu_seconds = usage.ru_utime + usage.ru_stime
        self.peak_rss_mb = usage.ru_maxrss / 1024  # kilobytes on Linux

    def log_tail(self, lines: int = 20) -> str:
        text = self.log.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])


# --- the environment: emulators + product configuration + connections --------------------


@dataclass
class BenchEnv:
    """Both emulators served on loopback, `connections` FreshBooks + Ramp business pairs,
    and the settings every product process gets through `MLC_*` variables."""

    database_url: str
    tmp: Path
    connections: int = 1
    fb_port: int = field(default_factory=free_port)
    ramp_port: int = field(default_factory=free_port)
    clock: EmulatorClock = field(default_factory=EmulatorClock)
    connection_ids: list[int] = field(default_factory=list)
    workers: list[WorkerProcess] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.freshbooks = FreshBooksWorld(
            scenario="empty",
            clock=self.clock,
            redirect_uris=(f"{PUBLIC_URL}/oauth/freshbooks/callback",),
        )
        self.ramp = RampWorld(
            scenario="empty", clock=self.clock, public_url=f"http://127.0.0.1:{self.ramp_port}"
        )
        self.fb_businesses = [self.freshbooks.primary]
        self.ramp_businesses = [self.ramp.test_business]
        for n in range(1, self.connections):
            self.fb_businesses.append(self.freshbooks.add_business(f"Bench Firm {n}"))
            business = self.ramp.add_business(f"Bench Firm {n}", ALL_SCOPES)
            entity = add_entity(self.ramp, business, f"Bench Firm {n} LLC")
            add_user(
                self.ramp,
                business,
                first="Owner",
                last=f"Number{n}",
                email=f"owner{n}@bench.example",
                role="BUSINESS_OWNER",
                entity=entity,
            )
            self.ramp_businesses.append(business)
        creds = self.freshbooks.credentials()
        self.settings = Settings(
            data_dir=self.tmp,
            database_url=self.database_url,
            public_url=PUBLIC_URL,
            encryption_keys=[SecretStr(BENCH_KEY)],
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

    # --- the firms' data, entered through the emulators' world API ------------------------

    def seed(self, index: int, *, vendors: int, bills: int) -> None:
        """`vendors` bill vendors and `bills` one-line bills in FreshBooks business `index`."""
        if vendors > len(VENDOR_NAMES):
            raise ValueError(f"at most {len(VENDOR_NAMES)} distinct vendors")
        books = self.fb_businesses[index].books
        categories = sorted(books.categories)[:5]
        vendor_ids = []
        for n in range(vendors):
            record = books.create(
                "bill_vendors",
                {"vendor_name": VENDOR_NAMES[n], "currency_code": "USD", "country": "US",
                 "province": "CA", "primary_contact_email": f"ap{n}@supplier{n}.example"},
            )  # fmt: skip
            vendor_ids.append(record.id)
        for n in range(bills):
            books.create(
                "bills",
                {"vendorid": vendor_ids[n % vendors], "bill_number": f"INV-{index}-{n:06d}",
                 "issue_date": "2026-10-01", "due_offset_days": 30, "currency_code": "USD",
                 "lines": [{"categoryid": categories[n % len(categories)], "quantity": 1,
                            "unit_cost": {"amount": f"{100 + n % 900}.25", "code": "USD"}}]},
            )  # fmt: skip

    # --- the product, from this process ----------------------------------------------------

    def runtime(self) -> Runtime:
        return Runtime.build(make_engine(self.database_url), self.settings)

    async def connect_and_set_up(self) -> None:
        """Every connection authorized (real consent page) and set up by the product."""
        runtime = self.runtime()
        try:
            for index in range(self.connections):
                self.connection_ids.append(await self._connect(runtime, index))
        finally:
            await runtime.engine.dispose()

    async def _connect(self, runtime: Runtime, index: int) -> int:
        client = next(iter(self.ramp_businesses[index].clients.values()))
        fb_business = self.fb_businesses[index]
        stamp = runtime.clock()
        async with runtime.engine.begin() as db:
            conn = await connections_store.create(db, name=f"Bench {index}", now=stamp)
            for kind, value in (
                (RAMP_CLIENT_ID, client.client_id),
                (RAMP_CLIENT_SECRET, client.client_secret),
            ):
                await credentials_store.put(
                    db, runtime.cipher, connection_id=conn.id, kind=kind, secret=value, now=stamp
                )
        fb = runtime.freshbooks_client(conn)
        try:
            code = await self._approve(fb.authorization_url(state=f"bench-{index}"))
            await fb.exchange_code(code)
            business = next(
                b for b in await fb.businesses() if b.account_id == fb_business.account_id
            )
        finally:
            await fb.aclose()
        async with runtime.engine.begin() as db:
            await connections_store.update(
                db, conn.id, now=stamp, freshbooks_account_id=business.account_id,
                freshbooks_business_id=str(business.business_id),
                ramp_business_id=self.ramp_businesses[index].id,
            )  # fmt: skip
            await connections_store.set_status(db, conn.id, ConnectionStatus.ACTIVE, now=stamp)
        await setup_connection(runtime, conn.id)
        return conn.id

    async def _approve(self, authorize_url: str) -> str:
        async with httpx2.AsyncClient() as browser:
            page = await browser.get(authorize_url)
            page.raise_for_status()
            fields = {k: v[0] for k, v in parse_qs(urlsplit(authorize_url).query).items()}
            answer = await browser.post(
                str(page.url.copy_with(query=None)), data=fields | {"decision": "approve"}
            )
        if answer.status_code != 302:
            raise RuntimeError(f"consent was not granted: {answer.status_code}")
        return parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]

    async def start_backfills(self) -> None:
        runtime = self.runtime()
        try:
            for connection_id in self.connection_ids:
                async with runtime.engine.begin() as db:
                    await start_backfill(db, connection_id, runtime.clock(), restart=True)
        finally:
            await runtime.engine.dispose()

    async def queue_state(self) -> tuple[dict[str, int], bool]:
        """Jobs by state, and whether every connection's backfill has completed."""
        runtime = self.runtime()
        try:
            async with read(runtime.engine) as db:
                counts = await stats(db, now=runtime.clock())
            completed = True
            for connection_id in self.connection_ids:
                progress = await backfill_progress(runtime, connection_id)
                completed = completed and progress is not None and progress.finished
        finally:
            await runtime.engine.dispose()
        return dict(counts.by_state), completed

    async def wait_until_idle(
        self, *, within: float, poll: float = 1.0, on_poll: Any = None
    ) -> dict[str, int]:
        """Block until every backfill completed and no job waits, is retried or runs."""
        deadline = time.monotonic() + within
        while True:
            by_state, completed = await self.queue_state()
            if on_poll is not None:
                on_poll(by_state)
            busy = sum(by_state.get(s, 0) for s in ("available", "retryable", "running"))
            if completed and not busy:
                return by_state
            dead = [w for w in self.workers if w.exit_code is None and w.popen.poll() is not None]
            if dead:
                raise RuntimeError(f"worker {dead[0].name} exited:\n{dead[0].log_tail()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"not idle after {within:.0f} s: {by_state}")
            await asyncio.sleep(poll)

    # --- worker processes ------------------------------------------------------------------

    def environment(self, *, budgets: str = "product") -> dict[str, str]:
        s = self.settings
        assert s.freshbooks_client_secret is not None
        keep = {k: v for k, v in os.environ.items() if not k.startswith("MLC_")}
        return keep | {
            "PYTHONUNBUFFERED": "1",
            "MLC_DATA_DIR": str(self.tmp),
            "MLC_DATABASE_URL": self.database_url,
            "MLC_PUBLIC_URL": s.public_url,
            "MLC_ENCRYPTION_KEYS": BENCH_KEY,
            "MLC_FRESHBOOKS_CLIENT_ID": s.freshbooks_client_id or "",
            "MLC_FRESHBOOKS_CLIENT_SECRET": s.freshbooks_client_secret.get_secret_value(),
            "MLC_FRESHBOOKS_API_BASE_URL": s.freshbooks_api_base_url,
            "MLC_FRESHBOOKS_AUTH_BASE_URL": s.freshbooks_auth_base_url,
            "MLC_RAMP_API_BASE_URL": s.ramp_api_base_url,
            "BENCH_BUDGETS": budgets,
        }

    def start_worker(
        self, name: str, *, concurrency: int = 8, budgets: str = "product"
    ) -> WorkerProcess:
        log = self.tmp / f"{name}.log"
        with log.open("wb") as sink:
            popen = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [sys.executable, "-m", "bench.worker_process", "--concurrency", str(concurrency)],
                cwd=ROOT,
                env=self.environment(budgets=budgets),
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        worker = WorkerProcess(name=name, popen=popen, log=log)
        self.workers.append(worker)
        return worker

    def stop_workers(self) -> None:
        for worker in self.workers:
            worker.stop()

    # --- emulator knobs and counters ---------------------------------------------------------

    def set_latency(self, milliseconds: int) -> None:
        """Every FreshBooks and Ramp API answer takes this long (their fault surfaces)."""
        self.ramp.faults.latency_ms = milliseconds
        self.freshbooks.faults.rules = [
            r for r in self.freshbooks.faults.rules if r.kind != "latency"
        ]
        if milliseconds:
            self.freshbooks.faults.add("latency", seconds=milliseconds / 1000)

    def set_ramp_limit(self, requests: int, window_seconds: int = 10) -> None:
        self.ramp.set_quirks(rate_limit_requests=requests, rate_limit_window_seconds=window_seconds)

    def ramp_calls(self) -> dict[str, int]:
        """API requests Ramp received, by route (token requests included)."""
        return dict(self.ramp.counters.requests_by_route)

    def freshbooks_calls(self) -> dict[str, int]:
        return dict(self.freshbooks.counters.requests)

    def ramp_bills(self) -> int:
        # The emulators serve from another thread: copy each dict's values in one C call
        # (atomic under the GIL) rather than iterate while a create may add to it.
        return sum(
            1 for b in self.ramp_businesses for bill in list(b.bills.values()) if bill.remote_id
        )

    def ramp_vendors(self) -> int:
        return sum(len(b.vendors) for b in self.ramp_businesses)

    def stop(self) -> None:
        self.stop_workers()
        self.served.stop()


def delta(after: Mapping[str, int], before: Mapping[str, int]) -> dict[str, int]:
    """Per-key increase (keys that did not move are left out)."""
    out = {k: v - before.get(k, 0) for k, v in after.items()}
    return {k: v for k, v in sorted(out.items()) if v}


def total(counts: Mapping[str, int], *, exclude_token: bool = False) -> int:
    return sum(v for k, v in counts.items() if not (exclude_token and k.endswith("/token")))


__all__ = [
    "BENCH_KEY",
    "RESULTS_DIR",
    "ROOT",
    "BenchEnv",
    "ServedApps",
    "WorkerProcess",
    "database",
    "delta",
    "free_port",
    "machine_info",
    "now",
    "percentile",
    "total",
    "write_result",
]
