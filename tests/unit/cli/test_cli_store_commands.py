"""Commands that need only the store and the queue: db, status, replay, audit, mappings, keys."""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa
from cli_world import CliWorld
from cryptography.fernet import Fernet
from pydantic import SecretStr
from typer.testing import CliRunner

from ml_connector.cli import app
from ml_connector.cli.context import CliEnv
from ml_connector.cli.errors import ExitCode
from ml_connector.core.retry import NeedsAttention
from ml_connector.queue import JobState, claim, enqueue, fail, get
from ml_connector.settings import Settings
from ml_connector.store import audit as audit_store
from ml_connector.store import connections as connections_store
from ml_connector.store import credentials as credentials_store
from ml_connector.store import read
from ml_connector.store.schema import audit_log
from support.harness import TEST_KEY

FLOW = """\
version = 1

[connection]
name = "Northbeam"
freshbooks_account_id = "{account}"
ramp_entity_id = "ent-1"

[[gl.mappings]]
category = "Travel"
gl_account = "6100"
"""


def _connection(cli: CliWorld, name: str = "Northbeam", account: str | None = "ABC123") -> int:
    async def go(runtime):  # type: ignore[no-untyped-def]
        async with runtime.engine.begin() as db:
            c = await connections_store.create(
                db, name=name, now=runtime.clock(), freshbooks_account_id=account
            )
        return c.id

    return int(cli.runtime_call(go))


def _attention_job(cli: CliWorld, connection_id: int) -> int:
    async def go(runtime):  # type: ignore[no-untyped-def]
        now = runtime.clock()
        async with runtime.engine.begin() as db:
            queued = await enqueue(
                db,
                kind="sync.bill",
                args={"connection_id": connection_id, "fb_id": "77"},
                now=now,
                connection_id=connection_id,
            )
        async with runtime.engine.begin() as db:
            (job,) = await claim(
                db, owner="t", now=now, lease=__import__("datetime").timedelta(minutes=1)
            )
            await fail(
                db,
                job.id,
                owner="t",
                decision=NeedsAttention(reason="category Travel maps to no GL account", code="gl"),
                error="unmapped",
                now=now,
            )
        return queued.job_id

    return int(cli.runtime_call(go))


