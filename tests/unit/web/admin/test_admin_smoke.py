"""A first look: sign in and see the dashboard."""

from __future__ import annotations

import pytest
from admin_env import AdminEnv


@pytest.mark.anyio
async def test_sign_in_shows_dashboard(signed_in: AdminEnv) -> None:
    page = await signed_in.client.get("/")
    assert page.status_code == 200
    assert "Sync dashboard" in page.text
