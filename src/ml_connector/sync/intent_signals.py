"""Wake the jobs of this process that wait for a Ramp write intent to resolve.

A job that loses the race for a write (`executor.ContendedError`) waits for the winner's
intent by reading it every `CONTENDED_POLL_SECONDS`; a winner in another process is only
ever seen that way. A winner in this process also says so here the moment its intent
resolves, so the waiters go on at once instead of at their next poll. At the start of a
backfill every new vendor of a connection is created one after another behind such a
hand-over, so the poll's average half-interval was paid once per vendor.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import anyio

__all__ = ["IntentSignals"]


@dataclass
class _Waiting:
    event: anyio.Event = field(default_factory=anyio.Event)
    waiters: int = 0


class IntentSignals:
    """Per process: intent id → the waiters to wake. Entries live only while awaited."""

    def __init__(self) -> None:
        self._waiting: dict[int, _Waiting] = {}

    async def wait(self, intent_id: int, *, at_most: float) -> None:
        """Return when `resolved(intent_id)` is called here, or after `at_most` seconds.

        The caller reads the intent before and after: a resolution that happened before
        this call registered is seen by that read, never missed for longer than `at_most`.
        """
        waiting = self._waiting.setdefault(intent_id, _Waiting())
        waiting.waiters += 1
        try:
            with anyio.move_on_after(at_most):
                await waiting.event.wait()
        finally:
            waiting.waiters -= 1
            if waiting.waiters == 0 and self._waiting.get(intent_id) is waiting:
                del self._waiting[intent_id]

    def resolved(self, intent_id: int) -> None:
        """The intent is no longer pending (after the transaction that said so committed)."""
        waiting = self._waiting.pop(intent_id, None)
        if waiting is not None:
            waiting.event.set()

    def __len__(self) -> int:
        return len(self._waiting)
