"""The shared harness leaves a connection authorized on both sides."""

from __future__ import annotations

from pathlib import Path

import pytest

from ml_connector.store.connections import ConnectionStatus
from ml_connector.store.testing import sqlite_database
from support.harness import Harness


@pytest.mark.anyio
async def test_connect_authorizes_both_sides(tmp_path: Path) -> None:
    with sqlite_database(tmp_path) as url:
        async with Harness.start(url, scenario="empty", data_dir=tmp_path) as h:
            connection = await h.connect()
            assert connection.status is ConnectionStatus.ACTIVE
            assert connection.freshbooks_account_id
            assert connection.ramp_business_id
            async with h.runtime.clients(connection) as (fb, ramp):
                assert (await fb.businesses())[0].account_id == connection.freshbooks_account_id
                assert await ramp.check_scopes() == []
            stored = await h.runtime.token_store.load(f"freshbooks:{connection.id}")
            assert stored is not None
            assert stored.refresh_token
