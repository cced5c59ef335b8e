"""Feed freshness and webhook-miss metrics from the audit trail, for `/metrics` and the UI.

Every process serving `/metrics` folds the audit rows written since its last scrape into
its histogram and counters (`refresh_metrics`), starting from the beginning of the trail,
so each process reports the same all-time, monotonic figures however many workers wrote
them. The dashboard asks for a recent window instead (`recent_freshness`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import anyio

from ml_connector import metrics
from ml_connector.core.freshness import ConnectionFreshness, miss_rate, summarize
from ml_connector.store import read
from ml_connector.store.freshness import read_freshness
from ml_connector.sync.runtime import Runtime

DASHBOARD_WINDOW = timedelta(days=7)


class FreshnessFeed:
    """Per-process watermark over the audit trail, and the running first-seen totals."""

    def __init__(self) -> None:
        self._through_id = 0
        self._first_seen: dict[tuple[int, str], int] = {}
        self._lock = anyio.Lock()

    async def refresh(self, runtime: Runtime) -> int:
        """Fold new audit rows into the metrics; returns the freshness samples added."""
        async with self._lock:
            async with read(runtime.engine) as db:
                found = await read_freshness(db, after_id=self._through_id)
            for sample in found.samples:
                metrics.observe_freshness(sample.connection_id, sample.source, sample.seconds)
            for (connection_id, via), count in found.first_seen.items():
                metrics.count_first_seen(connection_id, via, count)
                key = (connection_id, via)
                self._first_seen[key] = self._first_seen.get(key, 0) + count
            for connection_id in {cid for cid, _ in self._first_seen}:
                ratio = miss_rate(
                    self._first_seen.get((connection_id, "webhook"), 0),
                    self._first_seen.get((connection_id, "sweep"), 0),
                )
                if ratio is not None:
                    metrics.set_webhook_miss_ratio(connection_id, ratio)
            self._through_id = found.through_id
            return len(found.samples)


FEED = FreshnessFeed()
"""The process's feed: `/metrics` refreshes it before rendering."""


async def refresh_metrics(runtime: Runtime) -> int:
    return await FEED.refresh(runtime)


async def recent_freshness(
    runtime: Runtime, *, now: datetime, window: timedelta = DASHBOARD_WINDOW
) -> dict[int, ConnectionFreshness]:
    """Per connection: p50/p95 freshness and webhook miss counts over the last `window`."""
    async with read(runtime.engine) as db:
        found = await read_freshness(db, since=now - window)
    return summarize(found.samples, found.first_seen)


__all__ = ["DASHBOARD_WINDOW", "FEED", "FreshnessFeed", "recent_freshness", "refresh_metrics"]
