"""The webhook endpoints' per-process copy of each connection's keys (`WebhookKeyCache`).

One read serves many deliveries; no refusal (401, 403) rests on the copy; a removed key
is honoured for at most the copy's lifetime; unknown connections are never kept.
"""

from __future__ import annotations

import hashlib
import hmac
import json

import anyio
import httpx2
import pytest
import sqlalchemy as sa
from webhook_env import WebhookEnv, bill_event, fb_sign

from ml_connector.queue import list_jobs
from ml_connector.store import connections as connections_store
from ml_connector.store import read
from ml_connector.store.schema import webhook_inbox
from ml_connector.sync import webhook_secrets
from ml_connector.sync.kinds import Kind
from ml_connector.sync.runtime import Runtime
from ml_connector.sync.webhook_secrets import WEBHOOK_KEYS_TTL, WebhookKeyCache, WebhookKeys

pytestmark = pytest.mark.anyio

TTL_S = WEBHOOK_KEYS_TTL.total_seconds()


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Every database read the cache makes, as (key prefix, connection id)."""
    seen: list[tuple[str, int]] = []
    original = WebhookKeyCache._load

    async def counting(
        self: WebhookKeyCache, runtime: Runtime, key: tuple[str, int]
    ) -> WebhookKeys:
        seen.append(key)
        return await original(self, runtime, key)

    monkeypatch.setattr(WebhookKeyCache, "_load", counting)
    return seen


class Sender:
    def __init__(self, env: WebhookEnv) -> None:
        self.env = env
        self.account = env.connection.freshbooks_account_id
        self.verifier = env.h.freshbooks.callbacks.of_account(self.account)[0].verifier

    async def post(
        self,
        http: httpx2.AsyncClient,
        object_id: int,
        *,
        verifier: str | None = None,
        account: str | None = None,
        connection_id: int | None = None,
    ) -> int:
        body = bill_event(object_id, account or self.account)
        answer = await http.post(
            f"/webhooks/freshbooks/{connection_id or self.env.connection.id}",
            content=body,
            headers={"X-FreshBooks-Hmac-SHA256": fb_sign(body, verifier or self.verifier)},
        )
        return answer.status_code


async def warm(env: WebhookEnv, loads: list[tuple[str, int]]) -> Sender:
    """Hooks registered and the copy taken by one accepted delivery; reads counted from here."""
    await env.register()
    sender = Sender(env)
    async with env.client() as http:
        assert await sender.post(http, 1) == 200
    loads.clear()
    return sender


async def inbox_count(env: WebhookEnv) -> int:
    async with read(env.h.engine) as db:
        count = await db.execute(sa.select(sa.func.count()).select_from(webhook_inbox))
        return int(count.scalar_one())


async def bill_jobs(env: WebhookEnv) -> list[str]:
    async with read(env.h.engine) as db:
        jobs = await list_jobs(db, kind=Kind.SYNC_BILL.value)
    return sorted(j.args["fb_id"] for j in jobs)


async def test_one_read_serves_deliveries_until_the_copy_is_half_its_age(
    env: WebhookEnv, loads: list[tuple[str, int]]
) -> None:
    sender = await warm(env, loads)
    async with env.client() as http:
        statuses = [await sender.post(http, n) for n in range(2, 7)]
        assert loads == []
        env.h.clock.advance(TTL_S / 2)
        # Past half its life, one delivery reloads the copy and the next ones use it.
        statuses += [await sender.post(http, n) for n in range(7, 10)]
    assert statuses == [200] * 8
    assert loads == [(webhook_secrets.FRESHBOOKS_VERIFIER, env.connection.id)]
    assert await bill_jobs(env) == [str(n) for n in range(1, 10)]


async def test_deliveries_arriving_after_expiry_share_one_read(
    env: WebhookEnv, loads: list[tuple[str, int]]
) -> None:
    sender = await warm(env, loads)
    env.h.clock.advance(TTL_S + 1)
    statuses: list[int] = []

    async def deliver(http: httpx2.AsyncClient, n: int) -> None:
        statuses.append(await sender.post(http, n))

    async with env.client() as http, anyio.create_task_group() as tg:
        for n in range(10, 18):
            tg.start_soon(deliver, http, n)
    assert statuses == [200] * 8
    assert len(loads) == 1


async def test_a_verifier_confirmed_after_the_copy_was_taken_is_accepted_at_once(
    env: WebhookEnv, loads: list[tuple[str, int]]
) -> None:
    sender = await warm(env, loads)
    async with env.h.engine.begin() as db:
        await webhook_secrets.confirm_verifier(
            db,
            env.h.runtime.cipher,
            connection_id=env.connection.id,
            callback_id="990001",
            verifier="a-newly-confirmed-verifier",
            now=env.h.clock.now(),
        )
    async with env.client() as http:
        # The clock has not moved: only the re-read before refusing can find the new key.
        status = await sender.post(http, 2, verifier="a-newly-confirmed-verifier")
    assert status == 200
    assert len(loads) == 1
    assert "2" in await bill_jobs(env)


async def test_a_forged_delivery_is_refused_on_a_fresh_read_and_stores_nothing(
    env: WebhookEnv, loads: list[tuple[str, int]]
) -> None:
    sender = await warm(env, loads)
    before = await inbox_count(env)
    async with env.client() as http:
        forged = await sender.post(http, 2, verifier="a-guess")
        genuine = await sender.post(http, 3)
    assert [forged, genuine] == [401, 200]
    assert len(loads) == 1  # the forged one was re-checked; the genuine one used the copy
    assert await inbox_count(env) == before + 1
    assert "2" not in await bill_jobs(env)


async def test_a_removed_verifier_is_honoured_at_most_until_the_copy_expires(
    env: WebhookEnv, loads: list[tuple[str, int]]
) -> None:
    sender = await warm(env, loads)
    callbacks = env.h.freshbooks.callbacks.of_account(sender.account)
    async with env.h.engine.begin() as db:
        for callback in callbacks:
            await webhook_secrets.forget_freshbooks_callback(
                db, connection_id=env.connection.id, callback_id=str(callback.callbackid)
            )
    async with env.client() as http:
        within = await sender.post(http, 2)
        env.h.clock.advance(TTL_S)
        after = await sender.post(http, 3)
    assert [within, after] == [200, 401]
    assert await bill_jobs(env) == ["1", "2"]


async def test_an_account_linked_after_the_copy_was_taken_is_honoured_at_once(
    env: WebhookEnv, loads: list[tuple[str, int]]
) -> None:
    sender = await warm(env, loads)
    async with env.h.engine.begin() as db:
        await connections_store.update(
            db, env.connection.id, now=env.h.clock.now(), freshbooks_account_id="NEW987"
        )
    async with env.client() as http:
        new_account = await sender.post(http, 2, account="NEW987")
        old_account = await sender.post(http, 3)
    assert [new_account, old_account] == [200, 403]
    assert await bill_jobs(env) == ["1", "2"]


async def test_unknown_connections_are_read_every_time_and_never_kept(
    env: WebhookEnv, loads: list[tuple[str, int]]
) -> None:
    sender = await warm(env, loads)
    async with env.client() as http:
        statuses = [await sender.post(http, n, connection_id=987654) for n in (2, 3)]
    assert statuses == [404, 404]
    assert loads == [(webhook_secrets.FRESHBOOKS_VERIFIER, 987654)] * 2


async def test_a_failed_commit_drops_the_copy_so_the_retry_reads_afresh(
    env: WebhookEnv, loads: list[tuple[str, int]]
) -> None:
    sender = await warm(env, loads)
    async with env.h.engine.begin() as db:
        await connections_store.delete(db, env.connection.id)
    async with env.client() as http:
        # The copy still names the deleted connection: the inbox row cannot reference it.
        stale = await sender.post(http, 2)
        retried = await sender.post(http, 3)
    assert [stale, retried] == [503, 404]
    assert await inbox_count(env) == 0


async def test_a_ramp_secret_stored_after_the_copy_was_taken_is_accepted_at_once(
    env: WebhookEnv, loads: list[tuple[str, int]]
) -> None:
    await env.register()
    business = env.connection.ramp_business_id
    env.h.ramp.webhooks.emit(business, "bills.paid", "6e3816e3-0e53-42ae-b075-bdb0adff10c4")
    await env.drain()  # a genuine delivery: the copy of the Ramp secrets is taken
    loads.clear()
    async with env.h.engine.begin() as db:
        await webhook_secrets.store_ramp_secret(
            db,
            env.h.runtime.cipher,
            connection_id=env.connection.id,
            subscription_id="sub-new",
            secret="ramp_sec_new",
            now=env.h.clock.now(),
        )
    body = json.dumps({"id": "evt-new-1", "type": "bills.paid", "business_id": business}).encode()
    signature = hmac.new(b"ramp_sec_new", body, hashlib.sha256).hexdigest()
    async with env.client() as http:
        answer = await http.post(
            f"/webhooks/ramp/{env.connection.id}",
            content=body,
            headers={"X-Ramp-Signature": signature},
        )
    assert answer.status_code == 200
    assert loads == [(webhook_secrets.RAMP_WEBHOOK_SECRET, env.connection.id)]
