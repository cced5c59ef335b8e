"""`python -m chaos [campaign …] --seed N`: run fault campaigns and write their results.

With no campaign named, every campaign runs, the PostgreSQL restart last (it briefly
takes down the server other work may share). Exit status 0 only if every campaign ran
with zero duplicates, zero losses and no integrity problem.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import shutil
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio

import chaos  # noqa: F401 - puts the shared test support on sys.path
from chaos.context import POSTGRESQL, SQLITE, Context
from chaos.tally import Tally
from ml_connector.logging import configure_logging

RESULTS = Path(__file__).resolve().parent / "results"

Campaign = Callable[[Context], Awaitable[Tally]]
CAMPAIGNS: dict[str, tuple[str, str]] = {
    "kill-cycles": ("chaos.processes:kill_cycles", POSTGRESQL),
    "commit-then-drop": ("chaos.drops:run", SQLITE),
    "429-storms": ("chaos.storms:run", SQLITE),
    "token-races": ("chaos.processes:token_races", POSTGRESQL),
    "webhooks": ("chaos.webhooks:run", SQLITE),
    "postgres-restart": ("chaos.processes:postgres_restart", POSTGRESQL),
}
"""Name → (campaign, default database). Order matters: the restart goes last. Loaded
lazily: the in-process campaigns need no uvicorn, the process ones no web app."""


def _load(target: str) -> Campaign:
    module, _, function = target.partition(":")
    campaign: Campaign = getattr(importlib.import_module(module), function)
    return campaign


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m chaos", description=__doc__)
    parser.add_argument("campaigns", nargs="*", metavar="campaign", help=", ".join(CAMPAIGNS))
    parser.add_argument("--seed", type=int, default=7, help="seed of every fault schedule")
    parser.add_argument(
        "--database",
        choices=(SQLITE, POSTGRESQL),
        help="override each campaign's default database (the restart needs PostgreSQL)",
    )
    parser.add_argument("--scale", type=float, default=1.0, help="multiply object counts")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where JSON goes")
    args = parser.parse_args(argv)
    unknown = [c for c in args.campaigns if c not in CAMPAIGNS]
    if unknown:
        parser.error(f"unknown campaign(s) {unknown}; choose from {', '.join(CAMPAIGNS)}")
    return args


async def _run_all(args: argparse.Namespace, tmp: Path) -> list[Tally]:
    chosen = [name for name in CAMPAIGNS if not args.campaigns or name in args.campaigns]
    args.results.mkdir(parents=True, exist_ok=True)
    tallies = []
    for name in chosen:
        target, default_db = CAMPAIGNS[name]
        campaign = _load(target)
        database = default_db if name == "postgres-restart" else (args.database or default_db)
        ctx = Context(seed=args.seed, tmp=tmp, database=database, scale=args.scale)
        print(f"… {name} (seed {args.seed}, {database})", flush=True)
        tally = await campaign(ctx)
        (args.results / f"{name}.json").write_text(
            json.dumps(tally.as_json(), indent=2, sort_keys=True, default=str) + "\n"
        )
        print(tally.line(), flush=True)
        for problem in tally.problems:
            print(f"    problem: {problem}", flush=True)
        for detail in tally.details[:10]:
            print(f"    {detail['status']}: {detail['object']} — {detail['detail']}", flush=True)
        tallies.append(tally)
    return tallies


def _quiet_logs(path: Path) -> None:
    """The connector's own log lines go to a file (kept next to a failed result)."""
    configure_logging(json=True, level="INFO")
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.getLogger().handlers[0].formatter)
    logging.getLogger().handlers = [handler]


def main(argv: list[str] | None = None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    with tempfile.TemporaryDirectory(prefix="mlc-chaos-") as tmp:
        _quiet_logs(Path(tmp) / "connector.log")
        try:
            tallies = anyio.run(_run_all, args, Path(tmp))
        finally:
            log = Path(tmp) / "connector.log"
            args.results.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(log, args.results / "last-run.log")
    failed = [t.campaign for t in tallies if not t.ok]
    print(f"{len(tallies) - len(failed)}/{len(tallies)} campaigns passed" +
          (f"; failed: {', '.join(failed)}" if failed else ""))  # fmt: skip
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
