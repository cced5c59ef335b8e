"""Live path: a bill created, then deleted, in FreshBooks reaches Ramp through the webhooks.

Runs against W-B's sync handlers (`ml_connector.sync.handlers`); this module is skipped
only while that module does not exist yet.
"""

from __future__ import annotations

import pytest
from webhook_env import WebhookEnv

from ml_connector.queue import Registry, Worker
from ml_connector.sync.connect import register_connect_handlers
from ml_connector.sync.setup import setup_connection

handlers = pytest.importorskip("ml_connector.sync.handlers")

pytestmark = pytest.mark.anyio


async def settle(env: WebhookEnv) -> None:
    """Deliver and run until the queue is quiet, moving the clock past retry delays (a bill
    waits for its vendor's job when both run at once)."""
    for _ in range(6):
        await env.drain()
        await env.run_jobs()
        env.h.clock.advance(120)
    await env.drain()
    await env.run_jobs()


async def test_bill_created_then_deleted_reaches_ramp(env: WebhookEnv) -> None:
    await setup_connection(env.h.runtime, env.connection.id)
    registry = Registry()
    register_connect_handlers(registry, env.h.runtime)
    handlers.register_sync_handlers(registry, env.h.runtime)
    worker = Worker(env.h.engine, registry, clock=env.h.clock.now, poll_interval=0.01)
    env.worker = worker
    await env.register()
    account = env.connection.freshbooks_account_id
    vendor = await env.fb_sandbox(
        "POST",
        f"/_sandbox/accounts/{account}/bill_vendors",
        {
            "bill_vendor": {
                "vendor_name": "Harbor Print Co",
                "currency_code": "USD",
                "primary_contact_email": "ap@harborprint.example",
                "country": "US",
                "province": "CA",
            }
        },
    )
    vendor_id = vendor["response"]["result"]["bill_vendor"]["vendorid"]
    created = await env.fb_sandbox(
        "POST",
        f"/_sandbox/accounts/{account}/bills",
        {
            "bill": {
                "vendorid": vendor_id,
                "bill_number": "HP-1001",
                "issue_date": "2026-11-01",
                "due_offset_days": 30,
                "currency_code": "USD",
                "lines": [
                    {
                        "categoryid": await env.any_category(),
                        "unit_cost": {"amount": "120.00", "code": "USD"},
                        "quantity": 1,
                    }
                ],
            }
        },
    )
    bill_id = str(created["response"]["result"]["bill"]["id"])
    await settle(env)
    business = env.h.ramp.test_business
    ramp_bills = [b for b in business.bills.values() if b.remote_id and bill_id in b.remote_id]
    assert len(ramp_bills) == 1, list(business.bills.values())
    assert ramp_bills[0].archived_at is None

    await env.fb_sandbox(
        "PUT", f"/_sandbox/accounts/{account}/bills/{bill_id}", {"bill": {"vis_state": 1}}
    )
    await settle(env)
    assert ramp_bills[0].archived_at is not None
