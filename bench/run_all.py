"""`make bench`: every benchmark, one after the other, each in its own process.

Separate processes keep one benchmark's emulators, threads and memory out of the next
one's numbers. Results land in `bench/results/<name>.json`; a failed benchmark is
reported and the rest still run, and the exit status says whether all succeeded.

    python -m bench.run_all [--only ingest,backfill,resync,memory,scaleout]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from bench.common import ROOT

BENCHMARKS: dict[str, list[str]] = {
    "ingest": [],
    "backfill": [],
    "resync": [],
    "memory": [],
    "scaleout": [],
}
"""Each runs with its defaults; see each module's docstring for the knobs."""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", default=",".join(BENCHMARKS))
    chosen = parser.parse_args().only.split(",")
    unknown = [name for name in chosen if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    failed = []
    for name in chosen:
        print(f"== {name}", flush=True)
        started = time.monotonic()
        code = subprocess.call(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", f"bench.{name}", *BENCHMARKS[name]], cwd=ROOT
        )
        print(f"== {name}: exit {code} after {time.monotonic() - started:.0f} s", flush=True)
        if code:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
