"""The worker loop: claim → run the handler → record the outcome, N jobs at a time.

Transactions are short and never span a handler: the claim commits before the handler
starts, and the outcome is written in a transaction of its own. While a handler runs,
its lease is extended every third of the lease; if the lease is lost (an operator or a
rescuer gave the job to someone else) the handler is cancelled rather than allowed to
write a second time. `stop()` stops claiming and lets running jobs finish; after the
grace period they are cancelled and handed back to the queue for an immediate retry.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

import anyio
import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from ml_connector.core.clock import Clock
from ml_connector.core.retry import Retry, RetryPolicy, describe
from ml_connector.queue import ops, parking
from ml_connector.queue.jobs import Job
from ml_connector.queue.registry import Registry, UnknownJobKindError
from ml_connector.store.tokens import default_owner

log = structlog.get_logger(__name__)

Sleep = Callable[[float], Awaitable[None]]


class Worker:
    """Runs registered jobs from the shared database.

    Args:
        engine: the shared database.
        registry: handlers; only their kinds are claimed, so workers of different
            builds never dead-letter each other's jobs.
        clock: injected time.
        owner: this worker's name in lease rows (default host:pid:random).
        concurrency: jobs run at the same time.
        lease: how long a claim stays valid without a heartbeat.
        poll_interval: seconds between claims when the queue is empty.
        rescue_every: how often this worker also rescues expired leases.
        policy: the retry policy.
        jitter: a uniform draw in [0, 1) per failure.
        queues: the queues to serve (None: all).
        shutdown_grace: seconds running jobs get to finish after `stop()`.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        registry: Registry,
        *,
        clock: Clock,
        owner: str | None = None,
        concurrency: int = 4,
        lease: timedelta = timedelta(minutes=5),
        poll_interval: float = 1.0,
        rescue_every: timedelta = timedelta(seconds=30),
        policy: RetryPolicy | None = None,
        jitter: Callable[[], float] = random.random,
        queues: Sequence[str] | None = None,
        shutdown_grace: float = 30.0,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._engine = engine
        self._registry = registry
        self._clock = clock
        self.owner = owner or f"{default_owner()}:{uuid.uuid4().hex[:8]}"
        self._concurrency = concurrency
        self._lease = lease
        self._poll = poll_interval
        self._rescue_every = rescue_every
        self._policy = policy or RetryPolicy()
        self._jitter = jitter
        self._queues = list(queues) if queues is not None else None
        self._grace = shutdown_grace
        self._active = 0
        self._parked = 0
        self._stopping = False
        self._wake = anyio.Event()
        self._last_rescue: datetime | None = None
        self.processed = 0
        """Attempts finished by this worker (any outcome)."""

    def stop(self) -> None:
        """Stop claiming; running jobs get `shutdown_grace` seconds to finish."""
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        """Serve jobs until `stop()` is called."""
        log.info("worker.started", owner=self.owner, concurrency=self._concurrency)
        async with anyio.create_task_group() as tg:
            while not self._stopping:
                await self._maybe_rescue()
                started = await self._fill(tg)
                if started == 0 or self._active >= self._concurrency:
                    with anyio.move_on_after(self._poll):
                        await self._wake.wait()
                    self._wake = anyio.Event()
            with anyio.move_on_after(self._grace):
                while self._active or self._parked:
                    await self._wake.wait()
                    self._wake = anyio.Event()
            tg.cancel_scope.cancel()
        log.info("worker.stopped", owner=self.owner)

    async def run_until_idle(self, *, max_jobs: int | None = None) -> int:
        """Run due jobs until none is left (demo, CLI `sync`, tests); returns attempts run."""
        done = 0
        while max_jobs is None or done < max_jobs:
            await self._maybe_rescue()
            limit = (
                self._concurrency if max_jobs is None else min(self._concurrency, max_jobs - done)
            )
            batch = await self._claim(limit)
            if not batch:
                return done
            async with anyio.create_task_group() as tg:
                for job in batch:
                    tg.start_soon(self._execute, job)
            done += len(batch)
        return done

    async def _fill(self, tg: anyio.abc.TaskGroup) -> int:
        free = self._concurrency - self._active
        if free <= 0:
            return 0
        batch = await self._claim(free)
        for job in batch:
            self._active += 1
            tg.start_soon(self._run_tracked, job)
        return len(batch)

    async def _run_tracked(self, job: Job) -> None:
        parking.install(self._park)
        try:
            await self._execute(job)
        finally:
            self._active -= 1
            self._wake.set()

    @asynccontextmanager
    async def _park(self) -> AsyncIterator[None]:
        """A running job waits for another: its slot may run a job meanwhile."""
        if self._parked >= self._concurrency:
            yield  # lent out enough; this one waits in its slot
            return
        self._parked += 1
        self._active -= 1
        self._wake.set()
        try:
            yield
        finally:
            self._active += 1
            self._parked -= 1

    async def _claim(self, limit: int) -> list[Job]:
        kinds = sorted(self._registry.kinds)
        if not kinds:
            return []
        async with self._engine.begin() as db:
            return await ops.claim(
                db,
                owner=self.owner,
                now=self._clock(),
                lease=self._lease,
                limit=limit,
                queues=self._queues,
                kinds=kinds,
            )

    async def _maybe_rescue(self) -> None:
        now = self._clock()
        if self._last_rescue is not None and now - self._last_rescue < self._rescue_every:
            return
        self._last_rescue = now
        async with self._engine.begin() as db:
            rescued = await ops.rescue_expired(db, now=now)
        if rescued:
            log.warning("queue.leases_rescued", job_ids=rescued)

    async def _execute(self, job: Job) -> None:
        bound = log.bind(
            job_id=job.id, kind=job.kind, attempt=job.attempts, connection_id=job.connection_id
        )
        error: BaseException | None = None
        lease_lost = False
        try:
            handler = self._registry.get(job.kind)
        except UnknownJobKindError as exc:
            error = exc
        else:
            with anyio.CancelScope() as handler_scope:
                async with anyio.create_task_group() as beats:
                    beats.start_soon(self._heartbeat, job, handler_scope)
                    try:
                        await handler(job)
                    except Exception as exc:
                        error = exc
                    except anyio.get_cancelled_exc_class():
                        if not handler_scope.cancel_called:
                            # Shutdown past the grace period: hand the job back now.
                            with anyio.CancelScope(shield=True):
                                await self._record_failure(
                                    job, _InterruptedError("worker shut down"), immediate=True
                                )
                        raise
                    finally:
                        beats.cancel_scope.cancel()
            lease_lost = handler_scope.cancelled_caught
        self.processed += 1
        if lease_lost:
            bound.warning("job.lease_lost")
            return
        if error is None:
            async with self._engine.begin() as db:
                ok = await ops.complete(db, job.id, owner=self.owner, now=self._clock())
            if ok:
                bound.info("job.completed")
            else:
                bound.warning("job.completed_after_lease_lost")
            return
        await self._record_failure(job, error)
        bound.warning("job.failed", error=describe(error))

    async def _record_failure(
        self, job: Job, error: BaseException, *, immediate: bool = False
    ) -> None:
        now = self._clock()
        decision = (
            Retry(at=now, reason=describe(error))
            if immediate
            else self._policy.decide(
                error,
                attempts=job.attempts,
                now=now,
                jitter=self._jitter(),
                max_attempts=job.max_attempts,
            )
        )
        async with self._engine.begin() as db:
            await ops.fail(
                db, job.id, owner=self.owner, decision=decision, error=describe(error), now=now
            )

    async def _heartbeat(self, job: Job, handler_scope: anyio.CancelScope) -> None:
        interval = max(self._lease.total_seconds() / 3, 0.01)
        while True:
            await anyio.sleep(interval)
            async with self._engine.begin() as db:
                held = await ops.heartbeat(
                    db, job.id, owner=self.owner, now=self._clock(), lease=self._lease
                )
            if not held:
                handler_scope.cancel()
                return


class _InterruptedError(Exception):
    """The worker stopped while the job ran; not the job's fault."""


__all__ = ["Worker"]
