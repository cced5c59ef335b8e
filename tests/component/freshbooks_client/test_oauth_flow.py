"""OAuth, token rotation, refresh single-flight and identity against the emulator (§9.1-2)."""

from __future__ import annotations

from datetime import timedelta

import anyio
import httpx2
import pytest
from fbemu_client_helpers import T0, Connect, NewClient, consent

from ml_connector.clients.freshbooks import FreshBooksClient, code_challenge_s256, new_code_verifier
from ml_connector.clients.tokens import InMemoryTokenStore
from ml_connector.core.errors import AuthError, InvalidGrantError, MissingScopeError
from ml_connector_emulators.freshbooks import FreshBooksWorld


@pytest.mark.anyio
async def test_consent_code_exchange_stores_a_12_hour_pair(
    new_client: NewClient,
    transport: httpx2.ASGITransport,
    store: InMemoryTokenStore,
    world: FreshBooksWorld,
) -> None:
    client = new_client()
    verifier = new_code_verifier(lambda n: b"\x07" * n)
    redirect = await consent(
        transport,
        client.authorization_url(state="s-1", code_challenge=code_challenge_s256(verifier)),
    )
    assert redirect["state"] == ["s-1"]

    stored = await client.exchange_code(redirect["code"][0], code_verifier=verifier)

    assert stored.version == 1
    assert stored.expires_at == T0 + timedelta(hours=12)
    assert stored.refresh_token
    assert "user:profile:read" in stored.scopes
    assert await store.load("fb:conn-1") == stored
    assert world.counters.code_exchanges == 1


@pytest.mark.anyio
async def test_a_code_works_once(new_client: NewClient, transport: httpx2.ASGITransport) -> None:
    client = new_client()
    code = (await consent(transport, client.authorization_url(state="s")))["code"][0]
    await client.exchange_code(code)
    with pytest.raises(InvalidGrantError):
        await client.exchange_code(code)


@pytest.mark.anyio
async def test_a_code_expires_after_five_minutes(
    new_client: NewClient, transport: httpx2.ASGITransport, world: FreshBooksWorld
) -> None:
    client = new_client()
    code = (await consent(transport, client.authorization_url(state="s")))["code"][0]
    world.clock.advance(5 * 60 + 1)
    with pytest.raises(InvalidGrantError):
        await client.exchange_code(code)


@pytest.mark.anyio
async def test_denied_consent_gives_no_code(
    new_client: NewClient, transport: httpx2.ASGITransport
) -> None:
    redirect = await consent(transport, new_client().authorization_url(state="s"), decision="deny")
    assert redirect["error"] == ["access_denied"]
    assert "code" not in redirect


@pytest.mark.anyio
async def test_wrong_client_secret_is_an_auth_error(
    new_client: NewClient, transport: httpx2.ASGITransport
) -> None:
    good = new_client()
    code = (await consent(transport, good.authorization_url(state="s")))["code"][0]
    bad = new_client(client_secret="not-the-secret")
    with pytest.raises(AuthError) as info:
        await bad.exchange_code(code)
    assert info.value.code == "invalid_client"
    assert "not-the-secret" not in str(info.value)


@pytest.mark.anyio
async def test_concurrent_401s_refresh_exactly_once_without_reuse(
    client: FreshBooksClient,
    world: FreshBooksWorld,
    store: InMemoryTokenStore,
    transport: httpx2.ASGITransport,
) -> None:
    before = await store.load("fb:conn-1")
    assert world.oauth.expire_all_now() == 1
    ids: list[int] = []

    async def read() -> None:
        ids.append((await client.identity()).identity_id or 0)

    async with anyio.create_task_group() as tg:
        for _ in range(10):
            tg.start_soon(read)

    async with httpx2.AsyncClient(
        transport=transport, base_url="https://api.freshbooks.com"
    ) as sandbox:
        counts = (await sandbox.get("/_sandbox/counters")).json()
    assert counts["refreshes"] == 1
    assert counts["refresh_token_reuses"] == 0
    assert ids == [world.user.identity_id] * 10
    assert counts["statuses"]["GET /auth/api/v1/users/me 401"] == 10
    assert counts["statuses"]["GET /auth/api/v1/users/me 200"] == 10
    after = await store.load("fb:conn-1")
    assert before is not None
    assert after is not None
    assert after.version == before.version + 1


