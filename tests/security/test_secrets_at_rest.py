"""No secret in plaintext anywhere in the database or the logs; key rotation covers all.

What the admin UI tests already prove is not repeated here (see
`tests/unit/web/admin/test_admin_access.py`: every page requires login by crawl, CSRF
on every unsafe request, sessions, off-site redirects; `test_admin_connect.py`: OAuth
`state` checks and no secret rendered in a page; `tests/component/webhooks/`: forged
signatures and one connection's webhook never touching another's data).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from pydantic import SecretStr
from secrets_flow import SecretRun, leaks, run_secret_flow

from ml_connector.store import credentials as credentials_store
from ml_connector.store import read
from ml_connector.store.crypto import Cipher, DecryptionError
from ml_connector.store.rotation import rotate_keys
from ml_connector.store.schema import credentials, metadata, oauth_tokens
from ml_connector.store.tokens import DbTokenStore
from ml_connector.sync.runtime import Runtime

pytestmark = pytest.mark.anyio


@pytest.fixture
async def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[SecretRun]:
    flow = await run_secret_flow(tmp_path, monkeypatch)
    try:
        yield flow
    finally:
        await flow.world.runtime.engine.dispose()


async def _every_row(run: SecretRun) -> bytes:
    """Every value of every row of every table, as text (JSON columns decoded)."""
    chunks: list[bytes] = []
    async with read(run.world.runtime.engine) as db:
        for table in metadata.sorted_tables:
            for row in (await db.execute(sa.select(table))).all():
                for value in row:
                    if isinstance(value, bytes | bytearray | memoryview):
                        chunks.append(bytes(value))
                    else:
                        chunks.append(json.dumps(value, default=str).encode())
                        chunks.append(str(value).encode())
    return b"\n".join(chunks)


def _database_files(data_dir: Path) -> bytes:
    """The raw SQLite bytes, WAL included: free pages and old row versions too."""
    return b"".join(p.read_bytes() for p in sorted(data_dir.glob("demo.db*")))


async def test_no_secret_in_the_database_or_the_logs_of_a_demo_run(run: SecretRun) -> None:
    secrets = run.secrets()
    kinds = {label.partition(":")[0] for label in secrets}
    # The scan is only as good as its list: every kind of secret must have been in play.
    assert {
        "freshbooks client secret", "admin password", "session secret", "encryption key",
        "freshbooks token", "freshbooks webhook verifier", "ramp client secret",
        "ramp webhook secret", "ramp access token",
    } <= kinds, kinds  # fmt: skip
    assert len(run.issued_freshbooks_tokens) >= 4  # the first pair and a refreshed one

    rows = await _every_row(run)
    assert len(rows) > 10_000, "the scan saw almost nothing: is the database empty?"
    assert leaks(rows, secrets) == []
    async with read(run.world.runtime.engine) as db:
        sealed = (await db.execute(sa.select(sa.func.count()).select_from(credentials))).scalar()
    # Ramp client id and secret, FreshBooks verifiers, the Ramp webhook secret.
    assert sealed is not None
    assert sealed >= 4

    logs = run.logs.getvalue()
    assert logs.count("\n") > 50, "the log capture saw almost nothing"
    assert "webhook.received" in logs
    assert leaks(logs.encode(), secrets) == []
    assert leaks("\n".join(run.output).encode(), secrets) == []

    await run.world.runtime.engine.dispose()
    raw = _database_files(run.data_dir)
    assert raw, "no database file found"
    assert leaks(raw, secrets) == []


async def test_key_rotation_reencrypts_every_secret_and_the_old_key_can_go(
    run: SecretRun,
) -> None:
    world = run.world
    old_key = world.settings.encryption_keys[0].get_secret_value()
    new_key = Fernet.generate_key().decode("ascii")
    engine = world.runtime.engine

    async with read(engine) as db:
        before_creds = (await db.execute(sa.select(credentials.c.ciphertext))).scalars().all()
        before_tokens = (
            (await db.execute(sa.select(oauth_tokens.c.ciphertext).where(
                oauth_tokens.c.ciphertext.is_not(None)))).scalars().all()
        )  # fmt: skip
    assert before_creds
    assert before_tokens

    report = await rotate_keys(engine, Cipher([new_key, old_key]))
    assert (report.credentials, report.tokens) == (len(before_creds), len(before_tokens))
    assert await rotate_keys(engine, Cipher([new_key, old_key])) == type(report)(
        credentials=0, tokens=0
    )

    new_only, old_only = Cipher([new_key]), Cipher([old_key])
    async with read(engine) as db:
        rows = (await db.execute(sa.select(credentials))).all()
        token_rows = (
            await db.execute(sa.select(oauth_tokens).where(oauth_tokens.c.ciphertext.is_not(None)))
        ).all()
    for row in rows:
        async with read(engine) as db:
            value = await credentials_store.get(
                db, new_only, connection_id=row.connection_id, kind=row.kind
            )
        assert value is not None
        assert value.get_secret_value()
        assert not old_only.is_current(row.ciphertext)
        with pytest.raises(DecryptionError):
            async with read(engine) as db:
                await credentials_store.get(
                    db, old_only, connection_id=row.connection_id, kind=row.kind
                )
    clock = world.runtime.clock
    for row in token_rows:
        loaded = await DbTokenStore(engine, new_only, clock=clock).load(row.key)
        assert loaded is not None
        assert loaded.access_token
        with pytest.raises(DecryptionError):
            await DbTokenStore(engine, old_only, clock=clock).load(row.key)

    # The product keeps working with the old key removed: a FreshBooks refresh (a new
    # pair sealed under the new key) and Ramp calls with the stored API client.
    settings = world.settings.model_copy(update={"encryption_keys": [SecretStr(new_key)]})
    runtime = Runtime.build(engine, settings, clock=clock, transports=world.runtime.transports)
    connection = await runtime.connection(world.connection_id)
    world.freshbooks.oauth.expire_all_now()
    refreshes = world.freshbooks.counters.refreshes
    fb = runtime.freshbooks_client(connection)
    try:
        assert await fb.businesses()
    finally:
        await fb.aclose()
    assert world.freshbooks.counters.refreshes == refreshes + 1
    ramp = await runtime.ramp_client(connection)
    try:
        assert [v async for v in ramp.vendors.list()]
    finally:
        await ramp.aclose()
    async with read(engine) as db:
        sealed = (await db.execute(sa.select(oauth_tokens.c.ciphertext))).scalars().all()
    assert all(new_only.is_current(c) for c in sealed if c is not None)
