"""Let a job that only waits for another job give its worker slot to a third one.

A worker runs `concurrency` jobs at a time. A job that waits in place for another job's
write (the executor's contention wait) uses no CPU and no connection, but it held its
slot: at the start of a backfill, while one job creates a connection's vendors one at a
time, the other slots sat waiting behind it, and Ramp's budget idled. Inside `parked()`
the job's slot counts as free, so the worker claims another job; the waiting jobs still
hold their leases and heartbeats. A worker lends at most `concurrency` extra slots, so
it never runs more than twice its concurrency, however many jobs wait.

Outside a worker's loop (tests calling handlers directly, `run_until_idle`) `parked()`
does nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from contextvars import ContextVar

__all__ = ["Parking", "parked"]

Parking = Callable[[], AbstractAsyncContextManager[None]]
"""What a worker installs for the jobs it runs: enter while waiting, leave to go on."""

_current: ContextVar[Parking | None] = ContextVar("ml_connector_parking", default=None)


@asynccontextmanager
async def parked() -> AsyncIterator[None]:
    """While inside, this job's worker slot may run another job."""
    parking = _current.get()
    if parking is None:
        yield
        return
    async with parking():
        yield


def install(parking: Parking) -> None:
    """Set the parking for the current task (and the tasks it starts): the worker's."""
    _current.set(parking)
