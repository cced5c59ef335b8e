"""Accounting setup on an empty firm and on the services firm; a second run changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from ml_connector.core.flow_config import load_flow_config_or_raise
from ml_connector.store import connections as connections_store
from ml_connector.store import mappings as mappings_store
from ml_connector.store import read
from ml_connector.sync.setup import CHART_PREFIX, TAX_PAYABLE_ID
from support.harness import Harness

pytestmark = pytest.mark.anyio


async def test_setup_uploads_a_chart_and_is_idempotent(database_url: str, tmp_path: Path) -> None:
    async with Harness.start(database_url, scenario="empty", data_dir=tmp_path) as h:
        connection = await h.connect()
        report = await h.setup()
        assert report.chart == "uploaded"
        assert report.accounting_connection_created
        assert TAX_PAYABLE_ID in report.gl_accounts_uploaded
        assert all(
            a == TAX_PAYABLE_ID or a.startswith(CHART_PREFIX) for a in report.gl_accounts_uploaded
        )
        assert report.mapping_saved
        assert report.mapping_version == 1
        assert report.vendor_owner_id is not None
        async with read(h.engine) as db:
            current = await mappings_store.current(db, connection.id)
            stored = await connections_store.get(db, connection.id)
        assert current is not None
        assert current.author == "setup"
        config = load_flow_config_or_raise(current.text)
        assert config.connection.freshbooks_account_id == connection.freshbooks_account_id
        assert config.connection.ramp_entity_id == report.entity_id == stored.ramp_entity_id
        assert config.bills.default_tax_gl_account == TAX_PAYABLE_ID
        assert {m.gl_account for m in config.gl.mappings} <= set(report.gl_accounts_uploaded)
        assert config.gl.mappings

        again = await h.setup()
        assert not again.changed
        assert again.mapping_version == 1
        assert again.gl_accounts_total == report.gl_accounts_total


async def test_setup_on_services_firm_covers_the_categories_in_use(tmp_path: Path) -> None:
    from ml_connector.store.testing import sqlite_database

    with sqlite_database(tmp_path) as url:
        async with Harness.start(url, scenario="services-firm", data_dir=tmp_path) as h:
            connection = await h.connect()
            report = await h.setup()
            assert report.department_field_created
            assert len(report.department_options_uploaded) == 3
            assert report.coverage.in_use
            assert report.coverage.complete, report.render()
            text = report.render()
            assert "Status:" in text
            async with h.engine.begin() as db:
                await mappings_store.save(
                    db,
                    connection_id=connection.id,
                    text="# edited",
                    document={},
                    author="controller",
                    now=h.clock.now(),
                )
            kept = await h.setup()
            assert not kept.mapping_saved
            assert kept.mapping_version == 2
            assert kept.mapping_kept_reason is not None


async def test_setup_ranks_categories_on_a_bounded_sample(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A firm with more bills in the usage window than the sample is not read in full."""
    from collections import Counter

    from ml_connector.store.testing import sqlite_database
    from ml_connector.sync import setup

    monkeypatch.setattr(setup, "USAGE_SAMPLE", 100)  # one page; the firm has ~240 bills
    bills = "GET /accounting/account/{account_id}/bills/bills"
    with sqlite_database(tmp_path) as url:
        async with Harness.start(url, scenario="services-firm", data_dir=tmp_path) as h:
            await h.connect()
            before = Counter(h.freshbooks.counters.requests)
            report = await h.setup()
            calls = Counter(h.freshbooks.counters.requests) - before
    assert calls[bills] == 1
    assert report.coverage.in_use  # still ranked from what the sample used
