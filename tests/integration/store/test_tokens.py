"""The durable token store against `core.tokens.TokenStore`'s contract, across engines."""

from __future__ import annotations

from datetime import timedelta

import anyio
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ml_connector.core.clock import FixedClock
from ml_connector.core.errors import InvalidGrantError
from ml_connector.core.tokens import TokenSet
from ml_connector.store.crypto import Cipher, generate_key
from ml_connector.store.engine import make_engine
from ml_connector.store.schema import oauth_tokens
from ml_connector.store.tokens import DbTokenStore

KEY = "freshbooks:1"
CIPHER = Cipher([generate_key()])


def _set(clock: FixedClock, n: int) -> TokenSet:
    return TokenSet(
        access_token=f"a{n}", refresh_token=f"r{n}", expires_at=clock() + timedelta(hours=12)
    )


def _store(engine: AsyncEngine, clock: FixedClock, owner: str) -> DbTokenStore:
    return DbTokenStore(engine, CIPHER, clock=clock, owner=owner, poll_interval=0.01)


@pytest.mark.anyio
async def test_save_and_load_assign_growing_versions(
    engine: AsyncEngine, clock: FixedClock
) -> None:
    store = _store(engine, clock, "w1")
    assert await store.load(KEY) is None
    first = await store.save(KEY, _set(clock, 1))
    second = await store.save(KEY, _set(clock, 2))
    assert (first.version, second.version) == (1, 2)
    loaded = await store.load(KEY)
    assert loaded == second


@pytest.mark.anyio
async def test_single_flight_across_engines(
    engine: AsyncEngine, database_url: str, clock: FixedClock
) -> None:
    """Several 'processes' (engines) refresh the same stale set: renew runs exactly once."""
    first = await _store(engine, clock, "seed").save(KEY, _set(clock, 0))
    engines = [make_engine(database_url) for _ in range(3)]
    calls: list[str | None] = []

    async def renew(current: TokenSet | None) -> TokenSet:
        calls.append(current.refresh_token if current else None)
        await anyio.sleep(0.05)  # give the others time to pile up on the lease
        return _set(clock, len(calls))

    results: list[TokenSet] = []

    async def worker(i: int) -> None:
        store = _store(engines[i % len(engines)], clock, f"proc{i % len(engines)}")
        results.append(await store.refresh(KEY, stale=first, renew=renew))

    try:
        async with anyio.create_task_group() as tg:
            for i in range(9):
                tg.start_soon(worker, i)
    finally:
        for e in engines:
            await e.dispose()
    assert calls == ["r0"]
    assert {(r.access_token, r.version) for r in results} == {("a1", 2)}
    stored = await _store(engine, clock, "check").load(KEY)
    assert stored is not None
    assert stored.refresh_token == "r1"
    assert stored.version == 2


@pytest.mark.anyio
async def test_newer_stored_version_is_returned_without_renewing(
    engine: AsyncEngine, clock: FixedClock
) -> None:
    store = _store(engine, clock, "w1")
    stale = await store.save(KEY, _set(clock, 1))
    await store.save(KEY, _set(clock, 2))

    async def renew(current: TokenSet | None) -> TokenSet:
        raise AssertionError("must not renew")

    got = await store.refresh(KEY, stale=stale, renew=renew)
    assert (got.access_token, got.version) == ("a2", 2)


@pytest.mark.anyio
async def test_first_token_when_nothing_is_stored(engine: AsyncEngine, clock: FixedClock) -> None:
    """Ramp client credentials: no set yet, renew(None) mints one and it is persisted."""
    store = _store(engine, clock, "w1")
    seen: list[TokenSet | None] = []

    async def renew(current: TokenSet | None) -> TokenSet:
        seen.append(current)
        return TokenSet(access_token="cc", expires_at=clock() + timedelta(days=10))

    got = await store.refresh("ramp:1", stale=None, renew=renew)
    assert seen == [None]
    assert got.version == 1
    assert await store.load("ramp:1") == got


