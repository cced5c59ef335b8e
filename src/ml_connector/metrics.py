"""Every Prometheus metric the product exports, in one place, named `mlc_*`.

Metrics live in prometheus-client's default registry so that library metrics
(stamina's `stamina_retries_total`) are served by the same `/metrics` endpoint. Labels
stay low-cardinality: sources, outcomes, systems, states and connection ids, never
object ids.

Gauges that describe the database (queue depth, token horizons) are refreshed by the
`/metrics` handler right before it renders, so every process serving `/metrics` reports
the shared truth rather than what it happened to see itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import datetime

import httpx2
from prometheus_client import Counter, Gauge, Histogram

WEBHOOK_ACKS = Counter(
    "mlc_webhook_acks",
    "Webhook requests answered, by vendor and outcome.",
    ["source", "outcome"],
)
"""outcome: accepted, duplicate, handshake, ignored, bad_signature, wrong_account,
malformed, too_large, unknown_connection, unavailable."""

QUEUE_JOBS = Gauge("mlc_queue_jobs", "Jobs in the queue, by state.", ["state"])
QUEUE_OLDEST_DUE_SECONDS = Gauge(
    "mlc_queue_oldest_due_seconds", "How long the longest-waiting due job has been due."
)

SYNC_LATENCY_SECONDS = Histogram(
    "mlc_sync_latency_seconds",
    "From the FreshBooks change to the Ramp write, by object kind.",
    ["kind"],
    buckets=(1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 24 * 3600),
)

FRESHNESS_SECONDS = Histogram(
    "mlc_freshness_seconds",
    "From a change in FreshBooks to its first write in Ramp, per connection and by who "
    "found the change (webhook or sweep); read from the shared audit trail.",
    ["connection_id", "source"],
    buckets=(5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 4 * 3600, 24 * 3600),
)
CHANGES_FIRST_SEEN = Counter(
    "mlc_changes_first_seen",
    "FreshBooks changes whose sync was enqueued first by a webhook or by the sweep.",
    ["connection_id", "via"],
)
WEBHOOK_MISS_RATIO = Gauge(
    "mlc_webhook_miss_ratio",
    "Share of FreshBooks changes the sweep found before any webhook did (since start).",
    ["connection_id"],
)

API_CALLS = Counter(
    "mlc_api_calls",
    "Vendor API requests, by system and HTTP status ('error' when no response came back).",
    ["system", "status"],
)
API_CALL_SECONDS = Histogram(
    "mlc_api_call_seconds",
    "Vendor API request duration, by system.",
    ["system"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
)

TOKEN_EXPIRY_SECONDS = Gauge(
    "mlc_token_expiry_seconds",
    "Seconds until a connection's stored access token expires (negative: expired).",
    ["system", "connection_id"],
)


def observe_webhook(source: str, outcome: str) -> None:
    WEBHOOK_ACKS.labels(source=source, outcome=outcome).inc()


def observe_api_call(system: str, status: int | None, seconds: float) -> None:
    """Count one vendor request; `status` None means the request got no response."""
    API_CALLS.labels(system=system, status=str(status) if status is not None else "error").inc()
    API_CALL_SECONDS.labels(system=system).observe(max(seconds, 0.0))


def observe_sync_latency(kind: str, changed_at: datetime, written_at: datetime) -> None:
    """Record how long a FreshBooks change took to reach Ramp (W-B calls this on a write)."""
    SYNC_LATENCY_SECONDS.labels(kind=kind).observe(
        max((written_at - changed_at).total_seconds(), 0.0)
    )


def observe_freshness(connection_id: int, source: str, seconds: float) -> None:
    FRESHNESS_SECONDS.labels(connection_id=str(connection_id), source=source).observe(
        max(seconds, 0.0)
    )


def count_first_seen(connection_id: int, via: str, changes: int) -> None:
    if changes:
        CHANGES_FIRST_SEEN.labels(connection_id=str(connection_id), via=via).inc(changes)


def set_webhook_miss_ratio(connection_id: int, ratio: float) -> None:
    WEBHOOK_MISS_RATIO.labels(connection_id=str(connection_id)).set(ratio)


def set_queue_depth(by_state: Mapping[str, int], oldest_due_seconds: float) -> None:
    """Replace the queue gauges with a fresh count; states absent from the count read 0."""
    for state in ("available", "running", "retryable", "completed", "dead", "attention"):
        QUEUE_JOBS.labels(state=state).set(0)
    for state, count in by_state.items():
        QUEUE_JOBS.labels(state=state).set(count)
    QUEUE_OLDEST_DUE_SECONDS.set(oldest_due_seconds)


def set_token_expiry(system: str, connection_id: int, seconds: float) -> None:
    TOKEN_EXPIRY_SECONDS.labels(system=system, connection_id=str(connection_id)).set(seconds)


class MeteredTransport(httpx2.AsyncBaseTransport):
    """An httpx2 transport wrapper that counts every request in `mlc_api_calls`.

    Wrap the transport handed to a vendor client (`MeteredTransport(inner, "ramp")`) to
    meter it without the client knowing about Prometheus. The timer is for durations
    only, so a monotonic clock is right here (the product's injected clock is wall time).
    """

    def __init__(
        self,
        inner: httpx2.AsyncBaseTransport,
        system: str,
        *,
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._inner = inner
        self._system = system
        self._timer = timer

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        started = self._timer()
        try:
            response = await self._inner.handle_async_request(request)
        except BaseException:
            observe_api_call(self._system, None, self._timer() - started)
            raise
        observe_api_call(self._system, response.status_code, self._timer() - started)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


__all__ = [
    "API_CALLS",
    "API_CALL_SECONDS",
    "CHANGES_FIRST_SEEN",
    "FRESHNESS_SECONDS",
    "QUEUE_JOBS",
    "QUEUE_OLDEST_DUE_SECONDS",
    "SYNC_LATENCY_SECONDS",
    "TOKEN_EXPIRY_SECONDS",
    "WEBHOOK_ACKS",
    "WEBHOOK_MISS_RATIO",
    "MeteredTransport",
    "count_first_seen",
    "observe_api_call",
    "observe_freshness",
    "observe_sync_latency",
    "observe_webhook",
    "set_queue_depth",
    "set_token_expiry",
    "set_webhook_miss_ratio",
]
