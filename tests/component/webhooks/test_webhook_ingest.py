"""Webhook ingest: handshakes, verification, signed deliveries → inbox + job, refusals."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
import sqlalchemy as sa
from webhook_env import WebhookEnv, fb_sign

from ml_connector.queue import JobState, list_jobs
from ml_connector.store import connections as connections_store
from ml_connector.store import credentials as credentials_store
from ml_connector.store import inbox, read
from ml_connector.store.schema import webhook_inbox
from ml_connector.sync import webhook_secrets
from ml_connector.sync.kinds import Kind

pytestmark = pytest.mark.anyio


async def inbox_count(env: WebhookEnv) -> int:
    async with read(env.h.engine) as db:
        return int(
            (await db.execute(sa.select(sa.func.count()).select_from(webhook_inbox))).scalar_one()
        )


async def jobs_of(env: WebhookEnv, kind: Kind, connection_id: int | None = None) -> list:
    async with read(env.h.engine) as db:
        return await list_jobs(db, kind=kind.value, connection_id=connection_id)


async def test_register_handshake_and_verify_make_both_hooks_live(env: WebhookEnv) -> None:
    await env.register()
    account = env.connection.freshbooks_account_id
    callbacks = env.h.freshbooks.callbacks.of_account(account)
    assert sorted(c.event for c in callbacks) == ["bill", "bill_vendor", "category", "expense"]
    assert all(c.verified for c in callbacks)
    assert all(c.uri.endswith(f"/webhooks/freshbooks/{env.connection.id}") for c in callbacks)
    subscriptions = env.h.ramp.webhooks.of_business(env.connection.ramp_business_id)
    assert [s.status for s in subscriptions] == ["active"]
    async with read(env.h.engine) as db:
        verifiers = await webhook_secrets.freshbooks_verifiers(
            db, env.h.runtime.cipher, env.connection.id
        )
        kinds = await credentials_store.kinds(db, connection_id=env.connection.id)
        secrets = await webhook_secrets.ramp_secrets(db, env.h.runtime.cipher, env.connection.id)
    assert set(verifiers) == {str(c.callbackid) for c in callbacks}
    assert verifiers == {str(c.callbackid): c.verifier for c in callbacks}
    assert not [k for k in kinds if k.startswith(webhook_secrets.FRESHBOOKS_PENDING_VERIFIER)]
    assert set(secrets) == {subscriptions[0].id}
    # The handshake's verifier is never stored in the clear.
    async with read(env.h.engine) as db:
        bodies = [d.body for d in await inbox.recent(db, source="freshbooks")]
    assert bodies
    assert all(c.verifier.encode() not in b for c in callbacks for b in bodies)


async def test_bill_created_in_freshbooks_becomes_a_sync_bill_job(env: WebhookEnv) -> None:
    await env.register()
    bill_id = await env.create_bill()
    await env.drain()
    jobs = await jobs_of(env, Kind.SYNC_BILL)
    assert len(jobs) == 1
    job = jobs[0]
    assert job.args == {"connection_id": env.connection.id, "fb_id": bill_id, "source": "webhook"}
    assert job.lock_key == f"{env.connection.id}:bill:{bill_id}"
    assert job.unique_key == f"sync.bill:{env.connection.id}:{bill_id}"
    assert job.state is JobState.AVAILABLE
    vendor_jobs = await jobs_of(env, Kind.SYNC_VENDOR)
    assert len(vendor_jobs) == 1
    async with read(env.h.engine) as db:
        deliveries = await inbox.recent(db, source="freshbooks")
    events = [d for d in deliveries if b"name=bill.create" in d.body]
    assert len(events) == 1
    assert events[0].processed_at is not None
    assert events[0].connection_id == env.connection.id


async def test_duplicate_and_reordered_deliveries_coalesce(env: WebhookEnv) -> None:
    await env.register()
    env.h.freshbooks.webhooks.knobs.update({"duplicate_rate": 1.0, "reorder": True})
    bill_id = await env.create_bill()
    account = env.connection.freshbooks_account_id
    await env.fb_sandbox(
        "PUT", f"/_sandbox/accounts/{account}/bills/{bill_id}", {"bill": {"language": "fr"}}
    )
    await env.drain()
    log = [a for a in env.h.freshbooks.webhooks.log if a.name.startswith("bill.")]
    assert len(log) == 4
    assert all(a.outcome == "delivered" for a in log)
    jobs = await jobs_of(env, Kind.SYNC_BILL)
    assert len(jobs) == 1
    assert jobs[0].coalesced >= 1  # create and update: one waiting job for the bill


async def test_forged_altered_and_unsigned_deliveries_are_refused(env: WebhookEnv) -> None:
    await env.register()
    account = env.connection.freshbooks_account_id
    body = (
        f"name=bill.create&object_id=7&account_id={account}&business_id=1&identity_id=1&user_id=1"
    )
    genuine_verifier = env.h.freshbooks.callbacks.of_account(account)[0].verifier
    before = await inbox_count(env)
    url = f"/webhooks/freshbooks/{env.connection.id}"
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    async with env.client() as http:
        forged = await http.post(
            url,
            content=body,
            headers=headers | {"X-FreshBooks-Hmac-SHA256": fb_sign(body, "guess")},
        )
        altered = await http.post(
            url,
            content=body.replace("object_id=7", "object_id=8"),
            headers=headers | {"X-FreshBooks-Hmac-SHA256": fb_sign(body, genuine_verifier)},
        )
        unsigned = await http.post(url, content=body, headers=headers)
        genuine = await http.post(
            url,
            content=body,
            headers=headers | {"X-FreshBooks-Hmac-SHA256": fb_sign(body, genuine_verifier)},
        )
    assert [forged.status_code, altered.status_code, unsigned.status_code] == [401, 401, 401]
    assert genuine.status_code == 200  # the same request, signed right, is accepted
    assert await inbox_count(env) == before + 1
    assert [j.args["fb_id"] for j in await jobs_of(env, Kind.SYNC_BILL)] == ["7"]


async def test_ramp_forged_delivery_is_refused_and_genuine_event_is_audited(
    env: WebhookEnv,
) -> None:
    await env.register()
    body = json.dumps(
        {
            "id": "evt-1",
            "type": "bills.paid",
            "business_id": env.connection.ramp_business_id,
            "object": {"id": "6e3816e3-0e53-42ae-b075-bdb0adff10c4"},
        }
    ).encode()
    async with env.client() as http:
        forged = await http.post(
            f"/webhooks/ramp/{env.connection.id}",
            content=body,
            headers={"X-Ramp-Signature": hmac.new(b"wrong", body, hashlib.sha256).hexdigest()},
        )
    assert forged.status_code == 401
    assert await jobs_of(env, Kind.RAMP_EVENT) == []
    env.h.ramp.webhooks.emit(
        env.connection.ramp_business_id, "bills.paid", "6e3816e3-0e53-42ae-b075-bdb0adff10c4"
    )
    await env.drain()
    jobs = await jobs_of(env, Kind.RAMP_EVENT)
    assert len(jobs) == 1
    await env.run_jobs()
    from ml_connector.store import audit

    async with read(env.h.engine) as db:
        trail = await audit.for_ramp_id(db, ramp_id="6e3816e3-0e53-42ae-b075-bdb0adff10c4")
    assert [e.step for e in trail] == ["ramp.event"]
    assert trail[0].detail["event_type"] == "bills.paid"


async def test_oversize_body_is_413_and_unknown_connection_404(env: WebhookEnv) -> None:
    big = b"name=bill.create&object_id=" + b"1" * (70 * 1024)

    async def chunks():  # no Content-Length: the limit must hold on the stream too
        for start in range(0, len(big), 4096):
            yield big[start : start + 4096]

    async with env.client() as http:
        declared = await http.post(f"/webhooks/freshbooks/{env.connection.id}", content=big)
        streamed = await http.post(f"/webhooks/freshbooks/{env.connection.id}", content=chunks())
        ramp = await http.post(f"/webhooks/ramp/{env.connection.id}", content=big)
        unknown = await http.post("/webhooks/freshbooks/99999", content=b"name=x")
    assert [declared.status_code, streamed.status_code, ramp.status_code] == [413, 413, 413]
    assert unknown.status_code == 404
    assert await inbox_count(env) == 0


async def test_one_connections_delivery_cannot_enqueue_work_for_another(env: WebhookEnv) -> None:
    await env.register()
    account = env.connection.freshbooks_account_id
    verifier = env.h.freshbooks.callbacks.of_account(account)[0].verifier
    now = env.h.clock.now()
    async with env.h.engine.begin() as db:
        other = await connections_store.create(
            db, name="Other", now=now, freshbooks_account_id="ZZZ999"
        )
        lookalike = await connections_store.create(
            db, name="Lookalike", now=now, freshbooks_account_id="ZZZ998"
        )
        # Even if the other connection somehow held the same key, the account must match.
        await webhook_secrets.confirm_verifier(
            db,
            env.h.runtime.cipher,
            connection_id=lookalike.id,
            callback_id="1",
            verifier=verifier,
            now=now,
        )
    body = (
        f"name=bill.create&object_id=7&account_id={account}&business_id=1&identity_id=1&user_id=1"
    )
    headers = {"X-FreshBooks-Hmac-SHA256": fb_sign(body, verifier)}
    async with env.client() as http:
        to_other = await http.post(
            f"/webhooks/freshbooks/{other.id}", content=body, headers=headers
        )
        to_lookalike = await http.post(
            f"/webhooks/freshbooks/{lookalike.id}", content=body, headers=headers
        )
    assert to_other.status_code == 401
    assert to_lookalike.status_code == 403
    assert await jobs_of(env, Kind.SYNC_BILL) == []


async def test_forged_handshake_never_becomes_a_signing_key(env: WebhookEnv) -> None:
    await env.register()
    account = env.connection.freshbooks_account_id
    handshake = f"name=callback.verify&object_id=424242&verifier=attacker-key&account_id={account}"
    async with env.client() as http:
        answer = await http.post(f"/webhooks/freshbooks/{env.connection.id}", content=handshake)
    assert answer.status_code == 200
    await env.run_jobs()
    [job] = [
        j
        for j in await jobs_of(env, Kind.FRESHBOOKS_VERIFY_CALLBACK)
        if j.args["callback_id"] == "424242"
    ]
    assert job.state in {JobState.DEAD, JobState.RETRYABLE}
    async with read(env.h.engine) as db:
        kinds = await credentials_store.kinds(db, connection_id=env.connection.id)
    assert not [k for k in kinds if k.endswith(":424242")]
    body = f"name=bill.create&object_id=9&account_id={account}"
    async with env.client() as http:
        forged = await http.post(
            f"/webhooks/freshbooks/{env.connection.id}",
            content=body,
            headers={"X-FreshBooks-Hmac-SHA256": fb_sign(body, "attacker-key")},
        )
    assert forged.status_code == 401
