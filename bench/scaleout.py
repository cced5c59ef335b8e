"""Benchmark 5 — scale-out: 1, 2 and 4 worker processes on PostgreSQL, many connections.

`--connections` firms, each its own FreshBooks business and Ramp business (so its own
Ramp budget), `--bills` bills each, `--latency-ms` on every API call. For each worker
count a fresh world and database: every connection authorized and set up, then all
backfills started at once and N worker processes (the product's worker; request budgets
lifted so no single firm's limit is what is measured) run them to idle. Throughput is
bills synced ÷ elapsed seconds; Ramp's own 200 / 10 s per business stays enforced by the
emulator and its 429s are reported.

    python -m bench.scaleout [--workers 1,2,4] [--connections 8] [--bills 100]

The machine's cores bound this: with 2 cores, 4 processes share them with PostgreSQL and
both emulators.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import BenchEnv, database, now, write_result


async def one_count(args: argparse.Namespace, workers: int) -> dict[str, Any]:
    with database("postgres") as url, tempfile.TemporaryDirectory(prefix="mlc-so-") as tmp:
        env = BenchEnv(url, Path(tmp), connections=args.connections)
        for index in range(args.connections):
            env.seed(index, vendors=args.vendors, bills=args.bills)
        env.served.start()
        try:
            await env.connect_and_set_up()
            env.set_latency(args.latency_ms)
            procs = [
                env.start_worker(f"w{n}", concurrency=args.concurrency, budgets="off")
                for n in range(workers)
            ]
            started = time.monotonic()
            await env.start_backfills()
            final = await env.wait_until_idle(within=args.within)
            elapsed = time.monotonic() - started
            env.stop_workers()
            synced = env.ramp_bills()
            refused = sum(env.ramp.limiter.refused.values())
            max_seen = max(env.ramp.limiter.max_seen.values(), default=0)
        finally:
            env.stop()
    return {
        "workers": workers,
        "bills_synced": synced,
        "elapsed_s": round(elapsed, 1),
        "bills_per_s": round(synced / elapsed, 2),
        "jobs_by_state": final,
        "worker_cpu_s": [round(p.cpu_seconds or 0.0, 1) for p in procs],
        "worker_peak_rss_mb": [round(p.peak_rss_mb or 0.0, 1) for p in procs],
        "ramp_429s": refused,
        "ramp_max_requests_in_10s_per_business": max_seen,
    }


async def main(args: argparse.Namespace) -> None:
    started = now()
    counts = [int(n) for n in args.workers.split(",")]
    runs = []
    for workers in counts:
        print(f"scale-out: {workers} worker(s) …", flush=True)
        run = await one_count(args, workers)
        print(f"  {run['bills_synced']} bills in {run['elapsed_s']} s = {run['bills_per_s']}/s")
        runs.append(run)
    base = runs[0]["bills_per_s"]
    write_result(
        "scaleout",
        command=f"python -m bench.scaleout --workers {args.workers} --connections "
        f"{args.connections} --bills {args.bills} --vendors {args.vendors} --latency-ms "
        f"{args.latency_ms} --concurrency {args.concurrency}",
        parameters={
            "database": "postgres",
            "connections": args.connections,
            "bills_per_connection": args.bills,
            "vendors_per_connection": args.vendors,
            "latency_ms_per_call": args.latency_ms,
            "worker_concurrency": args.concurrency,
            "budgets": "product budgets lifted; emulator enforces Ramp 200 / 10 s per business",
        },
        results={
            "runs": runs,
            "bills_per_s_by_workers": {str(r["workers"]): r["bills_per_s"] for r in runs},
            "speedup_by_workers": {
                str(r["workers"]): round(r["bills_per_s"] / base, 2) for r in runs
            },
        },
        goals={"report": "throughput per worker count"},
        notes=["2 cores are shared by the workers, PostgreSQL, the emulators and this process."],
        started=started,
        postgres=True,
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--bills", type=int, default=100)
    parser.add_argument("--vendors", type=int, default=8)
    parser.add_argument("--latency-ms", type=int, default=80)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--within", type=float, default=3600, help="give up after (s)")
    asyncio.run(main(parser.parse_args()))
