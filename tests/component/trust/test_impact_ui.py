"""The admin UI previews a mapping change (count + per-field diff) before it is saved, and the
confirmation re-pushes exactly the objects shown; the dashboard shows freshness per connection."""

from __future__ import annotations

import html
import re
from pathlib import Path

import httpx2
import pytest
from test_mapping_impact import remap
from trust_support import ramp_writes, seed_bill, seed_vendor, sync_bills

from component.sync.sync_flow_support import SyncWorld, gl_id
from ml_connector.store import mappings as mappings_store
from ml_connector.store import read
from support.harness import PUBLIC_URL
from unit.web.admin.admin_env import AdminEnv, build_app

pytestmark = pytest.mark.anyio


async def test_preview_then_confirm_repushes_exactly_the_previewed_bill(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with SyncWorld.start(sqlite_url, tmp_path) as w:
        vendor = seed_vendor(w)
        changed = seed_bill(w, vendor.id, "U-1", ["Shipping"])
        same = seed_bill(w, vendor.id, "U-2", ["Office Supplies"])
        await sync_bills(w, [changed, same])
        async with httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=build_app(w.h)), base_url=PUBLIC_URL
        ) as client:
            env = AdminEnv(h=w.h, app=build_app(w.h), client=client)
            await env.login()
            base = f"/connections/{w.connection.id}/mappings"
            editor = await client.get(base)
            assert 'id="preview-gl"' in editor.text
            before = ramp_writes(w)

            page = await env.post(
                f"{base}/preview", {"document": remap(w, "Shipping", "Office Supplies")},
                token_from=base,
            )  # fmt: skip
            assert page.status_code == 200, page.text
            text = html.unescape(page.text)
            assert re.search(r"<strong>1</strong> of 3 synced objects would change", text)
            assert f"bill {changed.id}" in text
            assert f"bill {same.id}" not in text
            assert "line_items[1].accounting_field_selections[1].field_option_external_id" in text
            assert gl_id(w.books.category_named("Shipping").id) in text
            assert "Save and re-push 1 object(s)" in text
            assert ramp_writes(w) == before
            async with read(w.h.engine) as db:
                assert (await mappings_store.current(db, w.connection.id)).version == 1  # type: ignore[union-attr]

            document = re.search(r'name="document" value="([^"]*)"', page.text)
            assert document is not None
            answer = await env.post(
                f"{base}/apply",
                {"document": html.unescape(document.group(1)), "expected_version": "1"},
                token_from=base,
            )
            assert answer.status_code == 303
            after_save = await client.get(base)
            assert "saved as version 2; re-pushing 1 synced object(s)" in after_save.text
            await w.drain()
            patched = {r: n - before.get(r, 0) for r, n in ramp_writes(w).items()}
            assert {r: n for r, n in patched.items() if n} == {
                "PATCH /developer/v1/bills/{bill_id}": 1
            }

            # A second confirmation of the same preview is refused: version 1 is gone.
            stale = await env.post(
                f"{base}/apply",
                {"document": html.unescape(document.group(1)), "expected_version": "1"},
                token_from=base,
            )
            assert stale.status_code == 303
            assert "someone saved in between" in (await client.get(base)).text

            # The dashboard's freshness block: these bills came by backfill and manual
            # re-push, not live changes, so it shows no latency rather than a made-up one.
            dashboard = await client.get("/")
            block = dashboard.text.split('id="freshness"', 1)[1].split("</section>", 1)[0]
            assert "Freshness and webhook health" in block
            assert w.connection.name in block
            assert "<td>0</td><td>—</td><td>—</td>" in block
