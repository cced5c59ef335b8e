"""Group commit at the webhook endpoints: deliveries that arrive together share a transaction.

Each delivery is still answered only once the transaction holding it has committed, with
its own inbox id; a duplicate within a batch is answered as one; a delivery whose write
fails fails alone; a batch whose commit fails is never acknowledged; a request that gives
up does not disturb the batch of the others.

What shares a batch is arranged with events, never with timing: `Batches` holds a batch's
transaction open (at its inbox insert) until the deliveries meant for the next one have
reached the writer.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from typing import Any

import anyio
import httpx2
import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from webhook_env import WebhookEnv, bill_event, fb_sign

from ml_connector.queue import list_jobs
from ml_connector.store import connections as connections_store
from ml_connector.store import inbox, read
from ml_connector.store.schema import jobs, webhook_inbox
from ml_connector.sync import webhook_secrets
from ml_connector.sync.kinds import Kind
from ml_connector.web.delivery_writer import Delivery, DeliveryWriter

pytestmark = pytest.mark.anyio

WAIT_S = 60
"""Only so that a broken writer fails the test instead of hanging it: nothing is timed."""


class Batches:
    """The size of every transaction the writer opens (one `inbox.record_many` each).

    `hold(n)` keeps the n-th of them (from 1) waiting inside its transaction until
    `release(n)`; `arrivals(count)` waits until `count` deliveries have reached the writer.
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sizes: list[int] = []
        self.arrived = 0
        self._started: dict[int, anyio.Event] = {}
        self._release: dict[int, anyio.Event] = {}
        self._arrivals: list[tuple[int, anyio.Event]] = []
        record_many = inbox.record_many
        write = DeliveryWriter.write

        async def counted_write(
            writer: DeliveryWriter, engine: AsyncEngine, delivery: Delivery
        ) -> int | None:
            self.arrived += 1
            for count, reached in self._arrivals:
                if self.arrived >= count:
                    reached.set()
            return await write(writer, engine, delivery)

        async def held_record_many(
            db: AsyncConnection, deliveries: list[inbox.NewDelivery]
        ) -> list[int | None]:
            self.sizes.append(len(deliveries))
            number = len(self.sizes)
            if number in self._release:
                self._started[number].set()
                await self._release[number].wait()
            return await record_many(db, deliveries)

        monkeypatch.setattr(DeliveryWriter, "write", counted_write)
        monkeypatch.setattr(inbox, "record_many", held_record_many)

    def hold(self, *numbers: int) -> None:
        for number in numbers:
            self._started[number] = anyio.Event()
            self._release[number] = anyio.Event()

    async def started(self, number: int) -> None:
        with anyio.fail_after(WAIT_S):
            await self._started[number].wait()

    def release(self, number: int) -> None:
        self._release[number].set()

    async def arrivals(self, count: int) -> None:
        reached = anyio.Event()
        self._arrivals.append((count, reached))
        if self.arrived >= count:
            reached.set()
        with anyio.fail_after(WAIT_S):
            await reached.wait()


class Sender:
    def __init__(self, env: WebhookEnv) -> None:
        self.env = env
        self.account = env.connection.freshbooks_account_id
        self.verifier = env.h.freshbooks.callbacks.of_account(self.account)[0].verifier
        self.answers: dict[Any, httpx2.Response] = {}

    async def post(
        self,
        http: httpx2.AsyncClient,
        object_id: int,
        *,
        label: Any = None,
        verifier: str | None = None,
        account: str | None = None,
        connection_id: int | None = None,
    ) -> httpx2.Response:
        body = bill_event(object_id, account or self.account)
        answer = await http.post(
            f"/webhooks/freshbooks/{connection_id or self.env.connection.id}",
            content=body,
            headers={"X-FreshBooks-Hmac-SHA256": fb_sign(body, verifier or self.verifier)},
        )
        self.answers[object_id if label is None else label] = answer
        return answer


async def warm(env: WebhookEnv) -> Sender:
    """Hooks live and the keys' copy taken by one accepted delivery."""
    await env.register()
    sender = Sender(env)
    async with env.client() as http:
        assert (await sender.post(http, 1)).status_code == 200
    return sender


async def bill_jobs(env: WebhookEnv) -> list[str]:
    async with read(env.h.engine) as db:
        found = await list_jobs(
            db, kind=Kind.SYNC_BILL.value, connection_id=env.connection.id, limit=1000
        )
    return sorted((j.args["fb_id"] for j in found), key=int)


