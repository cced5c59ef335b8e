"""Acceptance: changing one category's GL account reports the affected bills and their diff
before saving, and afterwards exactly those bills are re-pushed — nothing else is written."""

from __future__ import annotations

from pathlib import Path

import pytest
from trust_support import ramp_writes, seed_bill, seed_vendor, sync_bills

from component.sync.sync_flow_support import SyncWorld, gl_id
from ml_connector.core.flow_config import GLMappingEntry, GLSection, dump_flow_config
from ml_connector.core.impact import Outcome
from ml_connector.store import audit, read
from ml_connector.store import mappings as mappings_store
from ml_connector.store.audit_verify import verify_all
from ml_connector.sync.impact import StaleMappingError, apply_mapping_change, preview_impact

pytestmark = pytest.mark.anyio


def remap(w: SyncWorld, category: str, to_category: str) -> str:
    """The flow config text with `category`'s lines coded to `to_category`'s GL account."""
    moved = str(w.books.category_named(category).id)
    target = gl_id(w.books.category_named(to_category).id)
    entries = tuple(
        GLMappingEntry(category_id=e.category_id, gl_account=target)
        if e.category_id == moved
        else e
        for e in w.config.gl.mappings
    )
    return dump_flow_config(w.config.model_copy(update={"gl": GLSection(mappings=entries)}))


def line_codes(w: SyncWorld, fb_bill_id: int) -> list[str]:
    bill = next(
        b for b in w.ramp_business.bills.values() if b.remote_id.endswith(f":bill:{fb_bill_id}")
    )
    return [line.selections[0].option_external_id for line in bill.line_items]


async def test_gl_change_previews_exact_diff_then_repushes_only_those_bills(
    database_url: str, tmp_path: Path
) -> None:
    async with SyncWorld.start(database_url, tmp_path) as w:
        vendor = seed_vendor(w)
        shipped = seed_bill(w, vendor.id, "A-1", ["Office Supplies", "Shipping"])
        also_shipped = seed_bill(w, vendor.id, "A-2", ["Shipping"])
        untouched = seed_bill(w, vendor.id, "A-3", ["Office Supplies"])
        await sync_bills(w, [shipped, also_shipped, untouched])
        office = gl_id(w.books.category_named("Office Supplies").id)
        shipping = gl_id(w.books.category_named("Shipping").id)
        assert line_codes(w, shipped.id) == [office, shipping]
        before_writes = ramp_writes(w)
        async with read(w.h.engine) as db:
            quiet_before = len(await audit.for_fb_object(db, fb_id=str(untouched.id)))
        text = remap(w, "Shipping", "Office Supplies")

        report = await preview_impact(w.runtime, w.connection.id, text)

        assert ramp_writes(w) == before_writes  # a preview writes nothing
        assert report.from_version == 1
        assert report.examined == 4  # three bills and their vendor
        assert report.count == 2
        by_bill = {o.subject.id: o for o in report.objects}
        assert set(by_bill) == {str(shipped.id), str(also_shipped.id)}
        first = by_bill[str(shipped.id)]
        assert first.outcome is Outcome.REPUSH
        assert first.request == f"PATCH /bills/{first.ramp_id}"
        assert [(c.path, c.before, c.after) for c in first.changes] == [
            ("bill.line_items[2].accounting_field_selections[1].field_option_external_id",
             shipping, office),
        ]  # fmt: skip
        async with read(w.h.engine) as db:
            assert (await mappings_store.current(db, w.connection.id)).version == 1  # type: ignore[union-attr]

        applied = await apply_mapping_change(
            w.runtime, w.connection.id, text, author="controller", comment="Shipping → 6200",
            expected_version=1,
        )  # fmt: skip
        assert applied.version.version == 2
        assert set(applied.jobs) == {f"bill:{shipped.id}", f"bill:{also_shipped.id}"}
        await w.drain()

        after_writes = ramp_writes(w)
        patches = {r: n - before_writes.get(r, 0) for r, n in after_writes.items()}
        assert {r: n for r, n in patches.items() if n} == {"PATCH /developer/v1/bills/{bill_id}": 2}
        assert line_codes(w, shipped.id) == [office, office]
        assert line_codes(w, also_shipped.id) == [office]
        assert line_codes(w, untouched.id) == [office]
        async with read(w.h.engine) as db:
            trail = await audit.for_fb_object(db, fb_id=str(shipped.id), object_type="bill")
            steps = [e.step for e in trail]
            changed = next(e for e in trail if e.step == "mapping_changed")
            assert changed.detail["from_version"] == 1
            assert changed.detail["to_version"] == 2
            assert changed.detail["changes"][0]["after"] == office
            remapped = [e for e in trail if e.step == "mapped"][-1]
            assert remapped.detail["mapping_version"] == 2
            assert steps[-1] == "outcome"
            assert trail[-1].detail["result"] == "synced"
            quiet = await audit.for_fb_object(db, fb_id=str(untouched.id), object_type="bill")
            assert len(quiet) == quiet_before  # never re-synced, not even looked at
            assert (await verify_all(db)).intact

        # Re-previewing the saved mapping finds nothing left to change.
        again = await preview_impact(w.runtime, w.connection.id, text)
        assert again.count == 0


async def test_apply_refuses_when_the_mapping_moved_since_the_preview(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with SyncWorld.start(sqlite_url, tmp_path) as w:
        vendor = seed_vendor(w)
        bill = seed_bill(w, vendor.id, "B-1", ["Shipping"])
        await sync_bills(w, [bill])
        text = remap(w, "Shipping", "Office Supplies")
        with pytest.raises(StaleMappingError):
            await apply_mapping_change(
                w.runtime, w.connection.id, text, author="a", expected_version=7
            )
        async with read(w.h.engine) as db:
            assert (await mappings_store.current(db, w.connection.id)).version == 1  # type: ignore[union-attr]
