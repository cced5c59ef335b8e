"""A worker process for the benchmarks: exactly `ml-connector worker --no-scheduler`, except
that `BENCH_BUDGETS=off` lifts the product's own request budgets (the "limit off" runs).

With `BENCH_BUDGETS=product` (the default) it runs the shipped budgets, so the backfill
benchmark measures what an operator gets. With `off` every request still books through
the shared `DbRateLimiter` (same code path, same database work), only with a budget no
run reaches — the memory run needs that to push 100,000 bills through in minutes.

`BENCH_PROFILE=<file>` runs the worker under cProfile and writes its stats there on exit
(`python -m pstats <file>`), to find where a benchmark's CPU goes. cProfile cannot see
inside SQLite, which runs on aiosqlite's thread without the GIL: `BENCH_SQL_PROFILE=<file>`
writes each statement's count and total time (JSON, slowest first) on exit instead.

    python -m bench.worker_process --concurrency 8
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import sys
import time
import traceback
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from ml_connector.cli.processes import WorkerOptions, run_worker
from ml_connector.logging import configure_logging
from ml_connector.settings import load_settings
from ml_connector.store import DbRateLimiter, make_engine
from ml_connector.store.ratebudget import Budget
from ml_connector.sync.runtime import Runtime

UNLIMITED = Budget(limit=1_000_000_000, window=timedelta(seconds=1))


class SqlTimes:
    """Total time and count per statement text, from the engine's cursor events."""

    def __init__(self) -> None:
        self.totals: dict[str, list[float]] = {}

    def attach(self, engine: AsyncEngine) -> None:
        started: dict[int, float] = {}

        @event.listens_for(engine.sync_engine, "before_cursor_execute")
        def before(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
            started[id(cursor)] = time.perf_counter()

        @event.listens_for(engine.sync_engine, "after_cursor_execute")
        def after(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
            begun = started.pop(id(cursor), None)
            if begun is not None:
                entry = self.totals.setdefault(" ".join(statement.split())[:300], [0, 0.0])
                entry[0] += 1
                entry[1] += time.perf_counter() - begun

    def write(self, path: str) -> None:
        rows = sorted(self.totals.items(), key=lambda kv: -kv[1][1])
        report = [{"seconds": round(t, 3), "count": int(n), "sql": sql} for sql, (n, t) in rows]
        Path(path).write_text(json.dumps(report, indent=1))


SQL_TIMES = SqlTimes()


async def main(concurrency: int) -> None:
    settings = load_settings()
    engine = make_engine(settings.resolved_database_url)
    if os.environ.get("BENCH_SQL_PROFILE"):
        SQL_TIMES.attach(engine)
    try:
        runtime = Runtime.build(engine, settings)
        if os.environ.get("BENCH_BUDGETS", "product") == "off":
            runtime.rate_limiter = DbRateLimiter(
                engine,
                clock=runtime.clock,
                budgets={"ramp": UNLIMITED, "freshbooks": UNLIMITED},
            )
        options = WorkerOptions(
            concurrency=concurrency,
            poll_interval=0.1,
            lease=timedelta(seconds=60),
            scheduler=False,
            rescue_every=timedelta(seconds=5),
        )
        await run_worker(runtime, options)
    except BaseException:
        # Said at once: a task that ignores cancellation would otherwise hold the
        # traceback back until the interpreter exits, which it then never does.
        traceback.print_exc()
        sys.stderr.flush()
        raise
    finally:
        await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    configure_logging(json=True)
    profile_to = os.environ.get("BENCH_PROFILE")
    profiler = cProfile.Profile() if profile_to else None
    if profiler is not None:
        profiler.enable()
    try:
        anyio.run(main, args.concurrency)
    finally:
        if profiler is not None and profile_to:
            profiler.disable()
            profiler.dump_stats(profile_to)
        sql_to = os.environ.get("BENCH_SQL_PROFILE")
        if sql_to:
            SQL_TIMES.write(sql_to)
