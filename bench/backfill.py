"""Benchmark 2 — backfill: N bills through both emulators with realistic latency and limits.

FreshBooks holds `--bills` one-line bills from `--vendors` bill vendors; both emulators
answer every API call after `--latency-ms` and Ramp enforces its 200 requests / 10 s per
business. One connection is authorized and set up by the product, then one worker process
(the product's worker, its shipped request budgets) runs the backfill to the end: every
page, every vendor and bill sync, the closing full sweep.

Reported:
- elapsed ÷ the Ramp rate-limit floor, where the floor is the Ramp calls a backfill cannot
  avoid (one create per bill and per vendor) ÷ 20 per second; and the same against the
  calls actually made;
- API calls per bill to each system, and Ramp calls per bill beyond vendor creations;
- CPU seconds per bill of the worker process (user + system, from `wait4`).

    python -m bench.backfill [--bills 2000] [--vendors 32] [--latency-ms 80] [--database sqlite]

Goals: within 1.10x of the floor; at most 1.05 Ramp calls per new bill beyond vendors.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import BenchEnv, database, delta, now, total, write_result
from ml_connector.store.ratebudget import DEFAULT_BUDGETS

RAMP_REQUESTS_PER_SECOND = 20  # 200 per rolling 10 s


def progress_printer(env: BenchEnv, started: float, every: float = 15.0) -> Any:
    last = [0.0]

    def show(by_state: dict[str, int]) -> None:
        elapsed = time.monotonic() - started
        if elapsed - last[0] >= every:
            last[0] = elapsed
            print(
                f"  {elapsed:6.0f} s  ramp bills {env.ramp_bills():6d}  jobs {by_state}", flush=True
            )

    return show


async def run_backfill(
    env: BenchEnv, *, concurrency: int, budgets: str, within: float
) -> dict[str, Any]:
    """Start the backfill, run one worker until idle; what it cost."""
    ramp_before, fb_before = env.ramp_calls(), env.freshbooks_calls()
    bills_before, vendors_before = env.ramp_bills(), env.ramp_vendors()
    refused_before = sum(env.ramp.limiter.refused.values())
    worker = env.start_worker(
        f"backfill-{len(env.workers)}", concurrency=concurrency, budgets=budgets
    )
    # Timed from a running worker, as an operator starts a backfill: the interpreter's
    # own start is reported apart.
    worker_start = await worker.wait_ready()
    started = time.monotonic()
    await env.start_backfills()
    final = await env.wait_until_idle(within=within, on_poll=progress_printer(env, started))
    elapsed = time.monotonic() - started
    worker.stop()
    ramp = delta(env.ramp_calls(), ramp_before)
    fb = delta(env.freshbooks_calls(), fb_before)
    return {
        "elapsed_s": round(elapsed, 1),
        "worker_start_s": round(worker_start, 1),
        "jobs_by_state": final,
        "ramp_bills_created": env.ramp_bills() - bills_before,
        "ramp_vendors_created": env.ramp_vendors() - vendors_before,
        "ramp_calls": total(ramp),
        "ramp_calls_by_route": ramp,
        "ramp_429s": sum(env.ramp.limiter.refused.values()) - refused_before,
        "ramp_max_requests_in_10s": max(env.ramp.limiter.max_seen.values(), default=0),
        "freshbooks_calls": total(fb),
        "freshbooks_calls_by_route": fb,
        "worker_cpu_s": round(worker.cpu_seconds or 0.0, 2),
        "worker_peak_rss_mb": round(worker.peak_rss_mb or 0.0, 1),
        "worker_exit_code": worker.exit_code,
    }


def ratios(run: dict[str, Any], bills: int) -> dict[str, Any]:
    vendors = run["ramp_vendors_created"]
    needed = bills + vendors
    floor = needed / RAMP_REQUESTS_PER_SECOND
    floor_made = run["ramp_calls"] / RAMP_REQUESTS_PER_SECOND
    return {
        "ramp_floor_s": round(floor, 1),
        "elapsed_over_floor": round(run["elapsed_s"] / floor, 2),
        "elapsed_over_floor_of_calls_made": round(run["elapsed_s"] / floor_made, 2),
        "ramp_calls_per_bill": round(run["ramp_calls"] / bills, 3),
        "ramp_calls_per_bill_beyond_vendor_creations": round(
            (run["ramp_calls"] - vendors) / bills, 3
        ),
        "freshbooks_calls_per_bill": round(run["freshbooks_calls"] / bills, 3),
        "cpu_s_per_bill": round(run["worker_cpu_s"] / bills, 4),
        "bills_per_s": round(run["ramp_bills_created"] / run["elapsed_s"], 2),
    }


def _shipped_budgets() -> str:
    def one(name: str) -> str:
        budget = DEFAULT_BUDGETS[name]
        window, span = budget.window.total_seconds(), budget.span.total_seconds()
        counted = f" counted over {span:g} s (arrival jitter)" if span != window else ""
        return f"{name} {budget.limit} / {window:g} s{counted}"

    return "shipped: " + ", ".join(one(name) for name in sorted(DEFAULT_BUDGETS))


async def main(args: argparse.Namespace) -> None:
    started = now()
    with database(args.database) as url, tempfile.TemporaryDirectory(prefix="mlc-bf-") as tmp:
        env = BenchEnv(url, Path(tmp))
        env.seed(0, vendors=args.vendors, bills=args.bills)
        env.served.start()
        try:
            await env.connect_and_set_up()
            env.set_latency(args.latency_ms)
            print(f"backfill: {args.bills} bills, {args.latency_ms} ms latency …", flush=True)
            run = await run_backfill(
                env, concurrency=args.concurrency, budgets="product", within=args.within
            )
        finally:
            env.stop()
    computed = ratios(run, args.bills)
    print(f"  {run['elapsed_s']} s; {computed}", flush=True)
    write_result(
        "backfill",
        command=f"python -m bench.backfill --bills {args.bills} --vendors {args.vendors} "
        f"--latency-ms {args.latency_ms} --concurrency {args.concurrency} "
        f"--database {args.database}",
        parameters={
            "bills": args.bills,
            "vendors": args.vendors,
            "latency_ms_per_call": args.latency_ms,
            "ramp_limit": "200 requests / 10 s per business (emulator)",
            "product_budgets": _shipped_budgets(),
            "worker_concurrency": args.concurrency,
            "database": args.database,
        },
        results={**run, **computed},
        goals={
            "elapsed_over_floor_at_most": 1.10,
            "ramp_calls_per_bill_beyond_vendor_creations_at_most": 1.05,
        },
        notes=[
            "Floor = (bills + vendors created) / 20 per second: the Ramp writes no backfill "
            "can avoid, at Ramp's documented limit.",
            "FreshBooks publishes no limit; the product budgets 50 requests / 10 s per "
            "account, so FreshBooks calls per bill / 5 per second is a second floor.",
            "elapsed_s runs from the backfill's start on a worker already running (as an "
            "operator starts one); worker_start_s is the worker process's own start-up.",
        ],
        started=started,
        postgres=args.database == "postgres",
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bills", type=int, default=2000)
    parser.add_argument("--vendors", type=int, default=32)
    parser.add_argument("--latency-ms", type=int, default=80)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--database", default="sqlite", choices=("sqlite", "postgres"))
    parser.add_argument("--within", type=float, default=3600, help="give up after (s)")
    asyncio.run(main(parser.parse_args()))