@pytest.mark.anyio
async def test_refresh_ahead_of_expiry_needs_no_401(
    client: FreshBooksClient, world: FreshBooksWorld, store: InMemoryTokenStore
) -> None:
    world.clock.advance(timedelta(hours=11, minutes=56).total_seconds())
    await client.identity()
    counts = world.counters.snapshot()
    assert counts["refreshes"] == 1
    assert "GET /auth/api/v1/users/me 401" not in counts["statuses"]
    stored = await store.load("fb:conn-1")
    assert stored is not None
    assert stored.expires_at == world.clock.now() + timedelta(hours=12)


@pytest.mark.anyio
async def test_two_workers_sharing_a_store_refresh_once(
    connect: Connect, new_client: NewClient, world: FreshBooksWorld
) -> None:
    first = await connect()
    second = new_client()  # same key, same store: another worker of the same connection
    world.oauth.expire_all_now()
    async with anyio.create_task_group() as tg:
        for worker in (first, second, first, second):
            tg.start_soon(worker.identity)
    assert world.counters.refreshes == 1
    assert world.counters.refresh_token_reuses == 0


@pytest.mark.anyio
async def test_spent_refresh_token_is_rejected_and_counted(
    client: FreshBooksClient, world: FreshBooksWorld, store: InMemoryTokenStore
) -> None:
    original = await store.load("fb:conn-1")
    assert original is not None
    assert original.refresh_token is not None
    rotated = await client.oauth.refresh(original.refresh_token)
    assert rotated.refresh_token != original.refresh_token
    with pytest.raises(InvalidGrantError):
        await client.oauth.refresh(original.refresh_token)
    assert world.counters.refresh_token_reuses == 1


@pytest.mark.anyio
async def test_a_new_pair_supersedes_older_refresh_tokens(
    connect: Connect, store: InMemoryTokenStore, world: FreshBooksWorld
) -> None:
    first = await connect("fb:first")
    await connect("fb:second")  # the same user authorizes again: only the newest pair lives
    world.oauth.expire_all_now()
    with pytest.raises(InvalidGrantError):
        await first.identity()


@pytest.mark.anyio
async def test_revoke_disconnects(client: FreshBooksClient, world: FreshBooksWorld) -> None:
    await client.revoke()
    assert world.counters.revocations == 2
    with pytest.raises(InvalidGrantError):
        await client.identity()  # 401, and the revoked refresh token cannot renew


@pytest.mark.anyio
async def test_identity_gives_the_three_ids(
    client: FreshBooksClient, world: FreshBooksWorld
) -> None:
    [business] = await client.businesses()
    primary = world.primary
    assert (business.account_id, business.business_id, business.business_uuid) == (
        primary.account_id,
        primary.id,
        primary.uuid,
    )
    assert business.account_source == "membership"


@pytest.mark.anyio
async def test_identity_null_account_id_falls_back_to_roles(
    world: FreshBooksWorld, connect: Connect
) -> None:
    world.null_account_id_quirk = True
    client = await connect()
    [business] = await client.businesses()
    assert business.account_id == world.primary.account_id
    assert business.account_source == "roles"
    identity = await client.identity()
    assert identity.business_memberships[0].business.account_id is None


@pytest.mark.anyio
async def test_several_businesses(connect: Connect, world: FreshBooksWorld) -> None:
    world.add_business("Second Co")
    client = await connect()
    refs = await client.businesses()
    assert [r.name for r in refs] == [b.name for b in world.businesses]
    assert len({r.account_id for r in refs}) == 2


@pytest.mark.anyio
async def test_missing_scope_is_reported(
    new_client: NewClient, transport: httpx2.ASGITransport
) -> None:
    client = new_client()
    code = (
        await consent(transport, client.authorization_url(state="s", scopes=("user:bills:read",)))
    )["code"][0]
    await client.exchange_code(code)
    with pytest.raises(MissingScopeError) as info:
        await client.identity()
    assert info.value.status == 403