async def stored_bodies(env: WebhookEnv) -> dict[int, bytes]:
    async with read(env.h.engine) as db:
        rows = await db.execute(sa.select(webhook_inbox.c.id, webhook_inbox.c.body))
        return {row.id: bytes(row.body) for row in rows}


async def job_count(env: WebhookEnv) -> int:
    async with read(env.h.engine) as db:
        return int((await db.execute(sa.select(sa.func.count()).select_from(jobs))).scalar_one())


async def post_behind_the_first(
    env: WebhookEnv, sender: Sender, batches: Batches, objects: range
) -> None:
    """Post the first delivery alone and, while its (held) batch is written, all the
    others; release it once they have all arrived, so they form the next batch."""
    async with env.client() as http, anyio.create_task_group() as tg:
        tg.start_soon(sender.post, http, objects[0])
        await batches.started(1)
        for object_id in objects[1:]:
            tg.start_soon(sender.post, http, object_id)
        await batches.arrivals(len(objects))
        batches.release(1)


async def test_concurrent_deliveries_share_a_transaction_and_each_gets_its_own_id(
    env: WebhookEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    sender = await warm(env)
    batches = Batches(monkeypatch)
    batches.hold(1)
    objects = range(100, 140)
    await post_behind_the_first(env, sender, batches, objects)
    # The first alone (nothing else had arrived), then everything that came meanwhile.
    assert batches.sizes == [1, len(objects) - 1]
    answers = [sender.answers[n] for n in objects]
    assert [a.status_code for a in answers] == [200] * len(objects)
    assert {a.json()["outcome"] for a in answers} == {"accepted"}
    ids = [a.json()["inbox_id"] for a in answers]
    assert len(set(ids)) == len(objects)
    bodies = await stored_bodies(env)
    for object_id, inbox_id in zip(objects, ids, strict=True):
        # Each answer names the row of its own delivery.
        assert bodies[inbox_id] == bill_event(object_id, sender.account).encode()
    assert await bill_jobs(env) == ["1", *(str(n) for n in objects)]


async def test_a_duplicate_within_one_batch_is_answered_as_a_duplicate(
    env: WebhookEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    sender = await warm(env)
    batches = Batches(monkeypatch)
    batches.hold(1)
    async with env.client() as http, anyio.create_task_group() as tg:
        tg.start_soon(sender.post, http, 200)
        await batches.started(1)
        # The same bytes at the same instant (the clock is frozen): one delivery, twice.
        tg.start_soon(lambda: sender.post(http, 300, label="first"))
        tg.start_soon(lambda: sender.post(http, 300, label="again"))
        tg.start_soon(sender.post, http, 301)
        await batches.arrivals(4)
        batches.release(1)
    assert batches.sizes == [1, 3]
    twins = [sender.answers["first"], sender.answers["again"]]
    assert [a.status_code for a in twins] == [200, 200]
    assert sorted(a.json()["outcome"] for a in twins) == ["accepted", "duplicate"]
    [kept] = [a.json()["inbox_id"] for a in twins if a.json()["outcome"] == "accepted"]
    assert [a.json() for a in twins if a.json()["outcome"] == "duplicate"] == [
        {"outcome": "duplicate"}
    ]
    body = bill_event(300, sender.account).encode()
    bodies = await stored_bodies(env)
    assert [i for i, b in bodies.items() if b == body] == [kept]
    assert await bill_jobs(env) == ["1", "200", "300", "301"]


async def test_a_delivery_whose_write_fails_fails_alone(
    env: WebhookEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    sender = await warm(env)
    now = env.h.clock.now()
    async with env.h.engine.begin() as db:
        doomed = await connections_store.create(
            db, name="Doomed", now=now, freshbooks_account_id="ZZZ999"
        )
        await webhook_secrets.confirm_verifier(
            db,
            env.h.runtime.cipher,
            connection_id=doomed.id,
            callback_id="1",
            verifier="doomed-verifier",
            now=now,
        )
    doomed_post = {"verifier": "doomed-verifier", "account": "ZZZ999", "connection_id": doomed.id}
    async with env.client() as http:
        # Its keys are copied now; once it is deleted, its inbox row cannot reference it.
        assert (await sender.post(http, 2, **doomed_post)).status_code == 200
    async with env.h.engine.begin() as db:
        await connections_store.delete(db, doomed.id)
    batches = Batches(monkeypatch)
    batches.hold(1)
    async with env.client() as http, anyio.create_task_group() as tg:
        tg.start_soon(sender.post, http, 400)
        await batches.started(1)
        for object_id in (401, 402, 403):
            tg.start_soon(sender.post, http, object_id)
        tg.start_soon(lambda: sender.post(http, 666, **doomed_post))
        for object_id in (404, 405):
            tg.start_soon(sender.post, http, object_id)
        await batches.arrivals(7)
        batches.release(1)
    # The shared transaction failed; each of its deliveries was then written on its own.
    assert batches.sizes == [1, 6, 1, 1, 1, 1, 1, 1]
    assert sender.answers[666].status_code == 503
    assert sender.answers[666].json() == {"outcome": "unavailable"}
    good = [400, 401, 402, 403, 404, 405]
    assert [sender.answers[n].status_code for n in good] == [200] * len(good)
    bodies = await stored_bodies(env)
    for object_id in good:
        inbox_id = sender.answers[object_id].json()["inbox_id"]
        assert bodies[inbox_id] == bill_event(object_id, sender.account).encode()
    assert not [b for b in bodies.values() if b"object_id=666" in b]
    assert await bill_jobs(env) == ["1", *(str(n) for n in good)]


class FailingCommits:
    """While `on`, every commit of a transaction that wrote to the inbox fails."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine.sync_engine
        self.on = True

    def wrote_inbox(self, conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO WEBHOOK_INBOX"):
            conn.info["wrote_inbox"] = True

    def commit(self, conn: Any) -> None:
        if conn.info.pop("wrote_inbox", False) and self.on:
            raise RuntimeError("injected: the commit failed")

    def rollback(self, conn: Any) -> None:
        conn.info.pop("wrote_inbox", None)

    def __enter__(self) -> FailingCommits:
        event.listen(self.engine, "before_cursor_execute", self.wrote_inbox)
        event.listen(self.engine, "commit", self.commit)
        event.listen(self.engine, "rollback", self.rollback)
        return self

    def __exit__(self, *_: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self.wrote_inbox)
        event.remove(self.engine, "commit", self.commit)
        event.remove(self.engine, "rollback", self.rollback)


@pytest.fixture
def failing_commits(env: WebhookEnv) -> Iterator[FailingCommits]:
    with FailingCommits(env.h.engine) as failing:
        failing.on = False
        yield failing


async def test_a_batch_whose_commit_fails_is_answered_503_and_stores_nothing(
    env: WebhookEnv, monkeypatch: pytest.MonkeyPatch, failing_commits: FailingCommits
) -> None:
    sender = await warm(env)
    bodies_before, jobs_before = await stored_bodies(env), await job_count(env)
    batches = Batches(monkeypatch)
    batches.hold(1)
    failing_commits.on = True
    objects = range(500, 506)
    await post_behind_the_first(env, sender, batches, objects)
    # A failed commit is the database's failure, not one delivery's: no retry one by one.
    assert batches.sizes == [1, len(objects) - 1]
    assert [sender.answers[n].status_code for n in objects] == [503] * len(objects)
    assert {sender.answers[n].json()["outcome"] for n in objects} == {"unavailable"}
    assert await stored_bodies(env) == bodies_before
    assert await job_count(env) == jobs_before
    failing_commits.on = False
    async with env.client() as http:
        after = await sender.post(http, 507)
    assert after.status_code == 200  # the writer goes on once the database does
    assert await bill_jobs(env) == ["1", "507"]


async def test_requests_that_give_up_do_not_disturb_the_others(
    env: WebhookEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    sender = await warm(env)
    batches = Batches(monkeypatch)
    batches.hold(1, 2)
    scopes = {n: anyio.CancelScope() for n in (600, 601, 607)}
    ended = {n: anyio.Event() for n in scopes}

    async def gives_up(http: httpx2.AsyncClient, object_id: int) -> None:
        try:
            with scopes[object_id]:
                await sender.post(http, object_id)
        finally:
            ended[object_id].set()

    async def cancel(object_id: int) -> None:
        scopes[object_id].cancel()
        with anyio.fail_after(WAIT_S):
            await ended[object_id].wait()

    others = [602, 603, 604, 605, 606]
    async with env.client() as http, anyio.create_task_group() as tg:
        # 600's delivery started the writing: its batch (itself alone) is being written.
        tg.start_soon(gives_up, http, 600)
        await batches.started(1)
        tg.start_soon(sender.post, http, others[0])
        tg.start_soon(sender.post, http, others[1])
        tg.start_soon(gives_up, http, 607)
        for object_id in others[2:]:
            tg.start_soon(sender.post, http, object_id)
        tg.start_soon(gives_up, http, 601)
        await batches.arrivals(len(scopes) + len(others))
        # 600 gives up while its transaction is being written; 601 while its delivery
        # still waits for a batch.
        await cancel(600)
        await cancel(601)
        batches.release(1)
        await batches.started(2)
        # 607 gives up while the transaction holding its delivery and the others' is open.
        await cancel(607)
        batches.release(2)
    assert batches.sizes == [1, len(others) + 1]
    assert not set(scopes) & set(sender.answers)
    assert [sender.answers[n].status_code for n in others] == [200] * len(others)
    bodies = await stored_bodies(env)
    for object_id in others:
        inbox_id = sender.answers[object_id].json()["inbox_id"]
        assert bodies[inbox_id] == bill_event(object_id, sender.account).encode()
    # The batches that held 600 and 607 committed whole; no batch ever took 601.
    assert [b for b in bodies.values() if b"object_id=600&" in b]
    assert [b for b in bodies.values() if b"object_id=607&" in b]
    assert not [b for b in bodies.values() if b"object_id=601&" in b]
    assert await bill_jobs(env) == ["1", "600", *(str(n) for n in others), "607"]
    async with env.client() as http:
        assert (await sender.post(http, 608)).status_code == 200


async def test_ramp_deliveries_in_one_batch_hand_their_own_inbox_ids_to_their_jobs(
    env: WebhookEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    await env.register()
    async with read(env.h.engine) as db:
        secrets = await webhook_secrets.ramp_secrets(db, env.h.runtime.cipher, env.connection.id)
    secret = next(iter(secrets.values())).encode()
    business = env.connection.ramp_business_id
    answers: dict[str, httpx2.Response] = {}

    async def post(http: httpx2.AsyncClient, event_id: str, label: str) -> None:
        body = json.dumps({"id": event_id, "type": "bills.paid", "business_id": business})
        answers[label] = await http.post(
            f"/webhooks/ramp/{env.connection.id}",
            content=body.encode(),
            headers={
                "X-Ramp-Signature": hmac.new(secret, body.encode(), hashlib.sha256).hexdigest()
            },
        )

    batches = Batches(monkeypatch)
    batches.hold(1)
    async with env.client() as http, anyio.create_task_group() as tg:
        tg.start_soon(post, http, "evt-0", "evt-0")
        await batches.started(1)
        for label, event_id in [
            ("evt-1", "evt-1"),
            ("evt-2", "evt-2"),
            ("evt-2 again", "evt-2"),
            ("evt-3", "evt-3"),
        ]:
            tg.start_soon(post, http, event_id, label)
        await batches.arrivals(5)
        batches.release(1)
    assert batches.sizes == [1, 4]
    assert {label: a.status_code for label, a in answers.items()} == dict.fromkeys(answers, 200)
    twins = sorted(answers[label].json()["outcome"] for label in ("evt-2", "evt-2 again"))
    assert twins == ["accepted", "duplicate"]
    accepted = {a.json()["inbox_id"] for a in answers.values() if a.json()["outcome"] == "accepted"}
    assert len(accepted) == 4
    async with read(env.h.engine) as db:
        ramp_jobs = await list_jobs(db, kind=Kind.RAMP_EVENT.value, limit=1000)
    by_inbox = {j.args["inbox_id"]: j for j in ramp_jobs}
    assert accepted <= set(by_inbox)
    bodies = await stored_bodies(env)
    for inbox_id in accepted:
        event_id = json.loads(bodies[inbox_id])["id"]
        assert by_inbox[inbox_id].unique_key == f"ramp.event:{env.connection.id}:{event_id}"


async def test_shutdown_waits_for_the_batch_of_a_request_that_gave_up(
    env: WebhookEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    sender = await warm(env)
    batches = Batches(monkeypatch)
    batches.hold(1)
    written: list[int] = []
    held = inbox.record_many

    async def noted(db: AsyncConnection, deliveries: list[inbox.NewDelivery]) -> list[int | None]:
        ids = await held(db, deliveries)
        written.append(len(deliveries))
        return ids

    monkeypatch.setattr(inbox, "record_many", noted)
    shut_down_after: list[list[int]] = []
    lifespan = env.app.router.lifespan_context(env.app)
    await lifespan.__aenter__()
    scope = anyio.CancelScope()

    async def gives_up(http: httpx2.AsyncClient) -> None:
        with scope:
            await sender.post(http, 700)

    async def shut_down() -> None:
        await lifespan.__aexit__(None, None, None)
        shut_down_after.append(list(written))

    async with env.client() as http, anyio.create_task_group() as tg:
        tg.start_soon(gives_up, http)
        await batches.started(1)
        scope.cancel()
        tg.start_soon(shut_down)
        batches.release(1)
    assert shut_down_after == [[1]]  # the lifespan ended only once the batch was written
    assert 700 not in sender.answers
    assert "700" in await bill_jobs(env)
