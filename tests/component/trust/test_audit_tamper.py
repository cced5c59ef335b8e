"""Acceptance: editing or deleting any audit row directly in the database makes
`audit verify` fail and name the object — the newest row and whole chains included."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from audit_world import cli, run, seed_trail

from ml_connector.cli.errors import ExitCode
from ml_connector.store import audit_checkpoints
from ml_connector.store.audit_verify import verify_all
from ml_connector.store.schema import audit_checkpoints as checkpoints_table
from ml_connector.store.schema import audit_log

CHAIN = "1:bill:fb:102"


def _row(seq: int | None) -> Any:
    chain = audit_log.c.chain == CHAIN
    if seq is None:
        newest = sa.select(sa.func.max(audit_log.c.seq)).where(chain).scalar_subquery()
        return sa.and_(chain, audit_log.c.seq == newest)
    return sa.and_(chain, audit_log.c.seq == seq)


TAMPERING: dict[str, Callable[[], Any]] = {
    "edit first row's detail": lambda: audit_log.update().where(_row(1)).values(detail={"n": 9}),
    "edit a middle row's step": lambda: audit_log.update().where(_row(3)).values(step="edited"),
    "edit the newest row's time": lambda: (
        audit_log.update().where(_row(None)).values(at=sa.func.current_timestamp())
    ),
    "delete a middle row": lambda: audit_log.delete().where(_row(3)),
    "delete the first row": lambda: audit_log.delete().where(_row(1)),
    "delete the newest row": lambda: audit_log.delete().where(_row(None)),
    "delete the whole chain": lambda: audit_log.delete().where(audit_log.c.chain == CHAIN),
}


@pytest.mark.parametrize("how", sorted(TAMPERING))
def test_any_edit_or_deletion_fails_verify_naming_the_object(
    how: str, database_url: str, tmp_path: Path
) -> None:
    async def prepare(engine: Any) -> None:
        await seed_trail(engine)
        async with engine.connect() as db:
            assert (await verify_all(db)).intact
        async with engine.begin() as db:
            await db.execute(TAMPERING[how]())

    run(prepare, database_url)
    answer = cli(database_url, tmp_path, "audit", "verify", "--json")
    assert answer.exit_code == ExitCode.FAILED, answer.output
    report = json.loads(answer.stdout)
    assert report["intact"] is False
    assert [b["chain"] for b in report["broken"]] == [CHAIN]
    (broken,) = report["broken"]
    assert broken["object"] == {
        "connection_id": 1, "object_type": "bill", "fb_id": "102", "ramp_id": None,
    }  # fmt: skip
    assert broken["problems"]
    human = cli(database_url, tmp_path, "audit", "verify")
    assert human.exit_code == ExitCode.FAILED
    assert "bill FreshBooks id 102" in human.output
    assert "BROKEN in 1 object(s)" in human.output


def test_reusing_a_deleted_seq_is_caught_by_the_checkpoint_that_saw_the_original(
    sqlite_url: str, tmp_path: Path
) -> None:
    """Delete the newest row, let the worker append again (same seq), checkpoint again."""

    async def prepare(engine: Any) -> None:
        await seed_trail(engine)
        async with engine.begin() as db:
            await db.execute(TAMPERING["delete the newest row"]())
        from audit_world import START

        from ml_connector.store import audit

        async with engine.begin() as db:
            await audit.append(
                db, object_type="bill", step="outcome", at=START, actor="worker:2",
                connection_id=1, fb_id="102", detail={"result": "synced"},
            )  # fmt: skip
        async with engine.begin() as db:
            assert await audit_checkpoints.create(db, now=START) is not None
        async with engine.connect() as db:
            report = await verify_all(db)
        assert report.broken_chains == [CHAIN]
        assert "not the one checkpoint 1 recorded" in report.problems[0].reason

    run(prepare, sqlite_url)


def test_clean_trail_verifies_and_checkpoint_tampering_is_caught(
    database_url: str, tmp_path: Path
) -> None:
    run(seed_trail, database_url)
    clean = cli(database_url, tmp_path, "audit", "verify", "--json")
    assert clean.exit_code == 0, clean.output
    summary = json.loads(clean.stdout)
    assert summary | {"broken": []} == {
        "intact": True, "chains": 4, "entries": 24, "checkpoints": 1, "checkpointed_heads": 4,
        "broken": [],
    }  # fmt: skip

    async def edit_checkpoint(engine: Any) -> None:
        async with engine.begin() as db:
            await db.execute(checkpoints_table.update().values(entries=23))

    run(edit_checkpoint, database_url)
    broken = cli(database_url, tmp_path, "audit", "verify")
    assert broken.exit_code == ExitCode.FAILED
    assert "audit checkpoints: checkpoint 1 was altered" in broken.output


def test_old_object_form_and_other_connections_still_work(sqlite_url: str, tmp_path: Path) -> None:
    run(seed_trail, sqlite_url)
    shown = cli(sqlite_url, tmp_path, "audit", "bill:101", "--json")
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["intact"] is True
    scoped = cli(sqlite_url, tmp_path, "audit", "verify", "--connection", "Northbeam")
    assert scoped.exit_code == 0, scoped.output
    assert "4 chains, 24 entries" in scoped.output
