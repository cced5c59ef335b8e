"""Benchmark 4 — memory: the worker's peak RSS across backfills of growing size.

Each size is a fresh world and database: `N` bills, zero latency, Ramp's limit and the
product's budgets lifted, one worker process run to idle. Peak RSS is the kernel's
(`wait4` ru_maxrss); RSS is also sampled every second against the bills synced so far,
so a leak shows as a slope inside one run as well as across sizes.

    python -m bench.memory [--sizes 500,1000,2000] [--database sqlite]

Goal: peak RSS under 250 MB for a 100,000-bill backfill, flat in the number of bills.
`--sizes 100000` runs that point (hours on a 2-core machine; see the README).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import BenchEnv, database, now, write_result


async def one_size(kind: str, bills: int, vendors: int, within: float) -> dict[str, Any]:
    with database(kind) as url, tempfile.TemporaryDirectory(prefix="mlc-mem-") as tmp:
        env = BenchEnv(url, Path(tmp))
        env.seed(0, vendors=vendors, bills=bills)
        env.served.start()
        try:
            await env.connect_and_set_up()
            env.set_ramp_limit(1_000_000_000)
            worker = env.start_worker("memory", concurrency=8, budgets="off")
            started = time.monotonic()
            samples: list[dict[str, float]] = []

            def sample(_: dict[str, int]) -> None:
                rss = worker.current_rss_mb()
                if rss is not None:
                    samples.append(
                        {"s": round(time.monotonic() - started, 1),
                         "bills": env.ramp_bills(), "rss_mb": round(rss, 1)}
                    )  # fmt: skip

            await env.start_backfills()
            await env.wait_until_idle(within=within, on_poll=sample)
            elapsed = time.monotonic() - started
            worker.stop()
            synced = env.ramp_bills()
        finally:
            env.stop()
    steady = [s["rss_mb"] for s in samples if s["bills"] >= bills * 0.25]
    return {
        "bills": bills,
        "bills_synced": synced,
        "elapsed_s": round(elapsed, 1),
        "peak_rss_mb": round(worker.peak_rss_mb or 0.0, 1),
        "rss_at_25pct_mb": steady[0] if steady else None,
        "rss_at_end_mb": samples[-1]["rss_mb"] if samples else None,
        "cpu_s": round(worker.cpu_seconds or 0.0, 1),
        "samples": samples[:: max(1, len(samples) // 40)],
    }


async def main(args: argparse.Namespace) -> None:
    started = now()
    sizes = [int(s) for s in args.sizes.split(",")]
    runs = []
    for bills in sizes:
        print(f"memory: {bills} bills …", flush=True)
        run = await one_size(args.database, bills, args.vendors, args.within)
        print(f"  peak RSS {run['peak_rss_mb']} MB in {run['elapsed_s']} s", flush=True)
        runs.append(run)
    peaks = [r["peak_rss_mb"] for r in runs]
    slope = (peaks[-1] - peaks[0]) / (sizes[-1] - sizes[0]) * 1000 if len(sizes) > 1 else None
    largest = runs[-1]
    write_result(
        "memory",
        command=f"python -m bench.memory --sizes {args.sizes} --vendors {args.vendors} "
        f"--database {args.database}",
        parameters={
            "sizes": sizes,
            "vendors": args.vendors,
            "latency_ms_per_call": 0,
            "limits": "off (emulator and product budgets)",
            "database": args.database,
        },
        results={
            "runs": runs,
            "peak_rss_mb_by_size": dict(zip(map(str, sizes), peaks, strict=True)),
            "peak_rss_growth_mb_per_1000_bills": None if slope is None else round(slope, 2),
            "largest_size_measured": sizes[-1],
            "peak_rss_mb_at_largest": largest["peak_rss_mb"],
            "hundred_thousand_measured": 100_000 in sizes,
        },
        goals={"peak_rss_mb_at_100000_bills_under": 250, "flat_in_bills": True},
        notes=[
            "Peak RSS is the worker process alone (the emulators run in the benchmark process).",
        ],
        started=started,
        postgres=args.database == "postgres",
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="500,1000,2000")
    parser.add_argument("--vendors", type=int, default=32)
    parser.add_argument("--database", default="sqlite", choices=("sqlite", "postgres"))
    parser.add_argument("--within", type=float, default=7200, help="give up after (s)")
    asyncio.run(main(parser.parse_args()))
