"""The reconciliation pages on both databases: draw, drill down, heal behind CSRF, dashboard."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx2
import pytest
from reconcile_support import drain, registry_for

from ml_connector.sync.backfill import start_backfill
from ml_connector.web.deps import AppDeps
from ml_connector.web.server import build_app
from support.harness import PUBLIC_URL, Harness

pytestmark = pytest.mark.anyio

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _vendor_and_bill(h: Harness) -> Any:
    books = h.freshbooks.primary.books
    vendor = books.create(
        "bill_vendors",
        {
            "vendor_name": "Acme Paper", "currency_code": "USD",
            "primary_contact_email": "ap@acme-paper.example", "street": "12 Mill Road",
            "city": "Albany", "province": "New York", "postal_code": "12207",
            "country": "United States",
        },
    )  # fmt: skip
    category = next(iter(books.categories.values()))
    return books.create(
        "bills",
        {
            "vendorid": vendor.id, "issue_date": h.clock.now().date().isoformat(),
            "due_offset_days": 30, "currency_code": "USD", "language": "en",
            "bill_number": "AP-1",
            "lines": [{"categoryid": category.id, "description": "Paper", "quantity": 2,
                       "unit_cost": {"amount": "12.50", "code": "USD"}}],
        },
    )  # fmt: skip


async def _token(client: httpx2.AsyncClient, path: str) -> str:
    page = await client.get(path)
    assert page.status_code == 200, page.text
    found = _CSRF.search(page.text)
    assert found is not None
    return found.group(1)


async def test_draw_drill_down_and_heal_from_the_admin_pages(
    database_url: str, tmp_path: Path
) -> None:
    async with Harness.start(database_url, scenario="empty", data_dir=tmp_path) as h:
        registry = registry_for(h)
        connection = await h.connect()
        await h.setup()
        bill = _vendor_and_bill(h)
        async with h.engine.begin() as db:
            await start_backfill(db, connection.id, h.clock.now())
        await drain(h, registry)
        month = h.clock.now().strftime("%Y-%m")
        page_url = f"/reconcile?connection={connection.id}&period={month}"
        form = {"connection": str(connection.id), "period": month}

        app = build_app(AppDeps(runtime=h.runtime))
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url=PUBLIC_URL) as client:
            token = await _token(client, "/login")
            signed_in = await client.post(
                "/login",
                data={"username": "admin", "password": "test-admin-password", "csrf_token": token},
            )
            assert signed_in.status_code == 303
            assert "No report drawn" in (await client.get(page_url)).text

            refused = await client.post("/reconcile/draw", data=form)
            assert refused.status_code == 403
            token = await _token(client, page_url)
            drawn = await client.post("/reconcile/draw", data={**form, "csrf_token": token})
            assert drawn.status_code == 303
            page = (await client.get(page_url)).text
            assert "0 difference(s), 0 waiting for review, 1 matched" in page

            h.freshbooks.webhooks.knobs.update({"loss_rate": 1.0})
            h.freshbooks.primary.books.update("bills", bill.id, {"bill_number": "AP-1-REV"})
            token = await _token(client, page_url)
            await client.post("/reconcile/draw", data={**form, "csrf_token": token})
            page = (await client.get(f"{page_url}&status=drift_from_freshbooks")).text
            assert "1 difference(s)" in page
            assert "invoice number: FreshBooks AP-1-REV, Ramp AP-1" in page
            assert f"/audit?object_type=bill&amp;fb_id={bill.id}" in page

            token = await _token(client, page_url)
            preview = await client.post("/reconcile/heal", data={**form, "csrf_token": token})
            assert preview.status_code == 200
            assert "update_bill" in preview.text
            assert "PATCH /developer/v1/bills/" in preview.text
            token = _CSRF.search(preview.text).group(1)  # type: ignore[union-attr]
            confirmed = await client.post(
                "/reconcile/heal/confirm",
                data={**form, "csrf_token": token, "fb_id": str(bill.id)},
            )
            assert confirmed.status_code == 303
            await drain(h, registry)
            ramp_bills = list(h.ramp.test_business.bills.values())
            assert [b.invoice_number for b in ramp_bills] == ["AP-1-REV"]

            token = await _token(client, page_url)
            await client.post("/reconcile/draw", data={**form, "csrf_token": token})
            assert "0 difference(s)" in (await client.get(page_url)).text
            dashboard = (await client.get("/")).text
            assert "Month-end reconciliation" in dashboard
            assert f"period={month}" in dashboard
