"""Authorize URL, PKCE, code exchange, token parsing and revoke."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
from fbclient_helpers import (
    CLIENT_ID,
    CLIENT_SECRET,
    KEY,
    REDIRECT_URI,
    T0,
    MakeClient,
    token_answer,
    tokens,
)

from ml_connector.clients.freshbooks import (
    authorization_url,
    code_challenge_s256,
    new_code_verifier,
)
from ml_connector.clients.freshbooks.oauth import token_set_from_response
from ml_connector.clients.tokens import InMemoryTokenStore
from ml_connector.core.errors import (
    AuthError,
    ConfigurationError,
    InvalidGrantError,
    TransientApiError,
)


def test_authorization_url_carries_state_scopes_and_pkce() -> None:
    url = authorization_url(
        "https://auth.freshbooks.com",
        client_id=CLIENT_ID,
        redirect_uri=REDIRECT_URI,
        state="st&te=1",
        scopes=("user:profile:read", "user:bills:read"),
        code_challenge="abc",
    )
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "https",
        "auth.freshbooks.com",
        "/oauth/authorize",
    )
    assert parse_qs(parts.query) == {
        "client_id": [CLIENT_ID],
        "response_type": ["code"],
        "redirect_uri": [REDIRECT_URI],
        "state": ["st&te=1"],
        "scope": ["user:profile:read user:bills:read"],
        "code_challenge": ["abc"],
        "code_challenge_method": ["S256"],
    }


def test_authorization_url_without_scopes_or_pkce() -> None:
    url = authorization_url(
        "https://auth.example/", client_id=CLIENT_ID, redirect_uri=REDIRECT_URI, state="s"
    )
    query = parse_qs(urlsplit(url).query)
    assert "scope" not in query
    assert "code_challenge" not in query
    assert url.startswith("https://auth.example/oauth/authorize?")


@pytest.mark.parametrize(
    "redirect", ["https://x.example/cb?next=1", "https://x.example/cb#f", "/cb"]
)
def test_redirect_uri_must_be_absolute_without_query(redirect: str) -> None:
    with pytest.raises(ConfigurationError):
        authorization_url("https://auth.example", client_id="c", redirect_uri=redirect, state="s")


def test_state_is_required() -> None:
    with pytest.raises(ConfigurationError):
        authorization_url(
            "https://auth.example", client_id="c", redirect_uri=REDIRECT_URI, state=""
        )


def test_pkce_s256_rfc7636_vector() -> None:
    # RFC 7636, appendix B
    assert (
        code_challenge_s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
        == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    )


def test_code_verifier_uses_injected_randomness() -> None:
    verifier = new_code_verifier(lambda n: bytes(range(n)))
    assert verifier == new_code_verifier(lambda n: bytes(range(n)))
    assert 43 <= len(verifier) <= 128
    assert "=" not in verifier


def test_expiry_is_created_at_plus_expires_in() -> None:
    created = T0 - timedelta(hours=2)
    parsed = token_set_from_response(token_answer(1, created_at=created, expires_in=3600), T0)
    assert parsed.expires_at == created + timedelta(seconds=3600)
    assert parsed.refresh_token == "refresh-1"
    assert parsed.scopes == {"user:profile:read", "user:bills:read"}


def test_expiry_falls_back_to_now_without_created_at() -> None:
    answer = token_answer(1)
    del answer["created_at"]
    assert token_set_from_response(answer, T0).expires_at == T0 + timedelta(hours=12)


@pytest.mark.parametrize(
    "answer", [[], {"token_type": "Bearer"}, {"access_token": "a", "expires_in": "soon"}]
)
def test_malformed_token_answer_is_transient(answer: object) -> None:
    with pytest.raises(TransientApiError):
        token_set_from_response(answer, T0)


@pytest.mark.anyio
async def test_exchange_code_posts_form_and_persists(
    make_client: MakeClient, store: InMemoryTokenStore
) -> None:
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(200, json=token_answer(1))

    client = await make_client(handler)
    stored = await client.exchange_code("the-code", code_verifier="the-verifier")

    request = seen[0]
    assert request.url == "https://api.freshbooks.com/auth/oauth/token"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert "Authorization" not in request.headers
    assert parse_qs(request.content.decode()) == {
        "grant_type": ["authorization_code"],
        "client_id": [CLIENT_ID],
        "client_secret": [CLIENT_SECRET],
        "code": ["the-code"],
        "redirect_uri": [REDIRECT_URI],
        "code_verifier": ["the-verifier"],
    }
    assert stored.version == 1
    loaded = await store.load(KEY)
    assert loaded is not None
    assert loaded.access_token == "access-1"
    assert loaded.expires_at == datetime.fromtimestamp(int(T0.timestamp()), UTC) + timedelta(
        hours=12
    )


@pytest.mark.anyio
async def test_expired_code_is_invalid_grant_without_echoing_it(make_client: MakeClient) -> None:
    client = await make_client(
        lambda request: httpx2.Response(
            400, json={"error": "invalid_grant", "error_description": "code the-code expired"}
        )
    )
    with pytest.raises(InvalidGrantError) as info:
        await client.exchange_code("the-code")
    assert "the-code" not in str(info.value)


@pytest.mark.anyio
async def test_wrong_client_secret_is_auth_error(make_client: MakeClient) -> None:
    client = await make_client(
        lambda request: httpx2.Response(
            401, json={"error": "invalid_client", "error_description": "bad"}
        )
    )
    with pytest.raises(AuthError) as info:
        await client.exchange_code("c")
    assert not isinstance(info.value, InvalidGrantError)
    assert info.value.code == "invalid_client"


@pytest.mark.anyio
async def test_revoke_sends_refresh_then_access_token(make_client: MakeClient) -> None:
    forms: list[dict[str, list[str]]] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        assert request.url.path == "/auth/oauth/revoke"
        forms.append(parse_qs(request.content.decode()))
        return httpx2.Response(200, json={})

    client = await make_client(handler, stored=tokens(3))
    await client.revoke()
    assert [f["token"] for f in forms] == [["refresh-3"], ["access-3"]]
    assert all(
        f["client_id"] == [CLIENT_ID] and f["client_secret"] == [CLIENT_SECRET] for f in forms
    )


@pytest.mark.anyio
async def test_revoke_without_tokens_sends_nothing(make_client: MakeClient) -> None:
    calls: list[httpx2.Request] = []
    client = await make_client(lambda r: calls.append(r) or httpx2.Response(200, json={}))
    await client.revoke()
    assert calls == []


@pytest.mark.anyio
async def test_token_endpoint_timeout_is_transient(make_client: MakeClient) -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectTimeout("slow", request=request)

    client = await make_client(handler)
    with pytest.raises(TransientApiError):
        await client.exchange_code("c")


def test_client_authorization_url_uses_auth_host(store: InMemoryTokenStore) -> None:
    from ml_connector.clients.freshbooks import FreshBooksClient

    client = FreshBooksClient(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_uri=REDIRECT_URI,
        token_store=store,
        token_key=KEY,
        auth_base_url="https://auth.emulator.test",
        transport=httpx2.MockTransport(lambda r: httpx2.Response(200)),
    )
    url = client.authorization_url(state="s1", code_challenge=code_challenge_s256("v" * 43))
    assert url.startswith("https://auth.emulator.test/oauth/authorize?")
    assert CLIENT_SECRET not in url
