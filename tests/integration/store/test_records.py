"""Connections, links and intents, mappings, the inbox and the audit trail."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from ml_connector.core.clock import FixedClock
from ml_connector.core.tokens import TokenSet
from ml_connector.store import (
    Cipher,
    DbTokenStore,
    audit,
    connections,
    generate_key,
    inbox,
    links,
    mappings,
    token_key,
)
from ml_connector.store.connections import ConnectionStatus
from ml_connector.store.engine import read
from ml_connector.store.schema import audit_log, oauth_tokens


async def _cid(engine: AsyncEngine, clock: FixedClock, name: str = "Acme") -> int:
    async with engine.begin() as db:
        return (
            await connections.create(
                db, name=name, now=clock(), freshbooks_account_id="ab12", ramp_business_id="rb1"
            )
        ).id


@pytest.mark.anyio
async def test_connection_lifecycle(engine: AsyncEngine, clock: FixedClock) -> None:
    cid = await _cid(engine, clock)
    clock.advance(60)
    async with engine.begin() as db:
        changed = await connections.set_status(
            db,
            cid,
            ConnectionStatus.NEEDS_RECONNECT,
            now=clock(),
            reason="FreshBooks refused the refresh token",
        )
        found = await connections.find_by_freshbooks(db, account_id="ab12")
        by_ramp = await connections.find_by_ramp_business(db, "rb1")
    assert changed.status is ConnectionStatus.NEEDS_RECONNECT
    assert changed.updated_at == clock()
    assert changed.created_at < changed.updated_at
    assert [c.id for c in found] == [cid] == [c.id for c in by_ramp]
    with pytest.raises(IntegrityError):
        async with engine.begin() as db:
            await connections.create(db, name="Acme", now=clock())
    await DbTokenStore(engine, Cipher([generate_key()]), clock=clock).save(
        token_key("freshbooks", cid), TokenSet(access_token="a", expires_at=clock())
    )
    async with engine.begin() as db:
        assert await connections.delete(db, cid)
        assert (
            await db.execute(sa.select(sa.func.count()).select_from(oauth_tokens))
        ).scalar_one() == 0
        with pytest.raises(connections.ConnectionNotFoundError):
            await connections.get(db, cid)


@pytest.mark.anyio
async def test_links_version_on_every_write(engine: AsyncEngine, clock: FixedClock) -> None:
    cid = await _cid(engine, clock)
    key = {"connection_id": cid, "fb_type": "bill", "fb_id": "77", "ramp_type": "bill"}
    async with engine.begin() as db:
        first = await links.upsert(
            db, **key, ramp_id="rb-1", content_hash="h1", mapping_version=1, now=clock()
        )
        second = await links.upsert(
            db, **key, ramp_id="rb-1", content_hash="h2", mapping_version=2, now=clock()
        )
        by_ramp = await links.find_by_ramp_id(
            db, connection_id=cid, ramp_type="bill", ramp_id="rb-1"
        )
    assert (first.version, second.version) == (1, 2)
    assert second.content_hash == "h2"
    assert by_ramp == second


@pytest.mark.anyio
async def test_one_pending_write_intent_per_object(engine: AsyncEngine, clock: FixedClock) -> None:
    cid = await _cid(engine, clock)
    key = {
        "connection_id": cid,
        "fb_type": "bill",
        "fb_id": "77",
        "ramp_type": "bill",
        "operation": "create",
    }
    async with engine.begin() as db:
        intent = await links.record_intent(db, **key, request_digest="d" * 64, now=clock())
    # A retry after a crash finds the unresolved intent instead of blindly creating again.
    async with engine.begin() as db:
        pending = await links.pending_intent(db, **key)
    assert pending == intent
    with pytest.raises(IntegrityError):
        async with engine.begin() as db:
            await links.record_intent(db, **key, request_digest="e" * 64, now=clock())
    async with engine.begin() as db:
        done = await links.resolve_intent(
            db, intent.id, succeeded=True, ramp_id="rb-9", now=clock()
        )
        assert await links.pending_intent(db, **key) is None
        again = await links.record_intent(db, **key, request_digest="f" * 64, now=clock())
    assert done.state is links.IntentState.SUCCEEDED
    assert done.ramp_id == "rb-9"
    assert again.id != intent.id


@pytest.mark.anyio
async def test_mapping_versions_grow_and_stay(engine: AsyncEngine, clock: FixedClock) -> None:
    cid = await _cid(engine, clock)
    async with engine.begin() as db:
        assert await mappings.current(db, cid) is None
        v1 = await mappings.save(
            db,
            connection_id=cid,
            text="[categories]\nTravel = 6100\n",
            document={"categories": {"Travel": "6100"}},
            author="clerk",
            now=clock(),
        )
        v2 = await mappings.save(
            db,
            connection_id=cid,
            text="x",
            document={"categories": {}},
            author="controller",
            now=clock(),
            comment="reset",
        )
    async with read(engine) as db:
        assert (await mappings.current(db, cid)) == v2
        assert (await mappings.get(db, cid, 1)) == v1
        assert [m.version for m in await mappings.history(db, cid)] == [2, 1]
    assert v1.document == {"categories": {"Travel": "6100"}}


@pytest.mark.anyio
async def test_inbox_records_each_delivery_once(engine: AsyncEngine, clock: FixedClock) -> None:
    body = b"name=bill.create&object_id=77&account_id=ab12"
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Authorization": "Bearer nope",
        "X-FreshBooks-Hmac-SHA256": "sig",
    }
    async with engine.begin() as db:
        first = await inbox.record(
            db,
            source="freshbooks",
            body=body,
            dedupe_key=inbox.body_digest(body),
            received_at=clock(),
            headers=headers,
        )
        again = await inbox.record(
            db,
            source="freshbooks",
            body=body,
            dedupe_key=inbox.body_digest(body),
            received_at=clock(),
            headers=headers,
        )
        other_source = await inbox.record(
            db, source="ramp", body=body, dedupe_key=inbox.body_digest(body), received_at=clock()
        )
    assert first is not None
    assert again is None
    assert other_source is not None
    async with engine.begin() as db:
        delivery = await inbox.get(db, first)
        assert await inbox.mark_processed(db, first, now=clock())
        assert not await inbox.mark_processed(db, first, now=clock())
    assert delivery is not None
    assert delivery.body == body
    assert "authorization" not in delivery.headers
    assert delivery.headers["content-type"].startswith("application/x-www-form")


@pytest.mark.anyio
async def test_audit_trail_is_chained_queryable_and_secret_free(
    engine: AsyncEngine, clock: FixedClock
) -> None:
    cid = await _cid(engine, clock)
    async with engine.begin() as db:
        await audit.append(
            db,
            connection_id=cid,
            object_type="bill",
            fb_id="77",
            step="delivery_received",
            at=clock(),
            actor="webhook",
        )
        clock.advance(1)
        await audit.append(
            db,
            connection_id=cid,
            object_type="bill",
            fb_id="77",
            step="mapped",
            at=clock(),
            actor="worker",
            detail={"mapping_version": 3, "rules": ["category:Travel"]},
        )
        clock.advance(1)
        last = await audit.append(
            db,
            connection_id=cid,
            object_type="bill",
            fb_id="77",
            ramp_id="rb-1",
            step="ramp_request",
            at=clock(),
            actor="worker",
            detail={
                "method": "POST",
                "headers": {"Authorization": "Bearer s3cr3t"},
                "client_secret": "x",
                "digest": audit.digest(b"{}"),
            },
        )
        await audit.append(
            db,
            connection_id=cid,
            object_type="bill",
            fb_id="88",
            step="fetched",
            at=clock(),
            actor="worker",
        )
    assert last.seq == 3
    assert last.detail["headers"]["Authorization"] == audit.REDACTED
    assert last.detail["client_secret"] == audit.REDACTED
    async with read(engine) as db:
        by_fb = await audit.for_fb_object(db, fb_id="77")
        by_ramp = await audit.for_ramp_id(db, ramp_id="rb-1")
        window = await audit.between(
            db, start=clock() - timedelta(seconds=1), end=clock() + timedelta(seconds=1)
        )
        assert await audit.verify_chain(db, last.chain) == []
    assert [e.step for e in by_fb] == ["delivery_received", "mapped", "ramp_request"]
    assert by_ramp == by_fb  # the Ramp id finds the object's whole story
    assert {e.fb_id for e in window} == {"77", "88"}
    assert by_fb[1].prev_hash == by_fb[0].entry_hash

    async with engine.begin() as db:
        await db.execute(
            audit_log.update()
            .where(audit_log.c.chain == last.chain, audit_log.c.seq == 2)
            .values(detail={"mapping_version": 4})
        )
    async with read(engine) as db:
        problems = await audit.verify_chain(db, last.chain)
    assert problems == ["entry 2 was altered after it was written"]

    async with engine.begin() as db:
        await db.execute(
            sa.delete(audit_log).where(audit_log.c.chain == last.chain, audit_log.c.seq == 1)
        )
    async with read(engine) as db:
        problems = await audit.verify_chain(db, last.chain)
    assert "entry 1 is missing (found 2)" in problems


@pytest.mark.anyio
async def test_an_abandoned_intent_is_inherited_by_exactly_one_job(
    engine: AsyncEngine, clock: FixedClock
) -> None:
    cid = await _cid(engine, clock)
    key = {
        "connection_id": cid, "fb_type": "vendor_key", "fb_id": "connection",
        "ramp_type": "vendor", "operation": "create",
    }  # fmt: skip
    async with engine.begin() as db:
        abandoned = await links.record_intent(
            db, **key, request_digest="d" * 64, now=clock(), job_id=7
        )
    clock.advance(timedelta(minutes=1))
    # Two jobs found the same abandoned intent; only the first compare-and-set wins.
    async with engine.begin() as db:
        first = await links.take_over_intent(db, abandoned, job_id=8, now=clock())
    async with engine.begin() as db:
        second = await links.take_over_intent(db, abandoned, job_id=9, now=clock())
    assert first is not None
    assert (first.id, first.job_id, first.created_at) == (abandoned.id, 8, clock())
    assert second is None
    async with engine.begin() as db:
        assert await links.pending_intent(db, **key) == first
        # The holder itself may take it over again on its next attempt (new start time).
        clock.advance(timedelta(seconds=5))
        again = await links.take_over_intent(db, first, job_id=8, now=clock())
    assert again is not None
    assert again.created_at == clock()


@pytest.mark.anyio
async def test_append_many_chains_rows_as_append_would(
    engine: AsyncEngine, clock: FixedClock
) -> None:
    cid = await _cid(engine, clock)

    def entry(fb_id: str, step: str, **detail: object) -> audit.NewEntry:
        return audit.NewEntry(
            connection_id=cid,
            object_type="bill",
            fb_id=fb_id,
            step=step,
            at=clock(),
            actor="worker",
            detail=detail,
        )

    async with engine.begin() as db:
        before = await audit.append(
            db, connection_id=cid, object_type="bill", fb_id="1", step="received",
            at=clock(), actor="worker",
        )  # fmt: skip
        await audit.append_many(
            db,
            [
                entry("1", "fetched"),
                entry("2", "received"),
                entry("1", "mapped", client_secret="x"),
                entry("2", "fetched"),
            ],
        )
        after = await audit.append(
            db, connection_id=cid, object_type="bill", fb_id="1", step="outcome",
            at=clock(), actor="worker",
        )  # fmt: skip
        await audit.append_many(db, [])
    async with read(engine) as db:
        one = await audit.for_fb_object(db, fb_id="1", connection_id=cid)
        two = await audit.for_fb_object(db, fb_id="2", connection_id=cid)
        assert await audit.verify_chain(db, before.chain) == []
        assert await audit.verify_chain(db, two[0].chain) == []
    assert [(e.seq, e.step) for e in one] == [
        (1, "received"),
        (2, "fetched"),
        (3, "mapped"),
        (4, "outcome"),
    ]
    assert after.prev_hash == one[2].entry_hash
    assert one[2].detail == {"client_secret": audit.REDACTED}
    assert [(e.seq, e.step) for e in two] == [(1, "received"), (2, "fetched")]