@pytest.mark.anyio
async def test_new_set_is_committed_before_it_is_returned(
    engine: AsyncEngine, database_url: str, clock: FixedClock
) -> None:
    store = _store(engine, clock, "w1")
    stale = await store.save(KEY, _set(clock, 1))
    other = make_engine(database_url)
    try:
        got = await store.refresh(KEY, stale=stale, renew=lambda _c: _async(_set(clock, 2)))
        seen_elsewhere = await _store(other, clock, "w2").load(KEY)
    finally:
        await other.dispose()
    assert seen_elsewhere == got
    async with engine.connect() as db:
        row = (await db.execute(oauth_tokens.select())).one()
    assert row.refresh_owner is None  # the lease is released with the commit


@pytest.mark.anyio
async def test_invalid_grant_rereads_and_returns_the_winners_set(
    engine: AsyncEngine, clock: FixedClock
) -> None:
    loser = _store(engine, clock, "loser")
    winner = _store(engine, clock, "winner")
    stale = await loser.save(KEY, _set(clock, 1))

    async def renew(current: TokenSet | None) -> TokenSet:
        # While we talk to FreshBooks, another machine (whose lease we overran) stores
        # the rotated pair; our refresh token is now spent.
        await winner.save(KEY, _set(clock, 9))
        raise InvalidGrantError("refresh token already used", system="freshbooks", status=400)

    got = await loser.refresh(KEY, stale=stale, renew=renew)
    assert (got.access_token, got.version) == ("a9", 2)


@pytest.mark.anyio
async def test_invalid_grant_propagates_when_nobody_refreshed(
    engine: AsyncEngine, clock: FixedClock
) -> None:
    store = _store(engine, clock, "w1")
    stale = await store.save(KEY, _set(clock, 1))

    async def renew(current: TokenSet | None) -> TokenSet:
        raise InvalidGrantError("revoked", system="freshbooks", status=400)

    with pytest.raises(InvalidGrantError):
        await store.refresh(KEY, stale=stale, renew=renew)
    # The lease is released: the next attempt renews instead of waiting.
    got = await store.refresh(KEY, stale=stale, renew=lambda _c: _async(_set(clock, 2)))
    assert got.version == 2


@pytest.mark.anyio
async def test_waiter_returns_the_holders_set(engine: AsyncEngine, clock: FixedClock) -> None:
    holder = _store(engine, clock, "holder")
    waiter = _store(engine, clock, "waiter")
    stale = await holder.save(KEY, _set(clock, 1))
    started = anyio.Event()
    release = anyio.Event()

    async def slow_renew(current: TokenSet | None) -> TokenSet:
        started.set()
        await release.wait()
        return _set(clock, 2)

    async def never(current: TokenSet | None) -> TokenSet:
        raise AssertionError("the waiter must not renew while a live lease exists")

    results: dict[str, TokenSet] = {}

    async def run_holder() -> None:
        results["holder"] = await holder.refresh(KEY, stale=stale, renew=slow_renew)

    async def run_waiter() -> None:
        await started.wait()
        results["waiter"] = await waiter.refresh(KEY, stale=stale, renew=never)

    async with anyio.create_task_group() as tg:
        tg.start_soon(run_holder)
        tg.start_soon(run_waiter)
        await started.wait()
        await anyio.sleep(0.05)
        assert "waiter" not in results  # still polling
        release.set()
    assert results["holder"] == results["waiter"]
    assert results["waiter"].access_token == "a2"


@pytest.mark.anyio
async def test_expired_lease_of_a_dead_worker_is_taken_over(
    engine: AsyncEngine, clock: FixedClock
) -> None:
    store = _store(engine, clock, "alive")
    stale = await store.save(KEY, _set(clock, 1))
    async with engine.begin() as db:
        await db.execute(
            oauth_tokens.update().values(
                refresh_owner="dead:1:x", refresh_lease_until=clock() + timedelta(minutes=2)
            )
        )
    clock.advance(timedelta(minutes=3))
    got = await store.refresh(KEY, stale=stale, renew=lambda _c: _async(_set(clock, 2)))
    assert (got.access_token, got.version) == ("a2", 2)


async def _async(value: TokenSet) -> TokenSet:
    return value