def test_db_upgrade_creates_the_database_and_status_reports_it(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", encryption_keys=[SecretStr(TEST_KEY)])
    runner = CliRunner()
    env = CliEnv(settings=settings)
    missing = runner.invoke(app, ["status"], obj=env)
    assert missing.exit_code == ExitCode.DATABASE
    assert "ml-connector db upgrade" in missing.stderr
    assert "Traceback" not in missing.output

    behind = runner.invoke(app, ["db", "status", "--json"], obj=env)
    assert behind.exit_code == ExitCode.DATABASE
    assert json.loads(behind.stdout)["up_to_date"] is False

    done = runner.invoke(app, ["db", "upgrade"], obj=env)
    assert done.exit_code == 0, done.output
    assert (tmp_path / "data" / "ml-connector.db").exists()
    again = runner.invoke(app, ["db", "upgrade"], obj=env)
    assert "already at" in again.stdout
    current = json.loads(runner.invoke(app, ["db", "status", "--json"], obj=env).stdout)
    assert current["up_to_date"] is True
    assert current["current"] == current["head"]


def test_status_lists_connections_and_jobs_needing_attention(cli: CliWorld) -> None:
    empty = cli.invoke("status", "--json")
    assert empty.exit_code == 0
    assert json.loads(empty.stdout)["connections"] == []

    connection_id = _connection(cli)
    job_id = _attention_job(cli, connection_id)
    result = cli.invoke("status", "--json")
    data = json.loads(result.stdout)
    assert [c["name"] for c in data["connections"]] == ["Northbeam"]
    assert data["connections"][0]["status"] == "pending"
    assert data["connections"][0]["ramp_client_stored"] is False
    assert data["needs_attention"][0]["job_id"] == job_id
    assert data["needs_attention"][0]["reason"] == "category Travel maps to no GL account"
    assert data["queue"]["by_state"] == {"attention": 1}

    table = cli.invoke("status")
    assert "Northbeam" in table.stdout
    assert "maps to no GL" in table.stdout
    assert cli.invoke("status", "--check").exit_code == ExitCode.FAILED
    assert cli.invoke("status", "-c", "nope").exit_code == ExitCode.NOT_FOUND


def test_replay_needs_a_selection_and_requeues_the_job(cli: CliWorld) -> None:
    connection_id = _connection(cli)
    job_id = _attention_job(cli, connection_id)
    vague = cli.invoke("replay")
    assert vague.exit_code == ExitCode.USAGE
    assert "--all" in vague.stderr

    preview = cli.invoke("replay", "--all", "--dry-run", "--json")
    assert [j["job_id"] for j in json.loads(preview.stdout)["would_replay"]] == [job_id]

    done = cli.invoke("replay", str(job_id), "--mapping", "original", "--json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["replayed"] == [job_id]

    async def state(runtime):  # type: ignore[no-untyped-def]
        async with read(runtime.engine) as db:
            return await get(db, job_id)

    job = cli.runtime_call(state)
    assert job.state is JobState.AVAILABLE
    assert job.args["_replay"]["mapping"] == "original"
    assert job.replayed_by.startswith("cli:")
    nothing = cli.invoke("replay", str(job_id))
    assert nothing.exit_code == ExitCode.NOT_FOUND


def test_audit_shows_the_chain_and_detects_tampering(cli: CliWorld) -> None:
    connection_id = _connection(cli)

    async def write(runtime):  # type: ignore[no-untyped-def]
        async with runtime.engine.begin() as db:
            for step, ramp_id in (("fetched", None), ("ramp.bill.created", "rb-1")):
                await audit_store.append(
                    db, object_type="bill", step=step, at=runtime.clock(), actor="worker",
                    connection_id=connection_id, fb_id="77", ramp_id=ramp_id,
                    detail={"total": "12.50", "access_token": "sekrit"},
                )  # fmt: skip

    cli.runtime_call(write)
    shown = cli.invoke("audit", "bill:77", "--json")
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.stdout)
    assert data["intact"] is True
    steps = [e["step"] for e in data["chains"][0]["entries"]]
    assert steps == ["fetched", "ramp.bill.created"]
    assert "sekrit" not in shown.stdout
    by_ramp = cli.invoke("audit", "ramp:rb-1")
    assert "ramp.bill.created" in by_ramp.stdout

    assert cli.invoke("audit", "bill:999").exit_code == ExitCode.NOT_FOUND
    assert cli.invoke("audit", "invoice:1").exit_code == ExitCode.USAGE

    async def tamper(runtime):  # type: ignore[no-untyped-def]
        async with runtime.engine.begin() as db:
            await db.execute(audit_log.update().where(audit_log.c.seq == 1).values(step="edited"))

    cli.runtime_call(tamper)
    broken = cli.invoke("audit", "bill:77")
    assert broken.exit_code == ExitCode.FAILED
    assert "altered" in broken.stderr


def test_mappings_import_validates_saves_and_exports(cli: CliWorld, tmp_path: Path) -> None:
    _connection(cli, account="ABC123")
    bad = tmp_path / "bad.toml"
    bad.write_text("version = 1\n[connection]\nname = 'x'\nfreshbooks_acount_id = 'ABC123'\n")
    rejected = cli.invoke("mappings", "import", str(bad))
    assert rejected.exit_code == ExitCode.CONFIG
    assert "bad.toml:4" in rejected.stderr

    other = tmp_path / "other.toml"
    other.write_text(FLOW.format(account="ZZZ999"))
    assert cli.invoke("mappings", "import", str(other)).exit_code == ExitCode.CONFIG

    good = tmp_path / "flow.toml"
    good.write_text(FLOW.format(account="ABC123"))
    assert (
        json.loads(cli.invoke("mappings", "import", str(good), "--check", "--json").stdout)["saved"]
        is False
    )
    saved = cli.invoke("mappings", "import", str(good), "--comment", "first", "--json")
    assert json.loads(saved.stdout) == {
        "connection": "Northbeam",
        "valid": True,
        "saved": True,
        "version": 1,
    }
    unchanged = cli.invoke("mappings", "import", str(good))
    assert "unchanged" in unchanged.stdout

    exported = cli.invoke("mappings", "export")
    assert exported.stdout == good.read_text()
    target = tmp_path / "out.toml"
    assert cli.invoke("mappings", "export", "-o", str(target)).exit_code == 0
    assert target.read_text() == good.read_text()
    history = json.loads(cli.invoke("mappings", "history", "--json").stdout)
    assert [(h["version"], h["comment"]) for h in history] == [(1, "first")]
    assert cli.invoke("mappings", "export", "--version", "9").exit_code == ExitCode.NOT_FOUND


def test_keys_rotate_reencrypts_under_the_new_primary_key(cli: CliWorld) -> None:
    connection_id = _connection(cli)

    async def put(runtime):  # type: ignore[no-untyped-def]
        async with runtime.engine.begin() as db:
            await credentials_store.put(
                db, runtime.cipher, connection_id=connection_id, kind="ramp_client_secret",
                secret="ramp_sec_value", now=runtime.clock(),
            )  # fmt: skip

    cli.runtime_call(put)
    new_key = Fernet.generate_key().decode()
    rotated_settings = cli.settings.model_copy(
        update={"encryption_keys": [SecretStr(new_key), SecretStr(TEST_KEY)]}
    )
    env = CliEnv(settings=rotated_settings, transports=cli.env.transports, clock=cli.clock.now)
    first = cli.runner.invoke(app, ["keys", "rotate", "--json"], obj=env)
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["rotated"]["credentials"] == 1
    second = cli.runner.invoke(app, ["keys", "rotate", "--json"], obj=env)
    assert json.loads(second.stdout)["rotated"] == {"credentials": 0, "tokens": 0}

    only_new = CliEnv(
        settings=cli.settings.model_copy(update={"encryption_keys": [SecretStr(new_key)]})
    )

    async def readback(runtime):  # type: ignore[no-untyped-def]
        async with read(runtime.engine) as db:
            return await credentials_store.get(
                db, runtime.cipher, connection_id=connection_id, kind="ramp_client_secret"
            )

    cli.settings = only_new.settings  # type: ignore[assignment]
    assert cli.runtime_call(readback).get_secret_value() == "ramp_sec_value"


def test_keys_generate_prints_a_usable_key() -> None:
    result = CliRunner().invoke(app, ["keys", "generate"])
    assert result.exit_code == 0
    Fernet(result.stdout.strip().encode())


def test_sql_is_untouched_by_a_failed_import(cli: CliWorld) -> None:
    async def count(runtime):  # type: ignore[no-untyped-def]
        async with read(runtime.engine) as db:
            return (await db.execute(sa.text("select count(*) from mapping_versions"))).scalar()

    assert cli.runtime_call(count) == 0
