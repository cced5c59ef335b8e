"""Group commit for webhook deliveries: those that arrive during a write share the next one.

Every delivery is stored (its inbox row and its job committed) before it is acknowledged.
One transaction per delivery made that commit the webhook's main cost: under a burst,
each request waited for the write lock (SQLite) or a pooled connection (PostgreSQL) and
then paid a whole transaction of its own for two rows. Here the deliveries that arrive
while one transaction is being written wait for the next, and that one stores all of
them: one multi-row insert into the inbox, one `enqueue_many`, one commit.

- No timer: a lone delivery is written at once; a batch is only what accumulated while
  the previous one was being written (at most `MAX_BATCH`), so nothing waits at low load.
  One batch is written at a time, on PostgreSQL too: the next one forms while the
  previous one commits, which is what lets a burst fold into few transactions.
- Each request still answers only after the transaction holding its delivery commits:
  `write` returns the inbox id (None for a duplicate) from that transaction, or raises.
- A statement that fails inside a batch may be one delivery's fault (a connection deleted
  meanwhile): the batch is retried one delivery per transaction, so only that one fails.
  A failure to begin or to commit is the database's, not a delivery's: every delivery of
  that batch fails (503, the vendor retries) without a retry that would only wait again.
- Batches are written by a task of the writer, not by a request: a client that hangs up
  cancels only its own wait, never a transaction that holds other deliveries. A delivery
  whose request gave up before its batch began is not written.

There is no background task to start or stop: the first delivery to find the writer idle
starts one, and it ends when nothing is left to write. So it works alike under uvicorn and
under an in-process ASGI transport that never runs the lifespan; the lifespan only waits,
on shutdown, for a batch still being written (`wait_idle`).
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ml_connector.queue import NewJob, enqueue_many
from ml_connector.store import inbox

log = structlog.get_logger(__name__)

MAX_BATCH = 128
"""Deliveries per transaction at most: a burst beyond it is written in several, in order."""


@dataclass(frozen=True, kw_only=True)
class Delivery:
    """One verified delivery: its inbox row, and the job it hands on once recorded."""

    record: inbox.NewDelivery
    job: Callable[[int], NewJob] | None = None
    """The job for this delivery given its new inbox id; not called for a duplicate."""


class WriterStoppedError(Exception):
    """The writer's task ended (the event loop is shutting down) before this was written."""


class _Phase:
    BEGIN = "begin"
    WRITE = "write"
    COMMIT = "commit"


class _BatchError(Exception):
    def __init__(self, phase: str, cause: Exception) -> None:
        super().__init__(phase)
        self.phase = phase
        self.cause = cause


@dataclass
class _Waiting:
    delivery: Delivery
    answer: asyncio.Future[int | None]


@dataclass
class _Lane:
    """The writer's state on one event loop (futures and tasks belong to a loop)."""

    pending: deque[_Waiting] = field(default_factory=deque)
    task: asyncio.Task[None] | None = None


