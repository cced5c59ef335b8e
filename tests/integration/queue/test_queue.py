"""The job queue on SQLite and PostgreSQL: invariants, retries, replay, rescue, fairness."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import anyio
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ml_connector.core.clock import FixedClock
from ml_connector.core.errors import ApiValidationError, NeedsAttentionError, RateLimitedError
from ml_connector.core.retry import DeadLetter, Retry
from ml_connector.queue import JobState, Lane, Registry, Worker, ops
from ml_connector.queue.jobs import Job
from ml_connector.queue.parking import parked
from ml_connector.store import inbox
from ml_connector.store.engine import make_engine

LEASE = timedelta(minutes=5)


async def _enqueue(engine: AsyncEngine, clock: FixedClock, **kw: Any) -> ops.Enqueued:
    kw.setdefault("kind", "sync_bill")
    kw.setdefault("args", {})
    async with engine.begin() as db:
        return await ops.enqueue(db, now=clock(), **kw)


async def _claim(
    engine: AsyncEngine, clock: FixedClock, owner: str = "w1", limit: int = 1
) -> list[Job]:
    async with engine.begin() as db:
        return await ops.claim(db, owner=owner, now=clock(), lease=LEASE, limit=limit)


@pytest.mark.anyio
async def test_enqueue_rides_the_callers_transaction(
    engine: AsyncEngine, clock: FixedClock
) -> None:
    async def webhook_ack_that_crashes() -> None:
        async with engine.begin() as db:
            delivery = await inbox.record(
                db, source="freshbooks", body=b"x", dedupe_key="k", received_at=clock()
            )
            await ops.enqueue(db, kind="fb.event", args={"inbox_id": delivery}, now=clock())
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await webhook_ack_that_crashes()
    assert await _claim(engine, clock) == []
    async with engine.begin() as db:
        assert await inbox.recent(db) == []


@pytest.mark.anyio
async def test_burst_for_one_object_coalesces(engine: AsyncEngine, clock: FixedClock) -> None:
    first = await _enqueue(
        engine,
        clock,
        args={"bill": 7},
        unique_key="bill:7",
        lock_key="bill:7",
        priority=Lane.BACKFILL,
    )
    results = [
        await _enqueue(engine, clock, args={"bill": 7}, unique_key="bill:7", lock_key="bill:7")
        for _ in range(4)
    ]
    assert not first.coalesced
    assert all(r.coalesced and r.job_id == first.job_id for r in results)
    async with engine.begin() as db:
        job = await ops.get(db, first.job_id)
    assert job is not None
    assert job.coalesced == 4
    assert job.priority == Lane.LIVE  # the live hint promoted the backfill job

    # Once it runs, a new change is not absorbed: it waits behind the running job.
    [running] = await _claim(engine, clock)
    later = await _enqueue(engine, clock, args={"bill": 7}, unique_key="bill:7", lock_key="bill:7")
    assert not later.coalesced
    assert await _claim(engine, clock, owner="w2") == []  # same lock key is running
    async with engine.begin() as db:
        assert await ops.complete(db, running.id, owner="w1", now=clock())
    [next_job] = await _claim(engine, clock, owner="w2")
    assert next_job.id == later.job_id


@pytest.mark.anyio
async def test_retry_then_dead_letter_with_history_then_replay(
    engine: AsyncEngine, clock: FixedClock
) -> None:
    enq = await _enqueue(
        engine,
        clock,
        max_attempts=2,
        unique_key="bill:9",
        lock_key="bill:9",
        args={"bill": 9, "mapping_version": 3},
    )
    [job] = await _claim(engine, clock)
    async with engine.begin() as db:
        state = await ops.fail(
            db,
            job.id,
            owner="w1",
            decision=Retry(at=clock() + timedelta(minutes=1), reason="503"),
            error="TransientApiError: 503",
            now=clock(),
        )
    assert state is JobState.RETRYABLE
    assert await _claim(engine, clock) == []  # not due yet
    clock.advance(timedelta(minutes=1))
    [job] = await _claim(engine, clock)
    assert job.attempts == 2
    async with engine.begin() as db:
        state = await ops.fail(
            db,
            job.id,
            owner="w1",
            decision=DeadLetter(reason="gave up after 2 attempts"),
            error="TransientApiError: 503",
            now=clock(),
        )
        dead = await ops.get(db, enq.job_id)
    assert state is JobState.DEAD
    assert dead is not None
    assert [e["outcome"] for e in dead.errors] == ["retry", "dead"]
    assert dead.last_error == "gave up after 2 attempts"

    async with engine.begin() as db:
        replayed = await ops.replay(
            db,
            now=clock(),
            actor="controller@firm",
            kind="sync_bill",
            mapping="original",
            extra_attempts=3,
        )
    assert replayed == [enq.job_id]
    [again] = await _claim(engine, clock)
    assert again.id == enq.job_id
    assert again.args["_replay"] == {
        "mapping": "original",
        "by": "controller@firm",
        "at": clock().isoformat(),
    }
    assert again.args["mapping_version"] == 3
    assert again.max_attempts == 5
    assert again.replayed_by == "controller@firm"
    assert again.replays == 1


@pytest.mark.anyio
async def test_replay_by_ids_leaves_others_dead(engine: AsyncEngine, clock: FixedClock) -> None:
    ids = []
    for n in range(3):
        ids.append((await _enqueue(engine, clock, args={"n": n}, max_attempts=1)).job_id)
    for job in await _claim(engine, clock, limit=3):
        async with engine.begin() as db:
            await ops.fail(
                db, job.id, owner="w1", decision=DeadLetter(reason="fatal"), error="x", now=clock()
            )
    async with engine.begin() as db:
        assert await ops.replay(db, now=clock(), actor="a", job_ids=[ids[0], ids[2]]) == [
            ids[0],
            ids[2],
        ]
        dead = await ops.list_jobs(db, states=[JobState.DEAD])
    assert [j.id for j in dead] == [ids[1]]


@pytest.mark.anyio
async def test_expired_leases_are_rescued(engine: AsyncEngine, clock: FixedClock) -> None:
    a = await _enqueue(engine, clock, lock_key="bill:1", max_attempts=3)
    b = await _enqueue(engine, clock, lock_key="bill:2", max_attempts=1)
    await _claim(engine, clock, owner="crashed", limit=2)
    async with engine.begin() as db:
        assert await ops.rescue_expired(db, now=clock()) == []  # leases still live
    clock.advance(LEASE + timedelta(seconds=1))
    async with engine.begin() as db:
        rescued = await ops.rescue_expired(db, now=clock())
        job_a, job_b = await ops.get(db, a.job_id), await ops.get(db, b.job_id)
        # The crashed worker's late completion is refused.
        assert not await ops.complete(db, a.job_id, owner="crashed", now=clock())
    assert sorted(rescued) == sorted([a.job_id, b.job_id])
    assert job_a is not None
    assert job_b is not None
    assert job_a.state is JobState.RETRYABLE
    assert job_b.state is JobState.DEAD  # its only attempt was lost
    assert "lease" in (job_a.last_error or "")
    [again] = await _claim(engine, clock, owner="w2")
    assert again.id == a.job_id


@pytest.mark.anyio
async def test_fair_across_connections_and_lanes(engine: AsyncEngine, clock: FixedClock) -> None:
    for n in range(20):
        await _enqueue(engine, clock, connection_id=1, args={"n": n}, priority=Lane.BACKFILL)
    clock.advance(1)
    for n in range(2):
        await _enqueue(engine, clock, connection_id=2, args={"n": n}, priority=Lane.BACKFILL)
    clock.advance(1)
    live = await _enqueue(engine, clock, connection_id=3, args={"live": True}, priority=Lane.LIVE)
    clock.advance(1)
    batch = await _claim(engine, clock, limit=5)
    assert batch[0].id == live.job_id  # live work first, whatever its age
    assert [j.connection_id for j in batch[1:]] == [1, 2, 1, 2]  # then round-robin


@pytest.mark.anyio
async def test_concurrent_claimers_never_double_claim(
    engine: AsyncEngine, database_url: str, clock: FixedClock
) -> None:
    for n in range(40):
        await _enqueue(engine, clock, connection_id=n % 3, args={"n": n}, lock_key=f"obj:{n % 10}")
    engines = [make_engine(database_url) for _ in range(4)]
    claimed: dict[str, list[Job]] = {}
    running: dict[str, str] = {}
    violations: list[str] = []

    async def claimer(i: int) -> None:
        owner = f"w{i}"
        claimed[owner] = []
        e = engines[i % len(engines)]
        for _ in range(40):
            async with e.begin() as db:
                batch = await ops.claim(db, owner=owner, now=clock(), lease=LEASE, limit=2)
            for job in batch:
                if job.lock_key in running:
                    violations.append(
                        f"{job.lock_key} claimed by {owner} while {running[job.lock_key]} runs it"
                    )
                running[job.lock_key or ""] = owner
            claimed[owner].extend(batch)
            await anyio.lowlevel.checkpoint()
            for job in batch:
                running.pop(job.lock_key or "", None)
                async with e.begin() as db:
                    assert await ops.complete(db, job.id, owner=owner, now=clock())

    try:
        async with anyio.create_task_group() as tg:
            for i in range(6):
                tg.start_soon(claimer, i)
    finally:
        for e in engines:
            await e.dispose()
    ids = [j.id for jobs in claimed.values() for j in jobs]
    assert violations == []
    assert len(ids) == len(set(ids)) == 40
    async with engine.begin() as db:
        assert (await ops.stats(db, now=clock())).by_state == {"completed": 40}


@pytest.mark.anyio
async def test_worker_runs_handlers_and_records_outcomes(
    engine: AsyncEngine, clock: FixedClock
) -> None:
    registry = Registry()
    seen: list[int] = []

    @registry.handler("ok")
    async def ok(job: Job) -> None:
        seen.append(job.args["n"])

    @registry.handler("throttled")
    async def throttled(job: Job) -> None:
        raise RateLimitedError("429", system="ramp", retry_after=30)

    @registry.handler("bad")
    async def bad(job: Job) -> None:
        raise ApiValidationError("Unknown field.", system="ramp", status=422)

    @registry.handler("ambiguous")
    async def ambiguous(job: Job) -> None:
        raise NeedsAttentionError("two vendors match", code="ambiguous_vendor")

    ids = {}
    for kind in ("ok", "throttled", "bad", "ambiguous"):
        ids[kind] = (await _enqueue(engine, clock, kind=kind, args={"n": 1})).job_id
    other = await _enqueue(engine, clock, kind="not_mine", args={})
    worker = Worker(engine, registry, clock=clock, owner="w", concurrency=2, jitter=lambda: 0.0)
    assert await worker.run_until_idle() == 4
    async with engine.begin() as db:
        states = {k: (await ops.get(db, v)) for k, v in ids.items()}
        untouched = await ops.get(db, other.job_id)
        stats = await ops.stats(db, now=clock())
    assert seen == [1]
    assert states["ok"].state is JobState.COMPLETED
    assert states["throttled"].state is JobState.RETRYABLE
    assert states["throttled"].scheduled_at >= clock() + timedelta(seconds=30)
    assert states["bad"].state is JobState.DEAD
    assert states["ambiguous"].state is JobState.ATTENTION
    assert states["ambiguous"].errors[-1]["code"] == "ambiguous_vendor"
    assert untouched is not None
    assert untouched.state is JobState.AVAILABLE  # kinds this worker does not know stay queued
    assert stats.by_kind["ok"] == {"completed": 1}
    assert stats.due_by_connection == {None: 1}


@pytest.mark.anyio
async def test_worker_loop_stops_gracefully(engine: AsyncEngine, clock: FixedClock) -> None:
    registry = Registry()
    finished: list[int] = []
    worker: Worker

    @registry.handler("step")
    async def step(job: Job) -> None:
        await anyio.sleep(0.01)
        finished.append(job.id)
        if len(finished) == 3:
            worker.stop()

    for n in range(3):
        await _enqueue(engine, clock, kind="step", args={"n": n})
    worker = Worker(engine, registry, clock=clock, concurrency=3, poll_interval=0.01)
    with anyio.fail_after(10):
        await worker.run()
    assert len(finished) == 3
    async with engine.begin() as db:
        assert (await ops.stats(db, now=clock())).by_state == {"completed": 3}


@pytest.mark.anyio
async def test_lost_lease_cancels_the_handler(engine: AsyncEngine, clock: FixedClock) -> None:
    registry = Registry()
    reached_end = []
    entered = anyio.Event()

    @registry.handler("slow")
    async def slow(job: Job) -> None:
        entered.set()
        await anyio.sleep(5)
        reached_end.append(job.id)

    enq = await _enqueue(engine, clock, kind="slow")
    worker = Worker(engine, registry, clock=clock, owner="w", lease=timedelta(seconds=0.06))

    async def steal() -> None:
        await entered.wait()
        async with engine.begin() as db:
            clock.advance(timedelta(minutes=1))
            await ops.rescue_expired(db, now=clock())

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(steal)
            await worker.run_until_idle(max_jobs=1)
    assert reached_end == []
    async with engine.begin() as db:
        job = await ops.get(db, enq.job_id)
    assert job is not None
    assert job.state is JobState.RETRYABLE


@pytest.mark.anyio
# PostgreSQL only: on SQLite the write lock runs claims one at a time.
@pytest.mark.parametrize(
    "database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
async def test_a_claim_skips_a_lock_key_another_claim_is_starting(
    engine: AsyncEngine, database_url: str, clock: FixedClock
) -> None:
    """Two open claims never wait on each other's lock keys (they would deadlock)."""
    first = await _enqueue(engine, clock, args={"n": 1}, lock_key="k1")
    second_engine = make_engine(database_url)
    try:
        async with engine.begin() as a:
            [job_a] = await ops.claim(a, owner="a", now=clock(), lease=LEASE)
            assert job_a.id == first.job_id
            # Enqueued after a's claim locked its candidates, so b sees them.
            await _enqueue(second_engine, clock, args={"n": 2}, lock_key="k1")
            other = await _enqueue(second_engine, clock, args={"n": 3}, lock_key="k2")
            async with second_engine.begin() as b:
                # Without the skip, b's claim of job 2 waits on a's uncommitted k1 entry.
                await b.exec_driver_sql("SET LOCAL lock_timeout = '5s'")
                [job_b] = await ops.claim(b, owner="b", now=clock(), lease=LEASE)
        assert job_b.id == other.job_id
    finally:
        await second_engine.dispose()


