"""The test environment of the webhook tests: the product app, the worker and both emulators."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

import httpx2
from starlette.applications import Starlette

from ml_connector.queue import Worker
from ml_connector.store.connections import Connection
from ml_connector.sync.connect import enqueue_register_webhooks
from support.harness import FRESHBOOKS_API, PUBLIC_URL, Harness


@dataclass
class WebhookEnv:
    h: Harness
    app: Starlette
    worker: Worker
    connection: Connection

    def client(self) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(transport=httpx2.ASGITransport(app=self.app), base_url=PUBLIC_URL)

    async def run_jobs(self) -> int:
        return await self.worker.run_until_idle()

    async def drain(self) -> None:
        """Deliver everything both emulators have queued (handshakes, events)."""
        await self.h.freshbooks.webhooks.drain()
        await self.h.ramp.webhooks.drain()

    async def register(self) -> None:
        """Register, deliver the handshakes and run the verify jobs: hooks live."""
        async with self.h.engine.begin() as db:
            await enqueue_register_webhooks(
                db, connection_id=self.connection.id, now=self.h.clock.now()
            )
        await self.run_jobs()
        await self.drain()
        await self.run_jobs()

    async def fb_sandbox(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        async with httpx2.AsyncClient(
            transport=self.h.freshbooks_transport, base_url=FRESHBOOKS_API
        ) as http:
            answer = await http.request(method, path, json=body)
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result

    async def create_bill(self) -> str:
        account = self.connection.freshbooks_account_id
        vendor = await self.fb_sandbox(
            "POST",
            f"/_sandbox/accounts/{account}/bill_vendors",
            {"bill_vendor": {"vendor_name": "Acme Paper", "currency_code": "USD"}},
        )
        vendor_id = vendor["response"]["result"]["bill_vendor"]["vendorid"]
        bill = await self.fb_sandbox(
            "POST",
            f"/_sandbox/accounts/{account}/bills",
            {
                "bill": {
                    "vendorid": vendor_id,
                    "issue_date": "2026-11-01",
                    "due_offset_days": 30,
                    "currency_code": "USD",
                    "lines": [
                        {
                            "categoryid": await self.any_category(),
                            "unit_cost": {"amount": "120.00", "code": "USD"},
                            "quantity": 1,
                        }
                    ],
                }
            },
        )
        return str(bill["response"]["result"]["bill"]["id"])

    async def any_category(self) -> int:
        account = self.connection.freshbooks_account_id
        assert account is not None
        fb = self.h.runtime.freshbooks_client(self.connection)
        try:
            page = await fb.categories(account).page(1)
        finally:
            await fb.aclose()
        return page.items[0].categoryid


def fb_sign(body: str, verifier: str) -> str:
    """`X-FreshBooks-Hmac-SHA256` of a form body, as FreshBooks computes it."""
    fields = dict(pair.split("=", 1) for pair in body.split("&"))
    message = json.dumps(fields).encode()
    return base64.b64encode(hmac.new(verifier.encode(), message, hashlib.sha256).digest()).decode()


def bill_event(object_id: int, account: str | None) -> str:
    """A FreshBooks `bill.create` delivery's form body."""
    return (
        f"name=bill.create&object_id={object_id}&account_id={account}"
        "&business_id=1&identity_id=1&user_id=1"
    )
