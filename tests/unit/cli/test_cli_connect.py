"""`connect ramp` and `connect freshbooks` against the in-process emulators."""

from __future__ import annotations

import json
from pathlib import Path

from cli_world import CliWorld

from ml_connector.cli.errors import ExitCode
from ml_connector.queue import list_jobs
from ml_connector.store import connections as connections_store
from ml_connector.store import credentials as credentials_store
from ml_connector.store import read
from ml_connector.store.connections import ConnectionStatus
from ml_connector.sync.kinds import Kind


def _ramp_credentials(cli: CliWorld) -> tuple[str, str]:
    client = next(iter(cli.ramp.test_business.clients.values()))
    return client.client_id, client.client_secret


def _stored(cli: CliWorld, name: str = "Northbeam") -> tuple[object, list[str], str | None]:
    async def go(runtime):  # type: ignore[no-untyped-def]
        async with read(runtime.engine) as db:
            conn = await connections_store.find_by_name(db, name)
            if conn is None:
                return None, [], None
            kinds = await credentials_store.kinds(db, connection_id=conn.id)
            secret = await credentials_store.get(
                db, runtime.cipher, connection_id=conn.id, kind="ramp_client_secret"
            )
            return conn, kinds, None if secret is None else secret.get_secret_value()

    return cli.runtime_call(go)  # type: ignore[no-any-return]


def test_connect_ramp_checks_then_stores_the_client(cli: CliWorld, tmp_path: Path) -> None:
    client_id, secret = _ramp_credentials(cli)
    secret_file = tmp_path / "ramp.secret"
    secret_file.write_text(secret + "\n")
    result = cli.invoke(
        "connect", "ramp", "-c", "Northbeam", "--client-id", client_id,
        "--client-secret-file", str(secret_file), "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["missing_scopes"] == []
    assert data["entities"], "the test business has an entity"
    assert secret not in result.output
    conn, kinds, stored = _stored(cli)
    assert kinds == ["ramp_client_id", "ramp_client_secret"]
    assert stored == secret
    assert conn.status is ConnectionStatus.PENDING  # FreshBooks is not authorized yet


def test_connect_ramp_refuses_wrong_credentials_and_stores_nothing(cli: CliWorld) -> None:
    client_id, _ = _ramp_credentials(cli)
    result = cli.invoke(
        "connect", "ramp", "-c", "Northbeam", "--client-id", client_id,
        env={"MLC_RAMP_CLIENT_SECRET": "ramp_sec_wrong"},
    )  # fmt: skip
    assert result.exit_code == ExitCode.AUTH
    assert "Traceback" not in result.output
    assert "ramp_sec_wrong" not in result.output
    _, kinds, _ = _stored(cli)
    assert kinds == []


def test_connect_ramp_warns_about_a_secret_on_the_command_line(cli: CliWorld) -> None:
    client_id, secret = _ramp_credentials(cli)
    result = cli.invoke(
        "connect", "ramp", "-c", "Northbeam", "--client-id", client_id, "--client-secret", secret
    )
    assert result.exit_code == 0, result.output
    assert "shell history" in result.stderr


def test_connect_ramp_without_any_secret_source_says_how(cli: CliWorld) -> None:
    result = cli.invoke("connect", "ramp", "-c", "N", "--client-id", "x", "--json")
    assert result.exit_code == ExitCode.USAGE
    assert "--client-secret-file" in result.stderr


def test_connect_freshbooks_prints_the_url_then_completes_with_the_code(cli: CliWorld) -> None:
    client_id, secret = _ramp_credentials(cli)
    cli.invoke("connect", "ramp", "-c", "Northbeam", "--client-id", client_id,
               env={"MLC_RAMP_CLIENT_SECRET": secret})  # fmt: skip
    first = cli.invoke("connect", "freshbooks", "-c", "Northbeam", "--json")
    assert first.exit_code == 0, first.output
    url = json.loads(first.stdout)["authorize_url"]
    assert url.startswith("https://auth.freshbooks.com/")

    code = cli.approve(url)
    done = cli.invoke("connect", "freshbooks", "-c", "Northbeam", "--code", code, "--json")
    assert done.exit_code == 0, done.output
    data = json.loads(done.stdout)
    assert data["status"] == "active"
    assert data["freshbooks_account_id"] == cli.freshbooks.primary.account_id
    assert cli.freshbooks.counters.code_exchanges == 1

    async def jobs(runtime):  # type: ignore[no-untyped-def]
        async with read(runtime.engine) as db:
            return await list_jobs(db)

    assert [j.kind for j in cli.runtime_call(jobs)] == [Kind.REGISTER_WEBHOOKS.value]

    reused = cli.invoke("connect", "freshbooks", "-c", "Northbeam", "--code", code)
    assert reused.exit_code == ExitCode.AUTH
    assert "connect freshbooks" in reused.stderr
