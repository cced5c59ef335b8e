"""The webhook audit is idempotent and repairs duplicates, disabled and lost hooks."""

from __future__ import annotations

from pathlib import Path

import pytest

from ml_connector.sync.connect import freshbooks_webhook_url, register_webhooks
from ml_connector.web.app import create_app
from ml_connector.web.deps import AppDeps
from support.harness import Harness

pytestmark = pytest.mark.anyio


async def test_audit_twice_changes_nothing_then_repairs(database_url: str, tmp_path: Path) -> None:
    async with Harness.start(database_url, scenario="empty", data_dir=tmp_path) as h:
        connection = await h.connect()
        h.route_webhooks_to(create_app(AppDeps(h.runtime)))
        first = await register_webhooks(h.runtime, connection.id)
        assert len(first.freshbooks_registered) == 4
        assert len(first.ramp_subscribed) == 1
        second = await register_webhooks(h.runtime, connection.id)
        assert not second.changed
        assert sorted(second.freshbooks_kept) == sorted(first.freshbooks_registered)

        # A duplicate of ours appears, and the Ramp subscription gets disabled.
        fb = h.runtime.freshbooks_client(connection)
        try:
            extra = await fb.callbacks(connection.freshbooks_account_id).register(
                "bill", freshbooks_webhook_url(h.runtime, connection.id)
            )
        finally:
            await fb.aclose()
        [subscription] = h.ramp.webhooks.of_business(connection.ramp_business_id)
        subscription.status = "inactive"

        h.clock.advance(20 * 60)  # past the grace for handshakes in flight
        repaired = await register_webhooks(h.runtime, connection.id)
        assert repaired.freshbooks_deleted == [str(extra.callbackid)]
        assert repaired.ramp_deleted == [subscription.id]
        assert len(repaired.ramp_subscribed) == 1
        assert repaired.freshbooks_resent  # never verified: the handshakes were not delivered
        events = sorted(
            c.event for c in h.freshbooks.callbacks.of_account(connection.freshbooks_account_id)
        )
        assert events == ["bill", "bill_vendor", "category", "expense"]
        assert [s.id for s in h.ramp.webhooks.of_business(connection.ramp_business_id)] == (
            repaired.ramp_subscribed
        )
