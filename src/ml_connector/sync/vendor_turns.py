"""Vendor creations of one connection take turns inside a process, waiting parked.

Across processes, a connection's vendor creations are serialized by one write intent in
the database (`executor`): whoever records it creates, the others wait for it to
resolve and re-plan. Within one process that hand-over was a stampede: at a backfill's
start every worker slot held a job waiting for the intent, and each resolution woke
them all to re-plan, fail to record the intent in a write transaction, and wait again,
one at a time behind SQLite's single writer, before the next vendor could be created.
Here a process's jobs queue for their turn first, in arrival order and with their
worker slots lent (`queue.parking`), so only one of them at a time contends in the
database, and the hand-over wakes one job, not all.

A turn also lets the next creation skip re-reading Ramp's vendors. Each create looks
before it creates (a lost response, a concurrent job, a vendor added in Ramp's UI); in
a backfill that made every new vendor cost two Ramp calls in a row. The list this
process holds is as good as a re-read when (`knows`) nothing but its own turns changed
it since it was read: the same list object is still cached (no reload or invalidation
replaced it), the connection's previous vendor write is the one this process resolved
with it (no other process created one since), and the read is recent (a person adding
a vendor in Ramp's UI meanwhile is the one thing not seen, as a re-read a moment
earlier would not have seen it either).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import anyio

from ml_connector.core.model import RampVendorRef
from ml_connector.queue.parking import parked

__all__ = ["Turn", "VendorTurns"]


@dataclass(frozen=True)
class Turn:
    waited: bool
    """Another job held the turn when this one asked for it."""
    behind_job_id: int | None
    """The job that held it just before (None if none did, or it was not a job)."""


@dataclass(frozen=True)
class _KnownList:
    vendors: tuple[RampVendorRef, ...]
    """The cached list object itself: compared by identity, not by value."""
    after_intent_id: int
    read_at: datetime


class VendorTurns:
    """Per process: connection id → the lock its vendor creations queue on."""

    def __init__(self, trust_for: timedelta = timedelta(seconds=5)) -> None:
        self._locks: dict[int, anyio.Lock] = {}
        self._last_holder: dict[int, int | None] = {}
        self._known: dict[int, _KnownList] = {}
        self._trust_for = trust_for

    @asynccontextmanager
    async def turn(self, connection_id: int, *, job_id: int | None = None) -> AsyncIterator[Turn]:
        """Hold this connection's turn (for job `job_id`); says whether we waited for it.

        A job that waited should look again at what the jobs before it created: its plan
        may now be stale.
        """
        lock = self._locks.setdefault(connection_id, anyio.Lock())
        if lock.locked():
            async with parked():
                await lock.acquire()
            # Handed over by the job just before: the one whose work may overtake ours.
            taken = Turn(waited=True, behind_job_id=self._last_holder.get(connection_id))
        else:
            await lock.acquire()
            taken = Turn(waited=False, behind_job_id=None)
        try:
            yield taken
        finally:
            self._last_holder[connection_id] = job_id
            lock.release()
            if not lock.locked() and lock.statistics().tasks_waiting == 0:
                self._locks.pop(connection_id, None)
                self._last_holder.pop(connection_id, None)

    def waiting(self, connection_id: int) -> int:
        """How many jobs wait for the connection's turn now."""
        lock = self._locks.get(connection_id)
        return 0 if lock is None else lock.statistics().tasks_waiting

    def record(
        self,
        connection_id: int,
        vendors: tuple[RampVendorRef, ...] | None,
        *,
        intent_id: int,
        read_at: datetime,
    ) -> None:
        """After resolving `intent_id` with `vendors` cached as Ramp's list, read at
        `read_at` and updated with what the write found or made."""
        if vendors is None:
            self._known.pop(connection_id, None)
        else:
            self._known[connection_id] = _KnownList(vendors, intent_id, read_at)

    def knows(
        self,
        connection_id: int,
        cached: tuple[RampVendorRef, ...],
        *,
        previous_intent_id: int | None,
        now: datetime,
    ) -> datetime | None:
        """When `cached` was read from Ramp, if it is still as good as a re-read (see the
        module docstring); otherwise None."""
        known = self._known.get(connection_id)
        if (
            known is None
            or known.vendors is not cached
            or known.after_intent_id != previous_intent_id
            or now - known.read_at > self._trust_for
        ):
            return None
        return known.read_at

    def __len__(self) -> int:
        return len(self._locks)
