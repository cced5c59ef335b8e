"""Fair scheduling across lanes, and the periodic producer."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ml_connector.queue import WAITING, claim, list_jobs
from ml_connector.store import connections as connections_store
from ml_connector.store import read
from ml_connector.store.connections import ConnectionStatus
from ml_connector.sync.kinds import Kind, Source, enqueue_object_sync
from ml_connector.sync.scheduler import Scheduler
from ml_connector.sync.sweep import enqueue_sweep
from support.harness import Harness


@pytest.mark.anyio
async def test_a_live_job_enqueued_after_a_thousand_backfill_jobs_runs_first(
    empty_firm: Harness,
) -> None:
    h = empty_firm
    assert h.connection is not None
    cid = h.connection.id
    now = h.clock.now()
    async with h.engine.begin() as db:
        for n in range(1000):
            await enqueue_object_sync(
                db, kind=Kind.SYNC_BILL, connection_id=cid, fb_id=n, source=Source.BACKFILL, now=now
            )
        await enqueue_sweep(db, connection_id=cid, now=now)
    h.clock.advance(1)
    async with h.engine.begin() as db:
        live = await enqueue_object_sync(
            db,
            kind=Kind.SYNC_BILL,
            connection_id=cid,
            fb_id="live-1",
            source=Source.WEBHOOK,
            now=h.clock.now(),
        )
    async with h.engine.begin() as db:
        first, second, third = await claim(
            db, owner="w", now=h.clock.now(), lease=timedelta(minutes=5), limit=3
        )
    assert first.id == live.job_id
    assert second.kind == Kind.SWEEP.value  # reconcile lane before the backfill lane
    assert third.args["source"] == Source.BACKFILL.value


async def waiting_jobs(h: Harness, kind: Kind) -> list[int]:
    async with read(h.engine) as db:
        return [j.id for j in await list_jobs(db, states=WAITING, kind=kind.value, limit=100)]


@pytest.mark.anyio
async def test_scheduler_enqueues_sweeps_and_webhook_checks_per_active_connection(
    empty_firm: Harness,
) -> None:
    h = empty_firm
    assert h.connection is not None
    async with h.engine.begin() as db:
        paused = await connections_store.create(
            db, name="Paused firm", now=h.clock.now(), status=ConnectionStatus.PAUSED
        )
    scheduler = Scheduler(
        h.runtime, sweep_every=timedelta(minutes=15), webhooks_every=timedelta(hours=1)
    )
    other_process = Scheduler(h.runtime)

    report = await scheduler.tick()
    assert report.connections == 1
    assert sorted(report.enqueued) == sorted(
        [
            (h.connection.id, Kind.SWEEP.value),
            (h.connection.id, Kind.REGISTER_WEBHOOKS.value),
            (h.connection.id, Kind.RECONCILE.value),  # daily, read-only
        ]
    )
    # A second scheduler (another worker process) in the same interval adds nothing.
    assert (await other_process.tick()).enqueued == []

    h.clock.advance(15 * 60)
    report = await scheduler.tick()
    assert report.enqueued == [(h.connection.id, Kind.SWEEP.value)]
    # The first sweep had not run yet: the waiting job absorbed the second.
    assert len(await waiting_jobs(h, Kind.SWEEP)) == 1
    assert len(await waiting_jobs(h, Kind.REGISTER_WEBHOOKS)) == 1
    assert len(await waiting_jobs(h, Kind.RECONCILE)) == 1

    h.clock.advance(45 * 60)
    report = await scheduler.tick()
    assert sorted(k for _, k in report.enqueued) == sorted(
        [Kind.SWEEP.value, Kind.REGISTER_WEBHOOKS.value]
    )
    async with read(h.engine) as db:
        assert await list_jobs(db, connection_id=paused.id) == []


@pytest.mark.anyio
async def test_scheduler_run_uses_the_injected_sleep_and_stops(empty_firm: Harness) -> None:
    h = empty_firm
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)
        h.clock.advance(seconds)
        if len(slept) == 40:
            scheduler.stop()

    scheduler = Scheduler(
        h.runtime,
        sweep_every=timedelta(minutes=5),
        tick_every=timedelta(seconds=30),
        sleep=fake_sleep,
    )
    await scheduler.run()
    assert scheduler.ticks == 40
    assert slept == [30.0] * 40
    async with read(h.engine) as db:
        sweeps = await list_jobs(db, kind=Kind.SWEEP.value, limit=100)
    # 20 simulated minutes, one sweep due every 5 minutes; none ran, so they coalesced.
    assert len(sweeps) == 1
    assert sweeps[0].coalesced == 3
