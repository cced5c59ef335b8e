"""The queue against a plain-Python model of its state machine (hypothesis, on SQLite)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from ml_connector.core.retry import DeadLetter, Retry
from ml_connector.queue import JobState, ops
from ml_connector.store import migrate
from ml_connector.store.engine import make_engine

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)
KEYS = st.sampled_from(["a", "b", "c", None])
OWNERS = st.sampled_from(["w1", "w2"])
WAITING = {JobState.AVAILABLE, JobState.RETRYABLE}


@dataclass
class ModelJob:
    state: JobState
    unique_key: str | None
    lock_key: str | None
    scheduled_at: datetime
    attempts: int = 0
    max_attempts: int = 2
    owner: str | None = None
    lease_until: datetime | None = None


@pytest.fixture(scope="module")
def template_db() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "template.db"
        migrate.upgrade(f"sqlite:///{path}")
        yield path


class QueueMachine(RuleBasedStateMachine):
    template: Path

    def __init__(self) -> None:
        super().__init__()
        self.tmp = tempfile.TemporaryDirectory()
        db_path = Path(self.tmp.name) / "q.db"
        shutil.copy(self.template, db_path)
        self.portal_cm = start_blocking_portal("asyncio")
        self.portal: BlockingPortal = self.portal_cm.__enter__()
        self.engine = self.portal.call(lambda: _make(f"sqlite+aiosqlite:///{db_path}"))
        self.now = T0
        self.model: dict[int, ModelJob] = {}

    def teardown(self) -> None:
        self.portal.call(self.engine.dispose)
        self.portal_cm.__exit__(None, None, None)
        self.tmp.cleanup()

    def _tx(self, fn: Any, **kw: Any) -> Any:
        async def run() -> Any:
            async with self.engine.begin() as db:
                return await fn(db, **kw)

        return self.portal.call(run)

    @initialize()
    def start(self) -> None:
        assert self.model == {}

    @rule(unique=KEYS, lock=KEYS, delay=st.sampled_from([0, 0, 30]))
    def enqueue(self, unique: str | None, lock: str | None, delay: int) -> None:
        at = self.now + timedelta(seconds=delay)
        result = self._tx(
            ops.enqueue,
            kind="k",
            args={},
            now=self.now,
            scheduled_at=at,
            unique_key=unique,
            lock_key=lock,
            max_attempts=2,
        )
        waiting = [
            i
            for i, j in self.model.items()
            if unique is not None and j.unique_key == unique and j.state in WAITING
        ]
        if waiting:
            assert result.coalesced
            assert result.job_id == waiting[0]
            job = self.model[result.job_id]
            if job.state is JobState.AVAILABLE and at < job.scheduled_at:
                job.scheduled_at = at
        else:
            assert not result.coalesced
            assert result.job_id not in self.model
            self.model[result.job_id] = ModelJob(JobState.AVAILABLE, unique, lock, at)

    @rule(owner=OWNERS, limit=st.integers(1, 3))
    def claim(self, owner: str, limit: int) -> None:
        claimed = self._tx(ops.claim, owner=owner, now=self.now, lease=LEASE, limit=limit)
        running_locks = {
            j.lock_key for j in self.model.values() if j.state is JobState.RUNNING and j.lock_key
        }
        claimable = [
            i
            for i, j in self.model.items()
            if j.state in WAITING
            and j.scheduled_at <= self.now
            and (j.lock_key is None or j.lock_key not in running_locks)
        ]
        if claimable:
            assert claimed, "a due, unlocked job was not claimed"
        assert len(claimed) <= limit
        for job in claimed:
            assert job.id in claimable
            m = self.model[job.id]
            assert m.lock_key is None or m.lock_key not in running_locks
            if m.lock_key:
                running_locks.add(m.lock_key)
            m.state, m.owner, m.lease_until = JobState.RUNNING, owner, self.now + LEASE
            m.attempts += 1
            assert job.attempts == m.attempts

    def _running(self) -> list[int]:
        return sorted(i for i, j in self.model.items() if j.state is JobState.RUNNING)

    @precondition(lambda self: self._running())
    @rule(data=st.data())
    def complete(self, data: st.DataObject) -> None:
        job_id = data.draw(st.sampled_from(self._running()))
        m = self.model[job_id]
        assert self._tx(ops.complete, job_id=job_id, owner=m.owner, now=self.now)
        assert not self._tx(ops.complete, job_id=job_id, owner=m.owner, now=self.now)
        m.state, m.owner = JobState.COMPLETED, None

    @precondition(lambda self: self._running())
    @rule(data=st.data(), dead=st.booleans())
    def fail(self, data: st.DataObject, dead: bool) -> None:
        job_id = data.draw(st.sampled_from(self._running()))
        m = self.model[job_id]
        decision = (
            DeadLetter(reason="x")
            if dead
            else Retry(at=self.now + timedelta(seconds=10), reason="x")
        )
        state = self._tx(
            ops.fail, job_id=job_id, owner=m.owner, decision=decision, error="E", now=self.now
        )
        m.owner = None
        if dead:
            m.state = JobState.DEAD
        elif m.unique_key and any(
            o.unique_key == m.unique_key and o.state in WAITING for o in self.model.values()
        ):
            m.state = JobState.CANCELLED  # superseded by the waiting job
        else:
            m.state, m.scheduled_at = JobState.RETRYABLE, self.now + timedelta(seconds=10)
        assert state is m.state

    @rule(seconds=st.sampled_from([5, 30, 400]))
    def advance(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)

    @rule()
    def rescue(self) -> None:
        rescued = set(self._tx(ops.rescue_expired, now=self.now))
        expected = {
            i
            for i, j in self.model.items()
            if j.state is JobState.RUNNING
            and j.lease_until is not None
            and j.lease_until < self.now
        }
        assert rescued == expected
        for job_id in sorted(expected):
            m = self.model[job_id]
            m.owner = None
            if m.attempts >= m.max_attempts:
                m.state = JobState.DEAD
            elif m.unique_key and any(
                o.unique_key == m.unique_key and o.state in WAITING for o in self.model.values()
            ):
                m.state = JobState.CANCELLED
            else:
                m.state, m.scheduled_at = JobState.RETRYABLE, self.now

    @precondition(lambda self: any(j.state is JobState.DEAD for j in self.model.values()))
    @rule()
    def replay_all(self) -> None:
        replayed = self._tx(ops.replay, now=self.now, actor="t", kind="k", extra_attempts=2)
        dead = sorted(i for i, j in self.model.items() if j.state is JobState.DEAD)
        assert replayed == dead
        for job_id in dead:
            m = self.model[job_id]
            if m.unique_key and any(
                o.unique_key == m.unique_key and o.state in WAITING for o in self.model.values()
            ):
                m.unique_key = None
            m.state, m.scheduled_at, m.max_attempts = JobState.AVAILABLE, self.now, m.attempts + 2

    @invariant()
    def database_matches_model(self) -> None:
        jobs = self._tx(ops.list_jobs, limit=1000)
        assert {j.id: j.state for j in jobs} == {i: m.state for i, m in self.model.items()}
        waiting_keys = [j.unique_key for j in jobs if j.state in WAITING and j.unique_key]
        running_locks = [j.lock_key for j in jobs if j.state is JobState.RUNNING and j.lock_key]
        assert len(waiting_keys) == len(set(waiting_keys))
        assert len(running_locks) == len(set(running_locks))


async def _make(url: str) -> Any:
    return make_engine(url)


def test_queue_behaves_like_its_model(template_db: Path) -> None:
    QueueMachine.template = template_db
    runner = QueueMachine.TestCase
    runner.settings = settings(
        max_examples=30,
        stateful_step_count=25,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    runner().runTest()
