"""Freshness (FreshBooks change → Ramp write) and webhook miss rate, per connection, from the
audit trail: on `/metrics` (all-time, every process alike) and for the dashboard (recent)."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from trust_support import seed_bill, seed_vendor

from component.sync.sync_flow_support import SyncWorld
from ml_connector.core.freshness import miss_rate, percentile
from ml_connector.sync.freshness import FreshnessFeed, recent_freshness
from ml_connector.sync.kinds import Kind, Source

pytestmark = pytest.mark.anyio


def _metric(name: str, **labels: str) -> float:
    value = REGISTRY.get_sample_value(name, labels)
    return 0.0 if value is None else value


async def test_freshness_and_miss_rate_per_connection(sqlite_url: str, tmp_path: Path) -> None:
    async with SyncWorld.start(sqlite_url, tmp_path) as w:
        cid = str(w.connection.id)
        feed = FreshnessFeed()
        await feed.refresh(w.runtime)  # whatever the harness wrote so far
        base_count = _metric("mlc_freshness_seconds_count", connection_id=cid, source="webhook")
        base_sweep = _metric("mlc_changes_first_seen_total", connection_id=cid, via="sweep")
        vendor = seed_vendor(w)
        # The vendor first: bills racing to create it would retry, and the retry's wait
        # (moved on the shared clock) would blur the latencies measured below.
        await w.enqueue(Kind.SYNC_VENDOR, vendor.id)
        await w.drain()
        announced = seed_bill(w, vendor.id, "F-1", ["Shipping"])
        missed = seed_bill(w, vendor.id, "F-2", ["Shipping"])
        old = seed_bill(w, vendor.id, "F-3", ["Shipping"])
        w.h.clock.advance(90)
        await w.enqueue(Kind.SYNC_BILL, announced.id, Source.WEBHOOK)
        await w.enqueue(Kind.SYNC_BILL, old.id, Source.BACKFILL)
        await w.drain()
        w.h.clock.advance(600)
        await w.enqueue(Kind.SYNC_BILL, missed.id, Source.SWEEP)
        await w.drain()

        window = await recent_freshness(w.runtime, now=w.h.clock.now())
        stats = window[w.connection.id]
        # The backfilled bill is not a live change; the webhook one took 90 s, the swept 690 s.
        assert stats.writes == 2
        assert stats.webhook_changes == 1
        assert stats.sweep_changes == 1
        assert stats.miss_rate == 0.5
        assert stats.p50_seconds is not None
        assert stats.p95_seconds is not None
        assert 90 <= stats.p50_seconds < 91
        assert 690 <= stats.p95_seconds < 691

        added = await feed.refresh(w.runtime)
        assert added == 2
        after_count = _metric("mlc_freshness_seconds_count", connection_id=cid, source="webhook")
        assert after_count - base_count == 1
        above = _metric(
            "mlc_freshness_seconds_bucket", connection_id=cid, source="sweep", le="600.0"
        )
        assert above == 0  # 690 s is above the 600 s bucket
        swept = _metric("mlc_changes_first_seen_total", connection_id=cid, via="sweep")
        assert swept - base_sweep == 1
        assert _metric("mlc_webhook_miss_ratio", connection_id=cid) == 0.5
        assert await feed.refresh(w.runtime) == 0  # incremental: nothing counted twice


def test_percentiles_are_nearest_rank_and_miss_rate_is_a_share() -> None:
    assert percentile([], 50) is None
    assert percentile([30.0, 10.0, 20.0, 40.0], 50) == 20.0
    assert percentile([float(n) for n in range(1, 101)], 95) == 95.0
    assert miss_rate(0, 0) is None
    assert miss_rate(3, 1) == 0.25
