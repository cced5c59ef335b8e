from __future__ import annotations

from datetime import UTC, datetime, timedelta

import anyio
import pytest

from ml_connector.clients.tokens import InMemoryTokenStore
from ml_connector.core.errors import InvalidGrantError
from ml_connector.core.tokens import TokenSet

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _tokens(n: int) -> TokenSet:
    return TokenSet(
        access_token=f"a{n}", refresh_token=f"r{n}", expires_at=T0 + timedelta(hours=12)
    )


def test_secrets_are_not_in_repr() -> None:
    text = repr(_tokens(1))
    assert "a1" not in text
    assert "r1" not in text


def test_expires_within() -> None:
    t = _tokens(1)
    assert not t.expires_within(T0, timedelta(minutes=5))
    assert t.expires_within(T0 + timedelta(hours=12) - timedelta(minutes=4), timedelta(minutes=5))


@pytest.mark.anyio
async def test_concurrent_refreshes_renew_once() -> None:
    store = InMemoryTokenStore()
    first = await store.save("c1", _tokens(0))
    calls = 0

    async def renew(current: TokenSet | None) -> TokenSet:
        nonlocal calls
        calls += 1
        await anyio.sleep(0.01)
        return _tokens(calls)

    results: list[TokenSet] = []

    async def worker() -> None:
        results.append(await store.refresh("c1", stale=first, renew=renew))

    async with anyio.create_task_group() as tg:
        for _ in range(10):
            tg.start_soon(worker)
    assert calls == 1
    assert {r.access_token for r in results} == {"a1"}
    assert all(r.version == first.version + 1 for r in results)


@pytest.mark.anyio
async def test_invalid_grant_propagates_when_nobody_else_refreshed() -> None:
    store = InMemoryTokenStore()
    first = await store.save("c1", _tokens(0))

    async def renew(current: TokenSet | None) -> TokenSet:
        raise InvalidGrantError("refresh token reused", system="freshbooks", status=400)

    with pytest.raises(InvalidGrantError):
        await store.refresh("c1", stale=first, renew=renew)
