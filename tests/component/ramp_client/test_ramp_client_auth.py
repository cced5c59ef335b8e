"""§12 items 1–2 and 4: token endpoint, bearer checks, scopes, error envelope."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from ramp_sandbox import Sandbox

from ml_connector.clients.ramp import REQUIRED_SCOPES, RampClient
from ml_connector.clients.tokens import InMemoryTokenStore
from ml_connector.core.errors import AuthError, NotFoundError

pytestmark = pytest.mark.anyio


async def test_client_credentials_token_lives_ten_days(
    client: RampClient, sandbox: Sandbox
) -> None:
    token = await client.token()
    assert token.refresh_token is None
    assert token.expires_at == sandbox.time.clock.now() + timedelta(seconds=864000)
    assert token.access_token  # never validated beyond "present": Ramp's prefixes vary


async def test_token_is_renewed_ahead_of_expiry_on_the_emulator_clock(
    make_client: Callable[..., RampClient], sandbox: Sandbox, store: InMemoryTokenStore
) -> None:
    client = make_client(renew_margin=timedelta(days=2))
    first = await client.token()
    [_ async for _ in client.departments.list()]
    sandbox.time.clock.advance(timedelta(days=7, hours=23).total_seconds())
    [_ async for _ in client.departments.list()]
    assert (await client.token()).access_token == first.access_token
    sandbox.time.clock.advance(timedelta(hours=2).total_seconds())
    [_ async for _ in client.departments.list()]
    second = await client.token()
    assert second.access_token != first.access_token
    assert store.renewals == 2


async def test_a_token_the_emulator_expired_is_replaced_once(
    client: RampClient, sandbox: Sandbox, store: InMemoryTokenStore
) -> None:
    first = await client.token()
    await sandbox.post("/_sandbox/tokens/expire", {})
    departments = [d async for d in client.departments.list()]
    assert departments
    assert (await client.token()).access_token != first.access_token
    assert store.renewals == 2


async def test_wrong_secret_is_refused_without_leaking_it(
    make_client: Callable[..., RampClient],
) -> None:
    client = make_client(client_secret="ramp_sec_definitely_wrong")
    with pytest.raises(AuthError) as caught:
        await client.token()
    assert caught.value.code == "invalid_client"
    assert "definitely_wrong" not in str(caught.value)


async def test_all_required_scopes_granted_by_the_test_app(client: RampClient) -> None:
    assert await client.check_scopes() == []


async def test_missing_scopes_found_at_the_resource(
    make_client: Callable[..., RampClient], sandbox: Sandbox
) -> None:
    """Default quirk (live sandbox): any scope is minted, the resource answers 403 7100."""
    limited = sandbox.world.add_client(
        sandbox.world.test_business,
        "read-only app",
        frozenset(s for s in REQUIRED_SCOPES if s.endswith(":read")),
    )
    client = make_client(client_id=limited.client_id, client_secret=limited.client_secret)
    missing = await client.check_scopes()
    assert [m.scope for m in missing] == sorted(
        s for s in REQUIRED_SCOPES if not s.endswith(":read")
    )
    assert all(f"'{m.scope}'" in m.remediation for m in missing)
    # Probing must not have created anything.
    counters = await sandbox.counters()
    assert counters["bills_created"] == 0
    assert counters["vendors_created"] == 0


async def test_missing_scopes_refused_at_the_token_endpoint(
    make_client: Callable[..., RampClient], sandbox: Sandbox
) -> None:
    """Documented behaviour: `invalid_scope` at mint time."""
    sandbox.world.set_quirks(scope_check="token", token_response_includes_scope=True)
    limited = sandbox.world.add_client(
        sandbox.world.test_business, "no bills", frozenset(set(REQUIRED_SCOPES) - {"bills:write"})
    )
    client = make_client(client_id=limited.client_id, client_secret=limited.client_secret)
    missing = await client.check_scopes()
    assert [m.scope for m in missing] == ["bills:write"]


async def test_not_found_is_classified(client: RampClient) -> None:
    with pytest.raises(NotFoundError) as caught:
        await client.bills.get("00000000-0000-4000-8000-000000000000")
    assert caught.value.status == 404
