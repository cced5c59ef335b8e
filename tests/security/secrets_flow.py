"""A demo-like run that puts every kind of secret in play, and the list of those secrets.

The product's own demo (`sync.demo.run_demo`, on the `empty` scenario plus its live
changes) connects by OAuth consent, stores the Ramp API client, sets up accounting,
registers webhooks on both sides (FreshBooks' verifier handshake, Ramp's subscription
secret), backfills and syncs a new and an edited bill by webhook. On top of that this
run expires both systems' access tokens and syncs another bill (so refresh tokens
rotate and Ramp tokens are renewed) and signs in to the admin UI.

Every secret either emulator hands out is recorded as it is issued, so a scan can look
for all of them, not only the ones still current at the end.
"""

from __future__ import annotations

import base64
import io
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import httpx2
import pytest
import structlog

from ml_connector.cli.web_loader import web_app_builder
from ml_connector.logging import configure_logging
from ml_connector.sync.demo import DemoSummary, DemoWorld, run_demo
from ml_connector_emulators.freshbooks.oauth import OAuthServer

MIN_SECRET = 8
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class SecretRun:
    world: DemoWorld
    summary: DemoSummary
    data_dir: Path
    output: list[str]
    logs: io.StringIO
    issued_freshbooks_tokens: list[str] = field(default_factory=list)

    def secrets(self) -> dict[str, str]:
        """Label → secret, for every secret that existed during the run."""
        s = self.world.settings
        found: dict[str, str] = {}
        for label, value in (
            ("freshbooks client secret", s.freshbooks_client_secret),
            ("admin password", s.admin_password),
            ("session secret", s.session_secret),
        ):
            assert value is not None
            found[label] = value.get_secret_value()
        for n, key in enumerate(s.encryption_keys):
            found[f"encryption key: {n}"] = key.get_secret_value()
        for n, token in enumerate(self.issued_freshbooks_tokens):
            found[f"freshbooks token: {n}"] = token
        for callback in self.world.freshbooks.callbacks.by_id.values():
            found[f"freshbooks webhook verifier: {callback.callbackid}"] = callback.verifier
        for business in self.world.ramp.businesses.values():
            for client in business.clients.values():
                found[f"ramp client secret: {client.client_id}"] = client.client_secret
            for sub in self.world.ramp.webhooks.of_business(business.id):
                found[f"ramp webhook secret: {sub.id}"] = sub.secret
        for n, token in enumerate(self.world.ramp.tokens):
            found[f"ramp access token: {n}"] = token
        short = [label for label, value in found.items() if len(value) < MIN_SECRET]
        assert not short, f"secrets too short to scan for reliably: {short}"
        return found


def forms_of(secret: str) -> set[bytes]:
    """The shapes a leaked secret would take: as is, URL-encoded, in Basic auth, base64."""
    raw = secret.encode()
    return {raw, quote(secret).encode(), quote_plus(secret).encode(), base64.b64encode(raw)}


def leaks(haystack: bytes, secrets: dict[str, str]) -> list[str]:
    return sorted(
        label for label, secret in secrets.items() if any(f in haystack for f in forms_of(secret))
    )


@contextmanager
def captured_logs() -> Iterator[io.StringIO]:
    """Every log line the product writes, as production renders it (JSON), at DEBUG."""
    stream = io.StringIO()
    configure_logging(json=True, level="DEBUG")
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    try:
        yield stream
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers.clear()
        logging.getLogger().setLevel(logging.WARNING)


def record_issued_tokens(monkeypatch: pytest.MonkeyPatch, into: list[str]) -> None:
    """Spy on the FreshBooks emulator's token endpoint: every pair it ever issues."""
    original = OAuthServer.token

    def token(self: OAuthServer, form: dict[str, str]) -> dict[str, Any]:
        answer = original(self, form)
        into.extend(str(answer[k]) for k in ("access_token", "refresh_token") if k in answer)
        return answer

    monkeypatch.setattr(OAuthServer, "token", token)


async def sign_in_to_admin(world: DemoWorld) -> list[int]:
    """Sign in with the admin password and open a few pages; returns their statuses."""
    transport = httpx2.ASGITransport(app=world.web_app)
    async with httpx2.AsyncClient(
        transport=transport, base_url=world.settings.public_url, follow_redirects=False
    ) as browser:
        page = await browser.get("/login")
        token = _CSRF.search(page.text)
        assert token, "the login page has no CSRF token"
        answer = await browser.post(
            "/login",
            data={"username": world.settings.admin_username, "csrf_token": token.group(1),
                  "password": world.admin_password},
        )  # fmt: skip
        assert answer.status_code == 303, answer.text
        statuses = [answer.status_code]
        for path in ("/", f"/connections/{world.connection_id}"):
            statuses.append((await browser.get(path)).status_code)
    return statuses


async def live_bill_after_token_expiry(world: DemoWorld) -> None:
    """Expire both systems' tokens, then sync one more bill by webhook (forces renewal)."""
    world.freshbooks.oauth.expire_all_now()
    for token in world.ramp.tokens.values():
        token.expires_at = world.clock.now()
    connection = await world.runtime.connection(world.connection_id)
    account = connection.freshbooks_account_id
    vendor = next(iter(world.freshbooks.primary.books.vendors))
    category = next(iter(world.freshbooks.primary.books.categories))
    await world.sandbox(
        "POST",
        f"/_sandbox/accounts/{account}/bills",
        {"bill": {"vendorid": vendor, "bill_number": "SEC-1", "issue_date": "2026-11-02",
                  "due_offset_days": 15, "currency_code": "USD",
                  "lines": [{"categoryid": category, "quantity": 1,
                             "unit_cost": {"amount": "80.00", "code": "USD"}}]}},
    )  # fmt: skip
    await world.settle()


async def run_secret_flow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SecretRun:
    issued: list[str] = []
    record_issued_tokens(monkeypatch, issued)
    output: list[str] = []
    data_dir = tmp_path / "data"
    with captured_logs() as logs:
        world, summary = await run_demo(
            data_dir, web_app_builder(), output.append, scenario="empty"
        )
        run = SecretRun(world, summary, data_dir, output, logs, issued)
        assert summary.ok, summary.problems
        refreshes = world.freshbooks.counters.refreshes
        await live_bill_after_token_expiry(world)
        assert world.freshbooks.counters.refreshes > refreshes, "no refresh happened"
        assert await sign_in_to_admin(world) == [303, 200, 200]
    return run


__all__ = ["SecretRun", "forms_of", "leaks", "run_secret_flow"]
