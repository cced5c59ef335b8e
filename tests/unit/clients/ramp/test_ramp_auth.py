from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import timedelta

import httpx2
import pytest
from ramp_fakes import CLIENT_ID, CLIENT_SECRET, FakeRamp, form, page

from ml_connector.clients.ramp import REQUIRED_SCOPES, RampClient, RequestNotSentError
from ml_connector.clients.tokens import InMemoryTokenStore
from ml_connector.core.clock import FixedClock
from ml_connector.core.errors import AuthError
from ml_connector.core.tokens import TokenSet

pytestmark = pytest.mark.anyio


def _departments(fake: FakeRamp) -> None:
    fake.route("GET", "departments")(lambda r: page([{"id": "d1", "name": "Design"}]))


async def test_first_call_mints_a_client_credentials_token(
    fake: FakeRamp, make_client: Callable[..., RampClient], store: InMemoryTokenStore
) -> None:
    _departments(fake)
    async with make_client() as client:
        departments = [d async for d in client.departments.list()]
    assert [d.name for d in departments] == ["Design"]
    [token_request] = fake.token_requests
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    assert token_request.headers["Authorization"] == f"Basic {basic}"
    assert token_request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert form(token_request) == {
        "grant_type": "client_credentials",
        "scope": " ".join(REQUIRED_SCOPES),
    }
    [api_request] = fake.api_requests()
    assert api_request.headers["Authorization"] == "Bearer ramp_tok_1"
    stored = await store.load("ramp:conn-1")
    assert stored is not None
    assert stored.access_token == "ramp_tok_1"


async def test_token_is_renewed_ahead_of_expiry_under_a_controlled_clock(
    fake: FakeRamp,
    make_client: Callable[..., RampClient],
    clock: FixedClock,
    store: InMemoryTokenStore,
) -> None:
    _departments(fake)
    async with make_client(renew_margin=timedelta(days=2)) as client:
        await client.departments.list().__anext__()
        clock.advance(timedelta(days=7, hours=23))  # 2 days + 1 h before expiry: keep it
        await client.departments.list().__anext__()
        assert fake.tokens_issued == ["ramp_tok_1"]
        clock.advance(timedelta(hours=1, seconds=1))  # inside the 2-day margin: renew
        await client.departments.list().__anext__()
    assert fake.tokens_issued == ["ramp_tok_1", "ramp_tok_2"]
    assert fake.authorizations == [
        "Bearer ramp_tok_1",
        "Bearer ramp_tok_1",
        "Bearer ramp_tok_2",
    ]
    assert store.renewals == 2


async def test_a_401_renews_once_and_resends(
    fake: FakeRamp, make_client: Callable[..., RampClient]
) -> None:
    _departments(fake)
    async with make_client() as client:
        await client.departments.list().__anext__()
        fake.valid_tokens.clear()  # Ramp revoked the token
        await client.departments.list().__anext__()
    assert fake.tokens_issued == ["ramp_tok_1", "ramp_tok_2"]
    assert fake.authorizations == ["Bearer ramp_tok_1", "Bearer ramp_tok_1", "Bearer ramp_tok_2"]


async def test_a_second_401_is_an_auth_error_not_a_loop(
    fake: FakeRamp, make_client: Callable[..., RampClient]
) -> None:
    fake.route("GET", "departments")(lambda r: httpx2.Response(401, json={"error": "nope"}))
    async with make_client() as client:
        with pytest.raises(AuthError) as caught:
            await client.departments.list().__anext__()
    assert caught.value.status == 401
    assert len(fake.tokens_issued) == 2  # the initial mint and exactly one renewal
    assert CLIENT_SECRET not in str(caught.value)
    assert "ramp_tok" not in str(caught.value)


async def test_a_token_another_worker_stored_is_used_without_minting(
    fake: FakeRamp,
    make_client: Callable[..., RampClient],
    store: InMemoryTokenStore,
    clock: FixedClock,
) -> None:
    _departments(fake)
    async with make_client() as client:
        await client.departments.list().__anext__()
        # Another worker minted a newer token and Ramp no longer takes ours.
        fake.valid_tokens = {"ramp_tok_other"}
        await store.save(
            "ramp:conn-1",
            TokenSet(access_token="ramp_tok_other", expires_at=clock() + timedelta(days=10)),
        )
        await client.departments.list().__anext__()
    assert fake.tokens_issued == ["ramp_tok_1"]
    assert fake.authorizations[-2:] == ["Bearer ramp_tok_1", "Bearer ramp_tok_other"]


async def test_wrong_client_secret_is_an_auth_error_without_the_secret(
    fake: FakeRamp, make_client: Callable[..., RampClient]
) -> None:
    _departments(fake)
    async with make_client(client_secret="wrong_secret_value") as client:
        with pytest.raises(AuthError) as caught:
            await client.departments.list().__anext__()
        assert "wrong_secret_value" not in repr(client)
    assert caught.value.code == "invalid_client"
    assert "wrong_secret_value" not in str(caught.value)
    assert fake.api_requests() == []


async def test_token_endpoint_outage_is_retried_as_not_sent(
    fake: FakeRamp, make_client: Callable[..., RampClient]
) -> None:
    _departments(fake)
    outages = iter([httpx2.Response(503), httpx2.Response(502)])

    def flaky(request: httpx2.Request) -> httpx2.Response:
        response = next(outages, None)
        return response if response is not None else fake._mint(request)

    fake.token_handler = flaky
    async with make_client() as client:
        [department] = [d async for d in client.departments.list()]
    assert department.id == "d1"
    assert len(fake.token_requests) == 3


async def test_token_endpoint_outage_on_a_write_is_still_retried(
    fake: FakeRamp, make_client: Callable[..., RampClient]
) -> None:
    """The bill was never sent while the token endpoint was down, so retrying is safe."""
    fake.token_handler = lambda request: httpx2.Response(503)
    async with make_client() as client:
        with pytest.raises(RequestNotSentError):
            await client.webhooks.subscribe("https://example.com/hook", ["bills.paid"])
    assert len(fake.token_requests) == 4  # every attempt stamina allows in testing mode
    assert fake.api_requests() == []


def test_sync_use_is_refused(make_client: Callable[..., RampClient]) -> None:
    client = make_client()
    with (
        httpx2.Client(transport=httpx2.MockTransport(lambda r: httpx2.Response(200))) as sync,
        pytest.raises(RuntimeError, match="AsyncClient"),
    ):
        sync.get("https://api.ramp.com/", auth=client.auth)
