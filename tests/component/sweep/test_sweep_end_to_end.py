"""Acceptance: with webhook delivery switched off, the sweep brings a new bill to Ramp."""

from __future__ import annotations

from pathlib import Path

import pytest
from sweep_helpers import worker
from test_sweep import SETTLED, new_vendor_and_bill

from ml_connector.queue import Registry
from ml_connector.sync.backfill import register_backfill_handlers, start_backfill
from ml_connector.sync.handlers import register_sync_handlers
from ml_connector.sync.sweep import enqueue_sweep
from support.harness import Harness


def ours(remote_id: str | None, fb_id: int) -> bool:
    """Ramp's `remote_id` of a bill made from FreshBooks bill `fb_id`."""
    return remote_id is not None and remote_id.endswith(f":bill:{fb_id}")


@pytest.mark.anyio
async def test_webhooks_off_the_sweep_brings_the_bill_over(sqlite_url: str, tmp_path: Path) -> None:
    async with Harness.start(sqlite_url, scenario="empty", data_dir=tmp_path) as h:
        connection = await h.connect()
        await h.setup()
        registry = Registry()
        register_backfill_handlers(registry, h.runtime)
        register_sync_handlers(registry, h.runtime)
        run = worker(h, registry)
        async with h.engine.begin() as db:
            await start_backfill(db, connection.id, h.clock.now())
        await run.run_until_idle()

        h.freshbooks.webhooks.knobs.update({"loss_rate": 1.0})
        vendor, bill = new_vendor_and_bill(h)
        await h.freshbooks.webhooks.drain()
        h.clock.advance(SETTLED)
        ramp_business = h.ramp.test_business
        assert [b for b in ramp_business.bills.values() if ours(b.remote_id, bill.id)] == []

        async with h.engine.begin() as db:
            await enqueue_sweep(db, connection_id=connection.id, now=h.clock.now())
        await run.run_until_idle()
        for _ in range(5):  # a bill that waited for its vendor's write retries after backoff
            h.clock.advance(10 * 60)
            await run.run_until_idle()

        synced = [b for b in ramp_business.bills.values() if ours(b.remote_id, bill.id)]
        assert len(synced) == 1
        assert any(v.name == vendor.vendor_name for v in ramp_business.vendors.values())
