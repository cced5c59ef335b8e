"""`enqueue_many` does what `enqueue` does for each job, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ml_connector.core.clock import FixedClock
from ml_connector.queue import JobState, Lane, NewJob, enqueue_job, enqueue_many, ops


def _job(n: int, **kw: object) -> NewJob:
    return NewJob(
        kind="sync_bill",
        args={"bill": n},
        unique_key=f"bill:{n}",
        lock_key=f"bill:{n}",
        **kw,  # type: ignore[arg-type]
    )


@pytest.mark.anyio
async def test_new_jobs_are_inserted_in_order_and_existing_ones_absorb(
    engine: AsyncEngine, clock: FixedClock
) -> None:
    async with engine.begin() as db:
        waiting = await ops.enqueue(
            db,
            kind="sync_bill",
            args={"bill": 2, "first": True},
            now=clock(),
            unique_key="bill:2",
            lock_key="bill:2",
            priority=Lane.BACKFILL,
            scheduled_at=clock() + timedelta(minutes=5),
        )
    async with engine.begin() as db:
        results = await enqueue_many(
            db,
            [_job(1), _job(2, priority=Lane.LIVE), _job(3), NewJob(kind="ping", args={})],
            now=clock(),
        )
    assert [r.coalesced for r in results] == [False, True, False, False]
    assert results[1].job_id == waiting.job_id
    assert len({r.job_id for r in results}) == 4
    async with engine.begin() as db:
        jobs = {r.job_id: await ops.get(db, r.job_id) for r in results}
    absorbed = jobs[waiting.job_id]
    assert absorbed is not None
    # As with `enqueue`: keeps its args, takes the more urgent lane and the earlier start.
    assert absorbed.args == {"bill": 2, "first": True}
    assert (absorbed.coalesced, absorbed.priority) == (1, Lane.LIVE)
    assert absorbed.scheduled_at == clock()
    for result, n in ((results[0], 1), (results[2], 3)):
        job = jobs[result.job_id]
        assert job is not None
        assert job.args == {"bill": n}
        assert (job.state, job.unique_key, job.attempts) == (JobState.AVAILABLE, f"bill:{n}", 0)


@pytest.mark.anyio
async def test_a_running_job_does_not_absorb_and_a_repeated_key_coalesces_into_itself(
    engine: AsyncEngine, clock: FixedClock
) -> None:
    async with engine.begin() as db:
        first = await enqueue_job(db, _job(5), now=clock())
        [running] = await ops.claim(db, owner="w1", now=clock(), lease=timedelta(minutes=5))
    assert running.id == first.job_id
    async with engine.begin() as db:
        results = await enqueue_many(db, [_job(5), _job(6), _job(5)], now=clock())
    assert results[0].job_id != first.job_id
    assert [r.coalesced for r in results] == [False, False, True]
    assert results[2].job_id == results[0].job_id


@pytest.mark.anyio
async def test_a_batch_larger_than_one_statement(engine: AsyncEngine, clock: FixedClock) -> None:
    async with engine.begin() as db:
        results = await enqueue_many(db, [_job(n) for n in range(1, 1202)], now=clock())
    assert not any(r.coalesced for r in results)
    assert len({r.job_id for r in results}) == 1201
    async with engine.begin() as db:
        job = await ops.get(db, results[-1].job_id)
        again = await enqueue_many(db, [_job(1201), _job(1)], now=clock())
    assert job is not None
    assert job.args == {"bill": 1201}
    assert [r.job_id for r in again] == [results[-1].job_id, results[0].job_id]


@pytest.mark.anyio
async def test_max_attempts_is_checked(engine: AsyncEngine, clock: FixedClock) -> None:
    async with engine.begin() as db:
        with pytest.raises(ValueError, match="max_attempts"):
            await enqueue_many(db, [_job(1, max_attempts=0)], now=clock())
