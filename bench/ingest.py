"""Benchmark 1 — webhook ingest: signed FreshBooks deliveries vs a bare 200 on one stack.

One server process (`bench.ingest_server`: the served app with the admin UI mounted, no
in-process worker, as a scale-out `serve` runs) and one load process (this one) with
`--concurrency` requests in flight over keep-alive connections. Each round sends a phase
of bare requests, then a phase of webhook deliveries, each a distinct `bill.create` signed
with the connection's verifier exactly as FreshBooks signs it (so none is deduplicated:
every one verifies, is recorded in the inbox and enqueues a sync job in one transaction,
which it shares with the deliveries that arrived while the previous one was written).
Alternating phases inside one run keep both endpoints under the same conditions; the
ratios use all rounds together. The server's own CPU time per request (user + system,
from /proc on Linux) is reported beside the latencies: with a fixed number in flight, a
CPU-bound server's latency follows it.

    python -m bench.ingest [--databases sqlite,postgres] [--requests 1500] [--concurrency 32]

Goal: webhook ack p99 within 2x of the bare endpoint's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median
from typing import Any

import httpx2
from pydantic import SecretStr

from bench.common import (
    BENCH_KEY,
    ROOT,
    database,
    free_port,
    now,
    percentile,
    write_result,
)
from bench.ingest_server import BARE_PATH
from ml_connector.settings import Settings
from ml_connector.store import connections as connections_store
from ml_connector.store import credentials as credentials_store
from ml_connector.store import make_engine
from ml_connector.store.connections import ConnectionStatus
from ml_connector.sync.runtime import Runtime
from ml_connector.sync.webhook_secrets import FRESHBOOKS_VERIFIER
from ml_connector_emulators.freshbooks.signing import HEADER, form_body, sign

ACCOUNT_ID = "bEnCh1"
BUSINESS_ID = "734001"
CALLBACK_ID = "880001"
VERIFIER = "bench-verifier-Zp7q2LxW9c"


@dataclass
class Phase:
    kind: str
    elapsed: float
    latencies: list[float]
    statuses: Counter[int] = field(default_factory=Counter)
    server_cpu_s: float | None = None

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.elapsed


async def prepare(database_url: str, tmp: Path) -> int:
    """A connection whose FreshBooks callback verifier is already confirmed."""
    settings = Settings(
        data_dir=tmp, database_url=database_url, encryption_keys=[SecretStr(BENCH_KEY)]
    )
    runtime = Runtime.build(make_engine(database_url), settings)
    try:
        stamp = runtime.clock()
        async with runtime.engine.begin() as db:
            conn = await connections_store.create(db, name="Ingest bench", now=stamp)
            await connections_store.update(
                db, conn.id, now=stamp, freshbooks_account_id=ACCOUNT_ID,
                freshbooks_business_id=BUSINESS_ID,
            )  # fmt: skip
            await connections_store.set_status(db, conn.id, ConnectionStatus.ACTIVE, now=stamp)
            await credentials_store.put(
                db,
                runtime.cipher,
                connection_id=conn.id,
                kind=FRESHBOOKS_VERIFIER + CALLBACK_ID,
                secret=VERIFIER,
                now=stamp,
            )
        return conn.id
    finally:
        await runtime.engine.dispose()


def start_server(database_url: str, tmp: Path, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLC_")} | {
        "PYTHONUNBUFFERED": "1",
        "MLC_DATA_DIR": str(tmp),
        "MLC_DATABASE_URL": database_url,
        "MLC_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "MLC_ENCRYPTION_KEYS": BENCH_KEY,
        "MLC_ADMIN_PASSWORD": "bench-admin-password",
    }
    with (tmp / "server.log").open("wb") as log:
        return subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "bench.ingest_server", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


async def wait_healthy(base: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    async with httpx2.AsyncClient() as client:
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise RuntimeError("the ingest server exited during startup")
            try:
                if (await client.get(f"{base}/healthz")).status_code == 200:
                    return
            except httpx2.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise TimeoutError("the ingest server never became healthy")


class Deliveries:
    """Distinct signed `bill.create` deliveries, as FreshBooks would post them."""

    def __init__(self, connection_id: int) -> None:
        self.path = f"/webhooks/freshbooks/{connection_id}"
        self._next = 100_000

    def next(self) -> tuple[bytes, dict[str, str]]:
        self._next += 1
        fields = [
            ("name", "bill.create"),
            ("object_id", str(self._next)),
            ("account_id", ACCOUNT_ID),
            ("business_id", BUSINESS_ID),
            ("identity_id", "51234"),
            ("user_id", "1"),
        ]
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            HEADER: sign(fields, VERIFIER),
        }
        return form_body(fields), headers


def server_cpu(server: subprocess.Popen[bytes]) -> float | None:
    """User + system seconds of the live server process (Linux /proc), else None."""
    try:
        fields = Path(f"/proc/{server.pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run_phase(
    client: httpx2.AsyncClient,
    kind: str,
    deliveries: Deliveries,
    requests: int,
    concurrency: int,
    *,
    server: subprocess.Popen[bytes] | None = None,
) -> Phase:
    bodies = [deliveries.next() for _ in range(requests)]
    path = BARE_PATH if kind == "bare" else deliveries.path
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    queue = iter(bodies)

    async def sender() -> None:
        for body, headers in queue:
            started = time.perf_counter()
            answer = await client.post(path, content=body, headers=headers)
            latencies.append(time.perf_counter() - started)
            statuses[answer.status_code] += 1

    cpu_before = server_cpu(server) if server is not None else None
    started = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    cpu_after = server_cpu(server) if server is not None else None
    cpu = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
    return Phase(kind, elapsed, latencies, statuses, cpu)


def summarize(phases: list[Phase], kind: str) -> dict[str, Any]:
    mine = [p for p in phases if p.kind == kind]
    latencies = [x for p in mine for x in p.latencies]
    statuses: Counter[int] = Counter()
    for p in mine:
        statuses.update(p.statuses)
    cpu = [p.server_cpu_s for p in mine if p.server_cpu_s is not None]
    cpu_ms = round(sum(cpu) / len(latencies) * 1000, 2) if len(cpu) == len(mine) else None
    return {
        "requests": len(latencies),
        "server_cpu_ms_per_request": cpu_ms,
        "throughput_per_s": round(median(p.throughput for p in mine), 1),
        "throughput_by_round": [round(p.throughput, 1) for p in mine],
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 2),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
        "max_ms": round(max(latencies) * 1000, 2),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
    }


async def bench_database(
    kind: str, *, requests: int, concurrency: int, rounds: int
) -> dict[str, Any]:
    with database(kind) as url, tempfile.TemporaryDirectory(prefix="mlc-ingest-") as tmp_name:
        tmp = Path(tmp_name)
        connection_id = await prepare(url, tmp)
        port = free_port()
        server = start_server(url, tmp, port)
        base = f"http://127.0.0.1:{port}"
        try:
            await wait_healthy(base, server)
            deliveries = Deliveries(connection_id)
            limits = httpx2.Limits(
                max_connections=concurrency, max_keepalive_connections=concurrency
            )
            async with httpx2.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
                for warm in ("bare", "webhook"):
                    await run_phase(client, warm, deliveries, min(300, requests), concurrency)
                phases: list[Phase] = []
                for _ in range(rounds):
                    for phase_kind in ("bare", "webhook"):
                        phases.append(
                            await run_phase(
                                client, phase_kind, deliveries, requests, concurrency, server=server
                            )
                        )
        finally:
            server.terminate()
            server.wait(timeout=60)
        bare, webhook = summarize(phases, "bare"), summarize(phases, "webhook")
        accepted = webhook["statuses"].get("200", 0)
        return {
            "bare": bare,
            "webhook": webhook,
            "webhooks_accepted": accepted,
            "throughput_ratio": round(webhook["throughput_per_s"] / bare["throughput_per_s"], 3),
            "p50_ratio": round(webhook["p50_ms"] / bare["p50_ms"], 2),
            "p99_ratio": round(webhook["p99_ms"] / bare["p99_ms"], 2),
            "p99_goal_met": webhook["p99_ms"] <= 2 * bare["p99_ms"],
        }


async def main(databases: list[str], requests: int, concurrency: int, rounds: int) -> None:
    started = now()
    results = {}
    for kind in databases:
        print(f"ingest: {kind} …", flush=True)
        results[kind] = await bench_database(
            kind, requests=requests, concurrency=concurrency, rounds=rounds
        )
        r = results[kind]
        print(
            f"  bare {r['bare']['throughput_per_s']}/s p50 {r['bare']['p50_ms']} ms "
            f"p99 {r['bare']['p99_ms']} ms | webhook {r['webhook']['throughput_per_s']}/s "
            f"p50 {r['webhook']['p50_ms']} ms p99 {r['webhook']['p99_ms']} ms | "
            f"throughput x{r['throughput_ratio']} p50 x{r['p50_ratio']} p99 x{r['p99_ratio']} | "
            f"server CPU/request bare {r['bare']['server_cpu_ms_per_request']} ms, "
            f"webhook {r['webhook']['server_cpu_ms_per_request']} ms",
            flush=True,
        )
    write_result(
        "ingest",
        command=f"python -m bench.ingest --databases {','.join(databases)} --requests "
        f"{requests} --concurrency {concurrency} --rounds {rounds}",
        parameters={
            "requests_per_phase": requests,
            "concurrency": concurrency,
            "rounds": rounds,
            "server": "bench.ingest_server (serve --no-worker app "
            "+ POST /bench/bare), uvicorn, 1 process",
            "load": "one asyncio process, httpx2 keep-alive, same machine",
        },
        results=results,
        goals={"webhook_p99_over_bare_p99_at_most": 2.0},
        notes=[
            "Ratios are webhook / bare: throughput below 1 and latency above 1 is the cost of "
            "verifying, recording and enqueueing each delivery (deliveries arriving together "
            "share one transaction: group commit).",
            "server_cpu_ms_per_request is the server process's user + system CPU over each "
            "phase divided by its requests (driver threads included; the database server's "
            "own CPU is not).",
            "Load generator and server share the machine's cores, as do PostgreSQL and SQLite.",
        ],
        started=started,
        postgres="postgres" in databases,
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--requests", type=int, default=1500, help="requests per phase")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.databases.split(","), args.requests, args.concurrency, args.rounds))
