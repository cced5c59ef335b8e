"""Benchmark 3 — re-sync with nothing changed: how many Ramp calls does it make?

A first backfill syncs `--bills` bills; nothing changes in FreshBooks; then the two ways
an operator re-syncs run one after the other, each to the end, and the Ramp calls each
made are counted (token requests included — any request spends Ramp's budget):

- `sync --sweep --full`: the reconciliation sweep, which lists FreshBooks and enqueues only
  objects whose version changed since it last saw them;
- `sync --restart`: a new backfill run, which re-plans every object.

Latency is off and the request budgets are lifted (the count, not the time, is measured).

    python -m bench.resync [--bills 500] [--database sqlite]

Goal: a no-change re-sync makes 0 Ramp calls.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.backfill import run_backfill
from bench.common import BenchEnv, database, delta, now, total, write_result
from ml_connector.sync.sweep import request_full_sweep


async def run_full_sweep(env: BenchEnv, *, within: float) -> dict[str, Any]:
    ramp_before, fb_before = env.ramp_calls(), env.freshbooks_calls()
    worker = env.start_worker(f"sweep-{len(env.workers)}", budgets="off")
    runtime = env.runtime()
    started = time.monotonic()
    try:
        for connection_id in env.connection_ids:
            async with runtime.engine.begin() as db:
                await request_full_sweep(db, connection_id=connection_id, now=runtime.clock())
    finally:
        await runtime.engine.dispose()
    final = await env.wait_until_idle(within=within)
    elapsed = time.monotonic() - started
    worker.stop()
    ramp = delta(env.ramp_calls(), ramp_before)
    fb = delta(env.freshbooks_calls(), fb_before)
    return {
        "elapsed_s": round(elapsed, 1),
        "jobs_by_state": final,
        "ramp_calls": total(ramp),
        "ramp_calls_by_route": ramp,
        "freshbooks_calls": total(fb),
        "freshbooks_calls_by_route": fb,
    }


async def main(args: argparse.Namespace) -> None:
    started = now()
    with database(args.database) as url, tempfile.TemporaryDirectory(prefix="mlc-rs-") as tmp:
        env = BenchEnv(url, Path(tmp))
        env.seed(0, vendors=args.vendors, bills=args.bills)
        env.served.start()
        try:
            await env.connect_and_set_up()
            env.set_ramp_limit(1_000_000)
            print(f"resync: first backfill of {args.bills} bills …", flush=True)
            first = await run_backfill(env, concurrency=8, budgets="off", within=args.within)
            print("resync: full sweep with nothing changed …", flush=True)
            sweep = await run_full_sweep(env, within=args.within)
            print("resync: backfill restart with nothing changed …", flush=True)
            again = await run_backfill(env, concurrency=8, budgets="off", within=args.within)
        finally:
            env.stop()
    for name, run in (("sweep", sweep), ("backfill restart", again)):
        print(f"  {name}: {run['ramp_calls']} Ramp calls {run.get('ramp_calls_by_route')}")
    write_result(
        "resync",
        command=f"python -m bench.resync --bills {args.bills} --vendors {args.vendors} "
        f"--database {args.database}",
        parameters={
            "bills": args.bills,
            "vendors": args.vendors,
            "latency_ms_per_call": 0,
            "budgets": "lifted (counts only)",
            "database": args.database,
        },
        results={
            "first_backfill": {
                k: first[k]
                for k in (
                    "elapsed_s",
                    "ramp_bills_created",
                    "ramp_vendors_created",
                    "ramp_calls",
                    "freshbooks_calls",
                )
            },
            "full_sweep_no_change": sweep,
            "backfill_restart_no_change": {
                k: again[k]
                for k in (
                    "elapsed_s",
                    "jobs_by_state",
                    "ramp_bills_created",
                    "ramp_calls",
                    "ramp_calls_by_route",
                    "freshbooks_calls",
                    "freshbooks_calls_by_route",
                )
            },
            "ramp_calls_full_sweep": sweep["ramp_calls"],
            "ramp_calls_backfill_restart": again["ramp_calls"],
            "ramp_calls_per_bill_backfill_restart": round(again["ramp_calls"] / args.bills, 3),
        },
        goals={"ramp_calls_on_no_change_resync": 0},
        notes=[
            "The sweep is the re-sync the scheduler runs every 15 minutes; a backfill "
            "restart is what `ml-connector sync --restart` does.",
        ],
        started=started,
        postgres=args.database == "postgres",
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bills", type=int, default=500)
    parser.add_argument("--vendors", type=int, default=32)
    parser.add_argument("--database", default="sqlite", choices=("sqlite", "postgres"))
    parser.add_argument("--within", type=float, default=1800, help="give up after (s)")
    asyncio.run(main(parser.parse_args()))
