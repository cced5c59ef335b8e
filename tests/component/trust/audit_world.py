"""A migrated database with a few objects' audit chains, a checkpoint, and a CLI runner."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
from click.testing import Result
from pydantic import SecretStr
from typer.testing import CliRunner

from ml_connector.cli import app
from ml_connector.cli.context import CliEnv
from ml_connector.settings import Settings
from ml_connector.store import audit, audit_checkpoints, make_engine
from ml_connector.store import connections as connections_store
from support.harness import TEST_KEY

START = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
OBJECTS = (("bill", "101"), ("bill", "102"), ("vendor", "7"), ("expense", "55"))
STEPS = ("received", "fetched", "mapped", "ramp.request", "ramp.response", "outcome")


def run(fn: Any, url: str) -> Any:
    """`await fn(engine)` on a fresh engine, outside any event loop (CLI tests are sync)."""

    async def go() -> Any:
        engine = make_engine(url)
        try:
            return await fn(engine)
        finally:
            await engine.dispose()

    return anyio.run(go)


async def seed_trail(engine: Any, *, checkpoint: bool = True) -> int:
    """Four objects, six steps each, spread over October; a checkpoint over all of it."""
    async with engine.begin() as db:
        connection = await connections_store.create(db, name="Northbeam", now=START)
    at = START
    for round_ in range(len(STEPS)):
        for n, (object_type, fb_id) in enumerate(OBJECTS):
            at = START + timedelta(days=round_ * 4, minutes=n)
            async with engine.begin() as db:
                await audit.append(
                    db, object_type=object_type, step=STEPS[round_], at=at, actor="worker:1",
                    connection_id=connection.id, fb_id=fb_id,
                    ramp_id=f"r-{fb_id}" if round_ >= 4 else None, job_id=round_ + 1,
                    detail={"n": round_, "amount": "12.50", "confidence": 0.93,
                            "text": "café · \"quoted\", comma"},
                )  # fmt: skip
    if checkpoint:
        async with engine.begin() as db:
            await audit_checkpoints.create(db, now=at + timedelta(minutes=1))
    return int(connection.id)


def cli(url: str, tmp_path: Path, *args: str) -> Result:
    settings = Settings(
        data_dir=tmp_path, database_url=url, encryption_keys=[SecretStr(TEST_KEY)],
        session_secret=SecretStr("test-session-secret"),
    )  # fmt: skip
    return CliRunner().invoke(app, list(args), obj=CliEnv(settings=settings))
