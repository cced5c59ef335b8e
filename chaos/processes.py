"""Campaigns on real `ml-connector worker` processes sharing one database.

Built on the e2e tier's `WorkersEnv`: both emulators served by uvicorn on loopback, a
connection set up through the product's own code, and worker subprocesses configured
only by `MLC_*` variables. While a backfill runs, live work keeps arriving (new bills
and edits, enqueued as webhooks would), so every fault lands on a busy system:

- kill-cycles: SIGKILL a seeded-random worker at seeded-random moments, at least 20
  times, starting a replacement each time (a supervisor's job);
- token-races: three workers while FreshBooks' and Ramp's access tokens are expired
  again and again, so several processes want to refresh at once (FreshBooks refresh
  tokens are single use: a reuse is counted by the emulator);
- postgres-restart: PostgreSQL restarted mid-sync; workers that die of it are
  restarted, as a supervisor would, and the count is reported.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from random import Random
from typing import Any

import anyio
import httpx2
from workers_env import WorkersEnv

from chaos.context import Context
from chaos.tally import Tally, integrity_problems, judge_world, ramp_counters
from ml_connector.store import make_engine
from ml_connector.sync.kinds import Kind, Source, enqueue_object_sync

DEADLINE_S = 600.0
LATENCY_MS = 60
POSTGRES_VERSION_DIR = Path("/etc/postgresql")


@asynccontextmanager
async def _env(ctx: Context, name: str, vendors: int, bills: int) -> AsyncIterator[WorkersEnv]:
    with ctx.database_url(name) as url:
        tmp = ctx.tmp / name
        tmp.mkdir(parents=True, exist_ok=True)
        env = WorkersEnv(database_url=url, tmp=tmp)
        env.seed(vendors=vendors, bills=bills)
        env.served.start()
        try:
            await env.connect_and_set_up()
            env.slow_ramp(LATENCY_MS)
            yield env
        finally:
            env.kill_all()
            env.served.stop()


class LiveWork:
    """New bills and edits made in FreshBooks and enqueued as their webhooks would be."""

    def __init__(self, env: WorkersEnv, rng: Random) -> None:
        self.env = env
        self.rng = rng
        self.engine = make_engine(env.database_url)
        self.number = len(env.fb_bill_ids)

    async def wave(self, new: int, edits: int) -> None:
        books = self.env.freshbooks.primary.books
        vendor_ids = sorted(books.vendors)
        categories = sorted(books.categories)[:5]
        touched = []
        for _ in range(new):
            record = books.create(
                "bills",
                {"vendorid": self.rng.choice(vendor_ids), "bill_number": f"LIVE-{self.number:04d}",
                 "issue_date": "2026-10-15", "due_offset_days": 30, "currency_code": "USD",
                 "lines": [{"categoryid": self.rng.choice(categories), "quantity": 1,
                            "unit_cost": {"amount": f"{self.rng.randint(10, 9000)}.{self.number % 100:02d}",
                                          "code": "USD"}}]},
            )  # fmt: skip
            self.number += 1
            self.env.fb_bill_ids.append(str(record.id))
            touched.append(record.id)
        for bill_id in self.rng.sample(sorted(books.bills), k=min(edits, len(books.bills))):
            line = books.bills[bill_id].lines[0]
            books.update(
                "bills", bill_id,
                {"lines": [{"categoryid": line.categoryid, "quantity": 2,
                            "unit_cost": {"amount": f"{self.rng.randint(10, 9000)}.50",
                                          "code": "USD"}}]},
            )  # fmt: skip
            touched.append(bill_id)
        async with self.engine.begin() as db:
            for bill_id in touched:
                await enqueue_object_sync(
                    db, kind=Kind.SYNC_BILL, connection_id=self.env.connection_id,
                    fb_id=bill_id, source=Source.WEBHOOK, now=self.env.clock.now(),
                )  # fmt: skip

    async def dispose_connections(self) -> None:
        """Drop pooled connections (after the database restarted under them)."""
        await self.engine.dispose()

    async def aclose(self) -> None:
        await self.engine.dispose()


class Supervisor:
    """Keeps `size` workers alive, as systemd's `Restart=always` would, and counts the
    exits nobody asked for."""

    def __init__(self, env: WorkersEnv, size: int) -> None:
        self.env = env
        self.size = size
        self.started = 0
        self.killed: set[int] = set()
        self.unexpected_exits: dict[int, int] = {}

    def live(self) -> list[subprocess.Popen[bytes]]:
        return [p for p in self.env.processes if p.poll() is None]

    def fill(self) -> None:
        for proc in self.env.processes:
            code = proc.poll()
            if code is not None and proc.pid not in self.killed:
                self.unexpected_exits.setdefault(proc.pid, code)
        while len(self.live()) < self.size:
            self.env.start_worker(f"w{self.started}")
            self.started += 1

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        self.killed.add(proc.pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)


async def _finished(env: WorkersEnv) -> bool:
    progress = await env.progress()
    if progress is None or not progress.finished:
        return False
    return not await env.unfinished_jobs()


async def _wait_until_done(env: WorkersEnv, supervisor: Supervisor) -> None:
    with anyio.fail_after(DEADLINE_S):
        while not await _finished(env):
            supervisor.fill()
            await anyio.sleep(0.5)


async def _judge(env: WorkersEnv, tally: Tally, supervisor: Supervisor) -> None:
    supervisor.fill()
    live = {p.pid for p in supervisor.live()}
    codes = env.stop_workers()
    stopped_badly = [
        c for p, c in zip(env.processes, codes, strict=True) if p.pid in live and c != 0
    ]
    engine = make_engine(env.database_url)
    try:
        tally.add(await judge_world(engine, env.freshbooks.primary.books, env.ramp.test_business))
    finally:
        await engine.dispose()
    tally.problems += integrity_problems(env.freshbooks, env.ramp)
    tally.counters = ramp_counters(env.ramp) | {
        "freshbooks_refreshes": env.freshbooks.counters.refreshes,
        "freshbooks_refresh_token_reuses": env.freshbooks.counters.refresh_token_reuses,
        "worker_processes_started": supervisor.started,
        "worker_unexpected_exits": len(supervisor.unexpected_exits) + len(stopped_badly),
        "jobs_rescued_from_dead_workers": len(await env.rescued_jobs()),
    }
    if stopped_badly:
        tally.problems.append(f"workers did not stop cleanly on SIGTERM: {stopped_badly}")
    if not tally.ok:
        kept = Path(tempfile.mkdtemp(prefix=f"mlc-chaos-{tally.campaign}-"))
        for log in env.tmp.glob("w*.log"):
            shutil.copy(log, kept / log.name)
        tally.faults["worker_logs_kept_in"] = str(kept)


async def kill_cycles(ctx: Context) -> Tally:
    started = time.monotonic()
    rng = ctx.rng("kill-cycles")
    tally = Tally("kill-cycles", ctx.seed, ctx.database)
    kills_wanted = max(20, ctx.count(24))
    async with _env(ctx, "kill-cycles", vendors=10, bills=ctx.count(60, 20)) as env:
        supervisor = Supervisor(env, size=2)
        live = LiveWork(env, rng)
        try:
            supervisor.fill()
            kills: list[dict[str, Any]] = []
            while len(kills) < kills_wanted:
                await anyio.sleep(rng.uniform(0.8, 3.0))
                candidates = supervisor.live()
                victim = rng.choice(candidates)
                held = await env.running_jobs_of(victim)
                supervisor.kill(victim)
                kills.append({"at_s": round(time.monotonic() - started, 1), "held": len(held)})
                supervisor.fill()
                if len(kills) % 2 == 0:
                    await live.wave(new=rng.randint(1, 3), edits=rng.randint(1, 3))
            await _wait_until_done(env, supervisor)
            mid_job = sum(1 for k in kills if k["held"])
            tally.faults = {"sigkills": len(kills), "sigkills_mid_job": mid_job, "kills": kills}
            await _judge(env, tally, supervisor)
        finally:
            await live.aclose()
    if tally.faults.get("sigkills_mid_job", 0) == 0:
        tally.problems.append("no SIGKILL landed while a job ran: the campaign is void")
    tally.elapsed_s = time.monotonic() - started
    return tally


def _expire(env: WorkersEnv) -> tuple[int, int]:
    freshbooks = env.expire_freshbooks_tokens()
    answer = httpx2.post(
        f"http://127.0.0.1:{env.ramp_port}/_sandbox/tokens/expire", json={}, timeout=10
    )
    answer.raise_for_status()
    return freshbooks, int(answer.json()["expired"])


async def token_races(ctx: Context) -> Tally:
    started = time.monotonic()
    rng = ctx.rng("token-races")
    tally = Tally("token-races", ctx.seed, ctx.database)
    async with _env(ctx, "token-races", vendors=10, bills=ctx.count(60, 20)) as env:
        supervisor = Supervisor(env, size=3)
        live = LiveWork(env, rng)
        try:
            supervisor.fill()
            refreshes_before = env.freshbooks.counters.refreshes
            expiries = []
            for _ in range(ctx.count(10, 6)):
                await anyio.sleep(rng.uniform(1.0, 4.0))
                expiries.append(_expire(env))
                await live.wave(new=rng.randint(0, 2), edits=rng.randint(1, 3))
            await _wait_until_done(env, supervisor)
            tally.faults = {
                "expiries": len(expiries),
                "freshbooks_tokens_expired": sum(f for f, _ in expiries),
                "ramp_tokens_expired": sum(r for _, r in expiries),
                "freshbooks_refreshes_during_run": env.freshbooks.counters.refreshes
                - refreshes_before,
            }
            await _judge(env, tally, supervisor)
        finally:
            await live.aclose()
    tally.elapsed_s = time.monotonic() - started
    return tally


def _restart_postgres() -> float:
    """Restart the local cluster; returns the seconds it was down (about)."""
    versions = sorted(p.name for p in POSTGRES_VERSION_DIR.iterdir())
    begun = time.monotonic()
    command = ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "restart"]
    # A fixed command found on the operator's PATH, as they would type it.
    subprocess.run([*command, "-m", "fast"], check=True, capture_output=True, timeout=120)  # noqa: S603
    return time.monotonic() - begun


async def postgres_restart(ctx: Context) -> Tally:
    started = time.monotonic()
    rng = ctx.rng("postgres-restart")
    tally = Tally("postgres-restart", ctx.seed, ctx.database)
    async with _env(ctx, "postgres-restart", vendors=10, bills=ctx.count(60, 20)) as env:
        supervisor = Supervisor(env, size=2)
        live = LiveWork(env, rng)
        try:
            supervisor.fill()
            with anyio.fail_after(DEADLINE_S):
                while len(env.ramp.test_business.bills) < 8:  # noqa: ASYNC110 - other processes
                    await anyio.sleep(0.2)
            await anyio.sleep(rng.uniform(0.0, 2.0))
            in_flight = sum([len(await env.running_jobs_of(p)) for p in supervisor.live()])
            down_s = await anyio.to_thread.run_sync(_restart_postgres)
            await live.dispose_connections()
            await live.wave(new=rng.randint(2, 4), edits=rng.randint(2, 4))
            await _wait_until_done(env, supervisor)
            tally.faults = {"restarts": 1, "restart_seconds": round(down_s, 1),
                            "jobs_in_flight_at_restart": in_flight}  # fmt: skip
            await _judge(env, tally, supervisor)
        finally:
            await live.aclose()
    tally.elapsed_s = time.monotonic() - started
    return tally


__all__ = ["kill_cycles", "postgres_restart", "token_races"]
