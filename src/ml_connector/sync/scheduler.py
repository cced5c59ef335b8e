"""The periodic producer inside the worker process: sweeps and webhook registration.

Every `sweep_every` each ACTIVE connection gets a `Kind.SWEEP` job, and every
`webhooks_every` a `Kind.REGISTER_WEBHOOKS` job (which re-creates callbacks FreshBooks
dropped and subscriptions Ramp disabled). When each was last enqueued is kept per
connection in `sync_state`, read and written under the row's lock in the enqueue's own
transaction, so any number of worker processes can run a scheduler and each interval
still produces one job. The queue's unique keys absorb the rest (a sweep that is still
waiting is not doubled).

Time is the injected clock and waiting is the injected `sleep`, so tests drive ticks
without waiting.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import anyio
import structlog

from ml_connector.store import connections as connections_store
from ml_connector.store import read, sync_state
from ml_connector.store.connections import ConnectionStatus
from ml_connector.sync.connect import enqueue_register_webhooks
from ml_connector.sync.enumeration import SCHEDULE_KEY
from ml_connector.sync.kinds import Kind
from ml_connector.sync.reconcile import enqueue_reconcile
from ml_connector.sync.runtime import Runtime
from ml_connector.sync.sweep import enqueue_sweep

log = structlog.get_logger(__name__)

Sleep = Callable[[float], Awaitable[None]]

SWEEP_AT = "sweep_enqueued_at"
WEBHOOKS_AT = "register_webhooks_enqueued_at"
RECONCILE_AT = "reconcile_enqueued_at"


def is_due(last: datetime | None, now: datetime, every: timedelta) -> bool:
    """Never done, or done at least `every` ago. A clock set back counts as not due."""
    return last is None or now - last >= every


def _parse(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


@dataclass(kw_only=True)
class TickReport:
    at: datetime
    connections: int = 0
    """Active connections looked at."""
    enqueued: list[tuple[int, str]] = field(default_factory=list)
    """(connection id, job kind) of each job this tick enqueued."""


class Scheduler:
    """Runs `tick` every `tick_every` until `stop()`.

    Args:
        runtime: the engine and the clock.
        sweep_every: interval between sweeps of one connection.
        webhooks_every: interval between webhook registration checks.
        reconcile_every: interval between month-end reconciliation reports (read-only).
        tick_every: how often to look; the intervals' resolution.
        sleep: the injected wait (anyio.sleep in production).
    """

    def __init__(
        self,
        runtime: Runtime,
        *,
        sweep_every: timedelta = timedelta(minutes=15),
        webhooks_every: timedelta = timedelta(hours=1),
        reconcile_every: timedelta = timedelta(days=1),
        tick_every: timedelta = timedelta(seconds=30),
        sleep: Sleep = anyio.sleep,
    ) -> None:
        if min(sweep_every, webhooks_every, reconcile_every, tick_every) <= timedelta(0):
            raise ValueError("scheduler intervals must be positive")
        self._runtime = runtime
        self.sweep_every = sweep_every
        self.webhooks_every = webhooks_every
        self.reconcile_every = reconcile_every
        self.tick_every = tick_every
        self._sleep = sleep
        self._stopping = False
        self._waiting: anyio.CancelScope | None = None
        self.ticks = 0

    def stopping(self) -> bool:
        return self._stopping

    def stop(self) -> None:
        """Stop after the current tick; a pending wait is cut short."""
        self._stopping = True
        if self._waiting is not None:
            self._waiting.cancel()

    async def run(self) -> None:
        log.info("scheduler.started", sweep_every=str(self.sweep_every))
        while not self.stopping():
            try:
                await self.tick()
            except Exception:  # a failed tick (database away) must not end the loop
                log.exception("scheduler.tick_failed")
            if self.stopping():
                break
            with anyio.CancelScope() as scope:
                self._waiting = scope
                await self._sleep(self.tick_every.total_seconds())
            self._waiting = None
        log.info("scheduler.stopped")

    async def tick(self, now: datetime | None = None) -> TickReport:
        """Enqueue whatever is due for every active connection; one transaction each."""
        runtime = self._runtime
        at = now or runtime.clock()
        report = TickReport(at=at)
        async with read(runtime.engine) as db:
            connections = [
                c
                for c in await connections_store.list_all(db)
                if c.status is ConnectionStatus.ACTIVE
            ]
        report.connections = len(connections)
        for connection in connections:
            async with runtime.engine.begin() as db:
                state = await sync_state.lock(db, connection.id, SCHEDULE_KEY, now=at)
                changed = False
                for key, every, kind, enqueue_due in (
                    (SWEEP_AT, self.sweep_every, Kind.SWEEP, enqueue_sweep),
                    (WEBHOOKS_AT, self.webhooks_every, Kind.REGISTER_WEBHOOKS,
                     enqueue_register_webhooks),
                    (RECONCILE_AT, self.reconcile_every, Kind.RECONCILE, enqueue_reconcile),
                ):  # fmt: skip
                    if is_due(_parse(state.get(key)), at, every):
                        await enqueue_due(db, connection_id=connection.id, now=at)
                        state[key] = at.isoformat()
                        report.enqueued.append((connection.id, kind.value))
                        changed = True
                if changed:
                    await sync_state.put(db, connection.id, SCHEDULE_KEY, state, now=at)
        self.ticks += 1
        if report.enqueued:
            log.info("scheduler.enqueued", jobs=len(report.enqueued))
        return report


__all__ = ["Scheduler", "Sleep", "TickReport", "is_due"]
