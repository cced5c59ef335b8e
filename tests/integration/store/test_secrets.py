"""Encryption at rest: credentials and tokens never hit the database in clear."""

from __future__ import annotations

from datetime import timedelta

import anyio
import pytest
import sqlalchemy as sa
from pydantic import SecretStr
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from ml_connector.core.clock import FixedClock
from ml_connector.core.tokens import TokenSet
from ml_connector.store import connections, credentials
from ml_connector.store.crypto import Cipher, DecryptionError, generate_key
from ml_connector.store.rotation import rotate_keys
from ml_connector.store.schema import credentials as credentials_table
from ml_connector.store.schema import oauth_tokens
from ml_connector.store.tokens import DbTokenStore, token_key

ACCESS = "access-PLAINTEXT-4f1c"
REFRESH = "refresh-PLAINTEXT-9a2e"
CLIENT_SECRET = "ramp-client-secret-PLAINTEXT-77"


async def _connection(engine: AsyncEngine, clock: FixedClock, name: str = "Acme") -> int:
    async with engine.begin() as db:
        return (await connections.create(db, name=name, now=clock())).id


async def _raw_dump(engine: AsyncEngine, database_url: str) -> bytes:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        await engine.dispose()  # checkpoint-free: read the main file and the WAL
        path = anyio.Path(str(url.database))
        data = await path.read_bytes()
        wal = path.with_name(path.name + "-wal")
        return data + (await wal.read_bytes() if await wal.exists() else b"")
    async with engine.connect() as db:
        rows = (
            await db.execute(
                sa.text(
                    "SELECT ciphertext FROM credentials UNION ALL SELECT ciphertext FROM oauth_tokens"
                )
            )
        ).all()
    return b"\n".join((r[0] or "").encode() for r in rows)


@pytest.mark.anyio
async def test_no_plaintext_secret_reaches_the_database(
    engine: AsyncEngine, database_url: str, clock: FixedClock
) -> None:
    cipher = Cipher([generate_key()])
    cid = await _connection(engine, clock)
    async with engine.begin() as db:
        await credentials.put(
            db,
            cipher,
            connection_id=cid,
            kind="ramp_client_secret",
            secret=SecretStr(CLIENT_SECRET),
            now=clock(),
        )
    store = DbTokenStore(engine, cipher, clock=clock)
    await store.save(
        token_key("freshbooks", cid),
        TokenSet(
            access_token=ACCESS, refresh_token=REFRESH, expires_at=clock() + timedelta(hours=12)
        ),
    )

    raw = await _raw_dump(engine, database_url)
    assert raw  # the dump is not trivially empty
    for secret in (ACCESS, REFRESH, CLIENT_SECRET):
        assert secret.encode() not in raw

    async with engine.begin() as db:
        got = await credentials.get(db, cipher, connection_id=cid, kind="ramp_client_secret")
    assert got is not None
    assert got.get_secret_value() == CLIENT_SECRET
    loaded = await store.load(token_key("freshbooks", cid))
    assert loaded is not None
    assert (loaded.access_token, loaded.refresh_token) == (ACCESS, REFRESH)


@pytest.mark.anyio
async def test_a_ciphertext_moved_to_another_connection_is_refused(
    engine: AsyncEngine, clock: FixedClock
) -> None:
    cipher = Cipher([generate_key()])
    first = await _connection(engine, clock, "First")
    second = await _connection(engine, clock, "Second")
    async with engine.begin() as db:
        await credentials.put(
            db, cipher, connection_id=first, kind="ramp_client_secret", secret="s1", now=clock()
        )
        await credentials.put(
            db, cipher, connection_id=second, kind="ramp_client_secret", secret="s2", now=clock()
        )
        sealed = (
            await db.execute(
                sa.select(credentials_table.c.ciphertext).where(
                    credentials_table.c.connection_id == first
                )
            )
        ).scalar_one()
        await db.execute(
            credentials_table.update()
            .where(credentials_table.c.connection_id == second)
            .values(ciphertext=sealed)
        )
    async with engine.begin() as db:
        with pytest.raises(DecryptionError, match="another owner") as info:
            await credentials.get(db, cipher, connection_id=second, kind="ramp_client_secret")
    assert "s1" not in str(info.value)


@pytest.mark.anyio
async def test_key_rotation_reencrypts_everything_under_the_new_key(
    engine: AsyncEngine, clock: FixedClock
) -> None:
    old_key, new_key = generate_key(), generate_key()
    old = Cipher([old_key])
    cid = await _connection(engine, clock)
    async with engine.begin() as db:
        await credentials.put(
            db, old, connection_id=cid, kind="ramp_client_secret", secret=CLIENT_SECRET, now=clock()
        )
    await DbTokenStore(engine, old, clock=clock).save(
        "freshbooks:1", TokenSet(access_token=ACCESS, expires_at=clock() + timedelta(hours=1))
    )

    ring = Cipher([new_key, old_key])
    report = await rotate_keys(engine, ring, batch_size=1)
    assert (report.credentials, report.tokens) == (1, 1)
    assert await rotate_keys(engine, ring) == type(report)(credentials=0, tokens=0)

    new_only = Cipher([new_key])
    async with engine.begin() as db:
        got = await credentials.get(db, new_only, connection_id=cid, kind="ramp_client_secret")
        sealed_token = (await db.execute(sa.select(oauth_tokens.c.ciphertext))).scalar_one()
    assert got is not None
    assert got.get_secret_value() == CLIENT_SECRET
    assert new_only.is_current(sealed_token)
    loaded = await DbTokenStore(engine, new_only, clock=clock).load("freshbooks:1")
    assert loaded is not None
    assert loaded.access_token == ACCESS
    with pytest.raises(DecryptionError):
        await DbTokenStore(engine, old, clock=clock).load("freshbooks:1")


def test_cipher_never_reveals_keys_or_plaintext() -> None:
    key = generate_key()
    cipher = Cipher([key])
    sealed = cipher.encrypt("hunter2", subject="connection:1:x", purpose="credential")
    assert "hunter2" not in sealed
    assert key not in repr(cipher)
    with pytest.raises(DecryptionError):
        cipher.decrypt(sealed, subject="connection:1:x", purpose="oauth-token")
    with pytest.raises(Exception, match="malformed") as info:
        Cipher(["not-a-key"])
    assert "not-a-key" not in str(info.value)