@pytest.mark.anyio
async def test_a_parked_job_lends_its_slot_up_to_the_concurrency(
    engine: AsyncEngine, clock: FixedClock
) -> None:
    """With one slot, a job waiting in `parked()` lets one more job run, not more."""
    registry = Registry()
    started: list[int] = []
    release = anyio.Event()
    two_started = anyio.Event()
    worker: Worker

    @registry.handler("waits")
    async def waits(job: Job) -> None:
        started.append(job.args["n"])
        if len(started) == 2:
            two_started.set()
        async with parked():
            await release.wait()
        if len(started) == 3:
            worker.stop()

    for n in range(3):
        await _enqueue(engine, clock, kind="waits", args={"n": n})
    worker = Worker(engine, registry, clock=clock, concurrency=1, poll_interval=0.01)
    with anyio.fail_after(30):  # a hang guard: without parking the first job never ends
        async with anyio.create_task_group() as tg:
            tg.start_soon(worker.run)
            await two_started.wait()
            # The second job parked too: the worker has lent its one extra slot.
            for _ in range(20):
                await anyio.sleep(0.01)
            assert started == [0, 1]
            release.set()
    assert sorted(started) == [0, 1, 2]
    async with engine.begin() as db:
        assert (await ops.stats(db, now=clock())).by_state == {"completed": 3}
