"""Jobs as values: the frozen `Job`, its states and lanes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum, StrEnum
from typing import Any


class JobState(StrEnum):
    AVAILABLE = "available"
    """Waiting to run once `scheduled_at` has passed."""
    RUNNING = "running"
    """Claimed by a worker holding a lease until `lease_until`."""
    RETRYABLE = "retryable"
    """Failed; waits for `scheduled_at` to try again."""
    COMPLETED = "completed"
    DEAD = "dead"
    """Gave up (fatal error or attempts used up); replayable."""
    ATTENTION = "attention"
    """The object needs a human (bad data, ambiguous match); replayable after the fix."""
    CANCELLED = "cancelled"


WAITING = frozenset({JobState.AVAILABLE, JobState.RETRYABLE})
FINAL = frozenset({JobState.COMPLETED, JobState.DEAD, JobState.ATTENTION, JobState.CANCELLED})


class Lane(IntEnum):
    """Priority lanes: lower runs first. Live changes never wait behind a backfill."""

    LIVE = 0
    """Webhook-triggered work: a user just changed something."""
    RETRY = 10
    RECONCILE = 20
    BACKFILL = 30


@dataclass(frozen=True, kw_only=True)
class Job:
    #: Database id.
    id: int
    #: Registered handler name, e.g. ``sync_bill``.
    kind: str
    queue: str
    #: Owning connection: the unit of fair scheduling (None for system jobs).
    connection_id: int | None
    args: dict[str, Any] = field(repr=False)
    state: JobState
    priority: int
    attempts: int
    max_attempts: int
    scheduled_at: datetime
    lease_owner: str | None
    lease_until: datetime | None
    #: Jobs with one lock key never run at the same time (one object, one worker).
    lock_key: str | None
    #: At most one waiting job per unique key; later enqueues coalesce into it.
    unique_key: str | None
    #: How many enqueues were folded into this job.
    coalesced: int
    last_error: str | None
    #: One entry per failed attempt: attempt, at, error, outcome.
    errors: list[dict[str, Any]]
    replays: int
    replayed_by: str | None
    created_at: datetime
    attempted_at: datetime | None
    finalized_at: datetime | None

    def __post_init__(self) -> None:
        for name in ("scheduled_at", "created_at"):
            value = getattr(self, name)
            if value.tzinfo is None:
                raise ValueError(f"{name} must be timezone-aware")

    @classmethod
    def from_row(cls, row: Any) -> Job:
        values = dict(row._mapping)
        values["state"] = JobState(values["state"])
        values["args"] = dict(values["args"] or {})
        values["errors"] = list(values["errors"] or [])
        return cls(**values)


__all__ = ["FINAL", "WAITING", "Job", "JobState", "Lane"]
