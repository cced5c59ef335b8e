"""Worker processes under faults: raced token expiry, and a SIGKILL mid-backfill.

Real `ml-connector worker` processes share one database and reach both emulators over
HTTP on loopback. In every case: no bill or vendor twice in Ramp, no bill missing, every
bill's audit chain intact and ending in its Ramp id, and no FreshBooks refresh token used
twice (the emulator counts reuses).
"""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from pathlib import Path

import anyio
import pytest
from workers_env import WorkersEnv

from ml_connector.store.testing import (
    PostgresUnavailableError,
    postgres_database,
    postgres_required,
    sqlite_database,
)

pytestmark = pytest.mark.anyio

VENDORS = 8
BILLS = 24
DEADLINE_S = 150.0
LATENCY_MS = 25


def _postgres(stack: ExitStack) -> str:
    try:
        return stack.enter_context(postgres_database(prefix="mlc_e2e"))
    except PostgresUnavailableError as exc:
        if postgres_required():
            pytest.fail(f"CI=true requires PostgreSQL: {exc}")
        pytest.skip(f"PostgreSQL tier skipped: {exc}")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    with ExitStack() as stack:
        yield _postgres(stack)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with ExitStack() as stack:
        if request.param == "sqlite":
            yield stack.enter_context(sqlite_database(tmp_path))
        else:
            yield _postgres(stack)


async def _env(url: str, tmp_path: Path) -> AsyncIterator[WorkersEnv]:
    env = WorkersEnv(database_url=url, tmp=tmp_path)
    env.seed(vendors=VENDORS, bills=BILLS)
    env.served.start()
    try:
        await env.connect_and_set_up()
        yield env
    finally:
        env.kill_all()
        env.served.stop()


async def _wait_for(env: WorkersEnv, ramp_bills: int | None = None) -> None:
    """Until Ramp holds `ramp_bills` bills (None: the backfill finished); a readiness poll."""
    with anyio.fail_after(DEADLINE_S):
        while True:
            if ramp_bills is not None and len(env.ramp.test_business.bills) >= ramp_bills:
                return
            progress = await env.progress()
            if progress is not None:
                assert progress.status != "stalled", progress.error
                if ramp_bills is None and progress.finished and not await env.unfinished_jobs():
                    return
            dead = [p for p in env.processes if p.poll() not in (None, -signal.SIGKILL)]
            assert not dead, [env.log_of(f"w{i}") for i in range(len(env.processes))]
            await anyio.sleep(0.2)


async def _assert_exactly_once(env: WorkersEnv) -> None:
    ramp = env.ramp
    by_fb = env.ramp_bills_by_fb_id()
    missing = [b for b in env.fb_bill_ids if b not in by_fb]
    twice = {b: ids for b, ids in by_fb.items() if len(ids) > 1}
    if missing:
        entries, _ = await env.audit_of(missing[0])
        story = [(e.step, e.ramp_id, e.detail) for e in entries]
        raise AssertionError(f"bills never reached Ramp: {missing}; {missing[0]}: {story}")
    assert not twice, f"bills created twice: {twice}"
    assert ramp.counters.duplicate_bills_by_remote_id == 0
    assert ramp.counters.duplicate_vendors_by_name == 0
    assert ramp.counters.vendors_created == VENDORS
    assert env.freshbooks.counters.refresh_token_reuses == 0
    progress = await env.progress()
    assert progress is not None
    bills = next(c for c in progress.collections if c.collection == "bills")
    assert (bills.synced, bills.failed) == (BILLS, 0)
    for fb_id in env.fb_bill_ids:
        entries, problems = await env.audit_of(fb_id)
        assert not problems, (fb_id, problems)
        written = [e for e in entries if e.step == "outcome" and e.ramp_id]
        assert written, f"bill {fb_id} has no recorded outcome"
        assert {e.ramp_id for e in written} == set(by_fb[fb_id])


async def test_tokens_expiring_while_two_workers_race(postgres_url: str, tmp_path: Path) -> None:
    async for env in _env(postgres_url, tmp_path):
        env.start_worker("w0")
        env.start_worker("w1")
        refreshes_before = env.freshbooks.counters.refreshes
        env.slow_ramp(LATENCY_MS)
        expired = 0
        for ramp_bills in (BILLS // 6, BILLS // 3, BILLS // 2):
            await _wait_for(env, ramp_bills)
            # 0 when no worker called FreshBooks since the last expiry (bills already
            # fetched, waiting on slow Ramp writes): nothing live to expire then.
            expired += env.expire_freshbooks_tokens()
        await _wait_for(env)
        assert env.stop_workers() == [0, 0], [env.log_of("w0"), env.log_of("w1")]
        await _assert_exactly_once(env)  # includes zero refresh-token reuses
        # The expiries forced refreshes, and both processes took part in the work.
        assert expired >= 1
        assert env.freshbooks.counters.refreshes >= 1 + refreshes_before
        assert "job.completed" in env.log_of("w0")
        assert "job.completed" in env.log_of("w1")


async def test_worker_killed_mid_backfill_then_replaced(
    any_database_url: str, tmp_path: Path
) -> None:
    async for env in _env(any_database_url, tmp_path):
        env.slow_ramp(LATENCY_MS)
        victim = env.start_worker("w0")
        env.start_worker("w1")
        await _wait_for(env, ramp_bills=2)
        with anyio.fail_after(DEADLINE_S):
            while not await env.running_jobs_of(victim):  # noqa: ASYNC110 - polls another process
                await anyio.sleep(0.02)
        victim.send_signal(signal.SIGKILL)
        assert victim.wait(timeout=30) == -signal.SIGKILL
        env.start_worker("w2")
        await _wait_for(env)
        codes = env.stop_workers()
        assert codes[1:] == [0, 0], [env.log_of("w1"), env.log_of("w2")]
        await _assert_exactly_once(env)
        # The victim's lost attempts were handed over, not forgotten.
        assert await env.rescued_jobs()
