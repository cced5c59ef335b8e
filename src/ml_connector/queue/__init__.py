"""The database job queue: transactional enqueue, leased claims, retries, dead letters."""

from ml_connector.queue.claims import claim
from ml_connector.queue.enqueueing import Enqueued, NewJob, enqueue, enqueue_job, enqueue_many
from ml_connector.queue.jobs import FINAL, WAITING, Job, JobState, Lane
from ml_connector.queue.ops import (
    REPLAY_ARG,
    QueueStats,
    cancel,
    complete,
    fail,
    get,
    heartbeat,
    list_jobs,
    purge_finished,
    replay,
    rescue_expired,
    stats,
)
from ml_connector.queue.registry import Handler, Registry, UnknownJobKindError
from ml_connector.queue.worker import Worker

__all__ = [
    "FINAL",
    "REPLAY_ARG",
    "WAITING",
    "Enqueued",
    "Handler",
    "Job",
    "JobState",
    "Lane",
    "NewJob",
    "QueueStats",
    "Registry",
    "UnknownJobKindError",
    "Worker",
    "cancel",
    "claim",
    "complete",
    "enqueue",
    "enqueue_job",
    "enqueue_many",
    "fail",
    "get",
    "heartbeat",
    "list_jobs",
    "purge_finished",
    "replay",
    "rescue_expired",
    "stats",
]
