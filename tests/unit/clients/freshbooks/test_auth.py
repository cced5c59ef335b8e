"""The bearer auth flow: refresh once on 401, ahead of expiry, persist before use."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import parse_qs

import anyio
import anyio.lowlevel
import httpx2
import pytest
from fbclient_helpers import (
    CLIENT_ID,
    CLIENT_SECRET,
    KEY,
    REDIRECT_URI,
    T0,
    MakeClient,
    envelope,
    token_answer,
    tokens,
)

from ml_connector.clients.freshbooks import FreshBooksAuth
from ml_connector.clients.tokens import InMemoryTokenStore
from ml_connector.core.clock import FixedClock
from ml_connector.core.errors import AuthError, InvalidGrantError
from ml_connector.core.tokens import TokenSet

BILL = {"id": 7, "issue_date": "2026-11-01", "currency_code": "USD", "lines": []}


class RejectsStaleTokenOnce:
    """FreshBooks that accepts only `valid` and rotates on refresh, single-use."""

    def __init__(self, store: InMemoryTokenStore, *, valid: str = "access-1") -> None:
        self.store = store
        self.valid = valid
        self.spent: set[str] = set()
        self.refresh_forms: list[dict[str, list[str]]] = []
        self.api_auth_headers: list[str] = []
        self.stored_at_retry: list[TokenSet | None] = []
        self.generation = 0

    async def __call__(self, request: httpx2.Request) -> httpx2.Response:
        if request.url.path == "/auth/oauth/token":
            form = parse_qs(request.content.decode())
            self.refresh_forms.append(form)
            token = form["refresh_token"][0]
            if token in self.spent:
                return httpx2.Response(
                    400, json={"error": "invalid_grant", "error_description": "spent"}
                )
            self.spent.add(token)
            await (
                anyio.lowlevel.checkpoint()
            )  # let concurrent requests pile up behind the store's lock
            self.generation += 1
            self.valid = f"access-{self.generation}"
            return httpx2.Response(200, json=token_answer(self.generation))
        header = request.headers.get("Authorization", "")
        self.api_auth_headers.append(header)
        if header != f"Bearer {self.valid}":
            return httpx2.Response(
                401, json={"response": {"errors": [{"errno": 1003, "message": "unauthorized"}]}}
            )
        self.stored_at_retry.append(await self.store.load(KEY))
        return httpx2.Response(200, json=envelope(bill=BILL))


@pytest.mark.anyio
async def test_401_once_refreshes_persists_then_retries(
    make_client: MakeClient, store: InMemoryTokenStore
) -> None:
    fake = RejectsStaleTokenOnce(store)
    client = await make_client(fake, stored=tokens(0))

    bill = await client.bills("ABC123").get(7)

    assert bill.id == 7
    assert fake.api_auth_headers == ["Bearer access-0", "Bearer access-1"]
    # the rotated pair was in the store before the retried request reached FreshBooks
    stored = fake.stored_at_retry[0]
    assert stored is not None
    assert stored.access_token == "access-1"
    assert stored.refresh_token == "refresh-1"
    assert store.renewals == 1
    form = fake.refresh_forms[0]
    assert form == {
        "grant_type": ["refresh_token"],
        "client_id": [CLIENT_ID],
        "client_secret": [CLIENT_SECRET],
        "refresh_token": ["refresh-0"],
        "redirect_uri": [REDIRECT_URI],
    }


@pytest.mark.anyio
async def test_concurrent_401s_cause_exactly_one_refresh(
    make_client: MakeClient, store: InMemoryTokenStore
) -> None:
    fake = RejectsStaleTokenOnce(store)
    client = await make_client(fake, stored=tokens(0))
    results: list[int] = []

    async def fetch() -> None:
        results.append((await client.bills("ABC123").get(7)).id)

    async with anyio.create_task_group() as tg:
        for _ in range(8):
            tg.start_soon(fetch)

    assert results == [7] * 8
    assert len(fake.refresh_forms) == 1
    assert store.renewals == 1
    assert fake.api_auth_headers.count("Bearer access-1") == 8


@pytest.mark.anyio
async def test_refreshes_ahead_of_expiry_without_a_401(
    make_client: MakeClient, store: InMemoryTokenStore, clock: FixedClock
) -> None:
    fake = RejectsStaleTokenOnce(store)
    client = await make_client(fake, stored=tokens(0, expires_at=T0 + timedelta(minutes=4)))

    await client.bills("ABC123").get(7)

    assert fake.api_auth_headers == ["Bearer access-1"]
    assert len(fake.refresh_forms) == 1


@pytest.mark.anyio
async def test_margin_is_respected(make_client: MakeClient, store: InMemoryTokenStore) -> None:
    fake = RejectsStaleTokenOnce(store, valid="access-0")
    client = await make_client(
        fake,
        stored=tokens(0, expires_at=T0 + timedelta(minutes=6)),
        refresh_margin=timedelta(minutes=5),
    )
    await client.bills("ABC123").get(7)
    assert fake.refresh_forms == []


@pytest.mark.anyio
async def test_second_401_after_refresh_is_an_auth_error(
    make_client: MakeClient, store: InMemoryTokenStore
) -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        if request.url.path == "/auth/oauth/token":
            return httpx2.Response(200, json=token_answer(1))
        return httpx2.Response(
            401, json={"response": {"errors": [{"errno": 1003, "message": "no"}]}}
        )

    client = await make_client(handler, stored=tokens(0))
    with pytest.raises(AuthError) as info:
        await client.bills("ABC123").get(7)
    assert info.value.status == 401
    assert store.renewals == 1


@pytest.mark.anyio
async def test_reused_refresh_token_raises_invalid_grant(make_client: MakeClient) -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        if request.url.path == "/auth/oauth/token":
            return httpx2.Response(
                400,
                json={
                    "error": "invalid_grant",
                    "error_description": "token refresh-0 already used",
                },
            )
        return httpx2.Response(401, json={"error": "unauthenticated"})

    client = await make_client(handler, stored=tokens(0))
    with pytest.raises(InvalidGrantError) as info:
        await client.bills("ABC123").get(7)
    assert "refresh-0" not in str(info.value)
    assert "refresh-0" not in (info.value.detail or "")
    assert CLIENT_SECRET not in str(info.value)


@pytest.mark.anyio
async def test_invalid_grant_when_another_worker_already_refreshed(
    make_client: MakeClient, store: InMemoryTokenStore
) -> None:
    """We spent nothing: the store sees a newer set and hands it over."""

    async def handler(request: httpx2.Request) -> httpx2.Response:
        if request.url.path == "/auth/oauth/token":
            # another worker wins the race while our refresh is in flight
            await store.save(KEY, tokens(5))
            return httpx2.Response(400, json={"error": "invalid_grant"})
        if request.headers["Authorization"] == "Bearer access-5":
            return httpx2.Response(200, json=envelope(bill=BILL))
        return httpx2.Response(401, json={})

    client = await make_client(handler, stored=tokens(0))
    bill = await client.bills("ABC123").get(7)
    assert bill.id == 7


@pytest.mark.anyio
async def test_not_connected_is_an_auth_error(make_client: MakeClient) -> None:
    client = await make_client(lambda request: httpx2.Response(200, json={}))
    with pytest.raises(AuthError, match="not connected"):
        await client.identity()


@pytest.mark.anyio
async def test_no_refresh_token_stored_is_invalid_grant(make_client: MakeClient) -> None:
    stored = TokenSet(
        access_token="access-0", refresh_token=None, expires_at=T0 + timedelta(hours=1)
    )
    client = await make_client(lambda request: httpx2.Response(401, json={}), stored=stored)
    with pytest.raises(InvalidGrantError, match="reconnect"):
        await client.identity()


@pytest.mark.anyio
async def test_request_body_is_replayed_after_401(
    make_client: MakeClient, store: InMemoryTokenStore
) -> None:
    bodies: list[bytes] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        if request.url.path == "/auth/oauth/token":
            return httpx2.Response(200, json=token_answer(1))
        bodies.append(request.content)
        if request.headers["Authorization"] != "Bearer access-1":
            return httpx2.Response(401, json={})
        return httpx2.Response(200, json=envelope(bill=BILL))

    client = await make_client(handler, stored=tokens(0))
    await client.bills("ABC123").create({"vendorid": 5, "issue_date": "2026-11-01"})
    assert len(bodies) == 2
    assert bodies[0] == bodies[1]
    assert json.loads(bodies[1]) == {"bill": {"vendorid": 5, "issue_date": "2026-11-01"}}


def test_auth_is_async_only(store: InMemoryTokenStore, clock: FixedClock) -> None:
    async def renew(current: TokenSet | None) -> TokenSet:
        raise AssertionError("not called")

    auth = FreshBooksAuth(store=store, key=KEY, renew=renew, clock=clock)
    with (
        httpx2.Client(
            transport=httpx2.MockTransport(lambda r: httpx2.Response(200)), auth=auth
        ) as client,
        pytest.raises(TypeError),
    ):
        client.get("https://api.freshbooks.com/")


def test_reprs_hold_no_secrets(store: InMemoryTokenStore, clock: FixedClock) -> None:
    from ml_connector.clients.freshbooks import FreshBooksClient

    client = FreshBooksClient(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_uri=REDIRECT_URI,
        token_store=store,
        token_key=KEY,
        transport=httpx2.MockTransport(lambda r: httpx2.Response(200)),
        clock=clock,
    )
    for text in (repr(client), repr(client.oauth), repr(client.auth)):
        assert CLIENT_SECRET not in text


@pytest.mark.anyio
async def test_a_stale_set_stored_by_another_worker_leads_to_one_renewal_of_our_own(
    make_client: MakeClient, store: InMemoryTokenStore
) -> None:
    """While our request with access-0 is in flight, another worker refreshes and stores
    access-1 — which FreshBooks has already expired by the time we use it."""
    seen: list[str] = []

    async def handler(request: httpx2.Request) -> httpx2.Response:
        if request.url.path == "/auth/oauth/token":
            assert parse_qs(request.content.decode())["refresh_token"] == ["refresh-1"]
            return httpx2.Response(200, json=token_answer(2))
        seen.append(request.headers["Authorization"])
        if request.headers["Authorization"] == "Bearer access-0":
            await store.save(KEY, tokens(1))  # the other worker's refresh lands now
        if request.headers["Authorization"] == "Bearer access-2":
            return httpx2.Response(200, json=envelope(bill=BILL))
        return httpx2.Response(401, json={"response": {"errors": [{"errno": 1003}]}})

    client = await make_client(handler, stored=tokens(0))
    bill = await client.bills("ABC123").get(7)
    assert bill.id == 7
    assert seen == ["Bearer access-0", "Bearer access-1", "Bearer access-2"]
    assert store.renewals == 1
