"""Export round-trips (CSV and JSON Lines), and webhook-body retention keeps every chain whole."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from audit_world import START, cli, run, seed_trail

from ml_connector.cli.errors import ExitCode
from ml_connector.store import audit, audit_export, inbox
from ml_connector.store.audit import AuditEntry
from ml_connector.store.audit_verify import verify_all
from ml_connector.store.schema import webhook_inbox


async def _db_period(engine: Any, days: tuple[int, int]) -> list[AuditEntry]:
    async with engine.connect() as db:
        return [
            e
            async for e in audit_export.period(
                db, start=START.replace(day=days[0], hour=0), end=START.replace(day=days[1], hour=0)
            )
        ]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_export_round_trips_and_verifies_offline(
    fmt: str, database_url: str, tmp_path: Path
) -> None:
    run(seed_trail, database_url)
    target = tmp_path / f"october.{fmt}"
    done = cli(database_url, tmp_path, "audit", "export", str(target),
               "--from", "2026-10-01", "--to", "2026-10-31")  # fmt: skip
    assert done.exit_code == 0, done.output
    with target.open(encoding="utf-8", newline="") as handle:
        reader = audit_export.read_csv if fmt == "csv" else audit_export.read_jsonl
        parsed = list(reader(handle))
    stored = run(lambda e: _db_period(e, (1, 31)), database_url)
    assert len(parsed) == 24
    assert parsed == stored  # every field, hash and timestamp survives the trip
    assert audit_export.check_export(parsed) == []
    checked = cli(database_url, tmp_path, "audit", "check-export", str(target), "--json")
    assert checked.exit_code == 0, checked.output
    assert json.loads(checked.stdout) == {"intact": True, "entries": 24, "chains": 4,
                                          "problems": []}  # fmt: skip

    # A period that starts mid-chain verifies from its first row on.
    late = tmp_path / f"late.{fmt}"
    assert cli(database_url, tmp_path, "audit", "export", str(late),
               "--from", "2026-10-09", "--to", "2026-10-13").exit_code == 0  # fmt: skip
    late_check = cli(database_url, tmp_path, "audit", "check-export", str(late))
    assert late_check.exit_code == 0, late_check.output
    assert "export intact: 8 entries in 4 chains" in late_check.output

    # An auditor's copy edited afterwards is refused, naming the object.
    text = target.read_text(encoding="utf-8")
    target.write_text(text.replace("12.50", "12.05", 1), encoding="utf-8")
    edited = cli(database_url, tmp_path, "audit", "check-export", str(target))
    assert edited.exit_code == ExitCode.FAILED
    assert "was altered after it was written" in edited.output


def test_export_refuses_bad_ranges_and_unknown_formats(sqlite_url: str, tmp_path: Path) -> None:
    run(seed_trail, sqlite_url)
    backwards = cli(sqlite_url, tmp_path, "audit", "export", str(tmp_path / "x.csv"),
                    "--from", "2026-10-31", "--to", "2026-10-01")  # fmt: skip
    assert backwards.exit_code == ExitCode.USAGE
    unknown = cli(sqlite_url, tmp_path, "audit", "export", str(tmp_path / "x.xlsx"),
                  "--from", "2026-10-01", "--to", "2026-10-31")  # fmt: skip
    assert unknown.exit_code == ExitCode.USAGE
    assert not (tmp_path / "x.xlsx").exists()
    garbage = tmp_path / "garbage.jsonl"
    garbage.write_text('{"id": 1}\n', encoding="utf-8")
    refused = cli(sqlite_url, tmp_path, "audit", "check-export", str(garbage))
    assert refused.exit_code == ExitCode.FAILED
    assert "line 1: missing field(s)" in refused.output


def test_retention_purges_old_bodies_and_every_chain_still_verifies(
    database_url: str, tmp_path: Path
) -> None:
    bodies = [b'{"name": "bill.update", "object_id": %d}' % n for n in range(3)]

    async def prepare(engine: Any) -> list[str]:
        connection_id = await seed_trail(engine, checkpoint=False)
        digests = []
        async with engine.begin() as db:
            for n, body in enumerate(bodies):
                delivery = await inbox.record(
                    db, source="freshbooks", body=body, dedupe_key=f"d{n}",
                    received_at=START, connection_id=connection_id,
                )  # fmt: skip
                assert delivery is not None
                if n < 2:  # the third is still waiting to be processed
                    await inbox.mark_processed(db, delivery, now=START + timedelta(minutes=1))
                digests.append(inbox.body_digest(body))
                await audit.append(
                    db, object_type="bill", step="received", at=START, actor="webhook",
                    connection_id=connection_id, fb_id=str(n),
                    detail={"delivery_id": delivery, "delivery_sha256": digests[-1]},
                )  # fmt: skip
        return digests

    digests = run(prepare, database_url)
    # The worker's periodic job, run by hand 45 days later (the CLI's clock is real time,
    # decades after START, so only the unprocessed delivery keeps its body).
    done = cli(database_url, tmp_path, "audit", "checkpoint", "--webhook-body-days", "30", "--json")
    assert done.exit_code == 0, done.output
    summary = json.loads(done.stdout)
    assert summary["bodies_purged"] == 2
    assert summary["checkpoint_seq"] == 1

    async def inspect(engine: Any) -> None:
        async with engine.connect() as db:
            rows = (await db.execute(webhook_inbox.select().order_by(webhook_inbox.c.id))).all()
            assert [bytes(r.body) for r in rows] == [b"", b"", bodies[2]]
            assert [r.body_sha256 for r in rows] == digests  # what the audit rows cite
            assert [r.body_purged_at is not None for r in rows] == [True, True, False]
            report = await verify_all(db)
            assert report.intact, report.problems
            assert report.entries == 27
            cited = [
                e.detail["delivery_sha256"]
                for e in await audit.between(db, start=START, end=START + timedelta(seconds=1))
                if e.step == "received" and "delivery_sha256" in e.detail
            ]
            assert cited == digests
        async with engine.begin() as db:
            again = await inbox.purge_bodies(
                db, processed_before=START + timedelta(days=400), now=START + timedelta(days=400)
            )
            assert again == 0  # purged once; the waiting delivery is never purged

    run(inspect, database_url)
    second = cli(database_url, tmp_path, "audit", "checkpoint")
    assert second.exit_code == 0
    assert "no chain moved since the last checkpoint" in second.output