class DeliveryWriter:
    """Stores verified webhook deliveries in shared transactions (one writer per app)."""

    def __init__(self, *, max_batch: int = MAX_BATCH) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self.max_batch = max_batch
        self._lanes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Lane] = (
            weakref.WeakKeyDictionary()
        )

    async def write(self, engine: AsyncEngine, delivery: Delivery) -> int | None:
        """Store `delivery` and its job; its inbox id, or None if already recorded.

        Returns only once the transaction holding it has committed. Raises whatever
        kept it from committing (the caller answers 503).
        """
        loop = asyncio.get_running_loop()
        lane = self._lanes.get(loop)
        if lane is None:
            lane = self._lanes[loop] = _Lane()
        waiting = _Waiting(delivery, loop.create_future())
        lane.pending.append(waiting)
        if lane.task is None or lane.task.done():
            # A fresh context: the batch belongs to no one request (its request id and
            # other bound log fields must not label the others' write).
            lane.task = loop.create_task(self._drain(engine, lane), context=contextvars.Context())
        return await waiting.answer

    async def wait_idle(self) -> None:
        """Wait until this loop's writer has written everything handed to it."""
        lane = self._lanes.get(asyncio.get_running_loop())
        while lane is not None and lane.task is not None and not lane.task.done():
            await asyncio.wait([lane.task])

    async def _drain(self, engine: AsyncEngine, lane: _Lane) -> None:
        batch: list[_Waiting] = []
        try:
            while lane.pending:
                batch = self._take(lane.pending)
                try:
                    await self._write_batch(engine, batch)
                except Exception as exc:
                    # A fault of the writer's own, not the database's: it fails this batch
                    # only, and the next deliveries are still written.
                    log.exception("webhook.batch_failed", size=len(batch))
                    for waiting in batch:
                        _settle_error(waiting, exc)
                batch = []
        finally:
            lane.task = None
            # Only if this task itself is cancelled (the loop is closing): nobody is left
            # to write these, and their requests must not wait for ever.
            for waiting in [*batch, *lane.pending]:
                _settle_error(waiting, WriterStoppedError())
            lane.pending.clear()

    def _take(self, pending: deque[_Waiting]) -> list[_Waiting]:
        batch: list[_Waiting] = []
        while pending and len(batch) < self.max_batch:
            waiting = pending.popleft()
            # A request that gave up before its batch began: its delivery was never
            # acknowledged, so the vendor sends it again; writing it would be wasted.
            if not waiting.answer.done():
                batch.append(waiting)
        return batch

    async def _write_batch(self, engine: AsyncEngine, batch: list[_Waiting]) -> None:
        if not batch:
            return
        try:
            ids = await _transaction(engine, [w.delivery for w in batch])
        except _BatchError as failed:
            if failed.phase != _Phase.WRITE or len(batch) == 1:
                for waiting in batch:
                    _settle_error(waiting, failed.cause)
                return
            log.warning(
                "webhook.batch_retried_singly",
                size=len(batch),
                error=type(failed.cause).__name__,
            )
            await self._write_singly(engine, batch)
            return
        for waiting, delivery_id in zip(batch, ids, strict=True):
            if not waiting.answer.done():
                waiting.answer.set_result(delivery_id)

    async def _write_singly(self, engine: AsyncEngine, batch: list[_Waiting]) -> None:
        for position, waiting in enumerate(batch):
            if waiting.answer.done():
                continue
            try:
                [delivery_id] = await _transaction(engine, [waiting.delivery])
            except _BatchError as failed:
                _settle_error(waiting, failed.cause)
                if failed.phase != _Phase.WRITE:
                    # The database itself failed: the rest would only wait to fail too.
                    for rest in batch[position + 1 :]:
                        _settle_error(rest, failed.cause)
                    return
                continue
            waiting.answer.set_result(delivery_id)


def _settle_error(waiting: _Waiting, exc: Exception) -> None:
    if not waiting.answer.done():
        waiting.answer.set_exception(exc)


async def _transaction(engine: AsyncEngine, deliveries: Sequence[Delivery]) -> list[int | None]:
    """Record `deliveries` and enqueue their jobs in one transaction; their inbox ids.

    Raises `_BatchError` naming the phase that failed.
    """
    phase = _Phase.BEGIN
    try:
        async with engine.begin() as db:
            phase = _Phase.WRITE
            ids = await _record_and_enqueue(db, deliveries)
            phase = _Phase.COMMIT
    except Exception as exc:
        raise _BatchError(phase, exc) from exc
    return ids


async def _record_and_enqueue(
    db: AsyncConnection, deliveries: Sequence[Delivery]
) -> list[int | None]:
    ids = await inbox.record_many(db, [d.record for d in deliveries])
    new_jobs = [
        _scheduled_at_receipt(d.job(delivery_id), d)
        for d, delivery_id in zip(deliveries, ids, strict=True)
        if delivery_id is not None and d.job is not None
    ]
    if new_jobs:
        now = max(d.record.received_at for d in deliveries)
        await enqueue_many(db, new_jobs, now=now)
    return ids


def _scheduled_at_receipt(job: NewJob, delivery: Delivery) -> NewJob:
    # `enqueue_many` takes one `now` for the batch; each job still starts at its own
    # delivery's receipt, as when every delivery had a transaction of its own.
    if job.scheduled_at is not None:
        return job
    return dataclasses.replace(job, scheduled_at=delivery.record.received_at)


__all__ = ["MAX_BATCH", "Delivery", "DeliveryWriter", "WriterStoppedError"]
