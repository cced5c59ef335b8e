"""Constants and helpers shared by the FreshBooks client component tests."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import httpx2

from ml_connector.clients.freshbooks import FreshBooksClient

T0 = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)
HOOK_URI = "https://connector.example/webhooks/freshbooks"

NewClient = Callable[..., FreshBooksClient]
Connect = Callable[..., Awaitable[FreshBooksClient]]


class Receiver:
    """Where the emulator's webhook deliveries land: raw body and signature header."""

    def __init__(self) -> None:
        self.requests: list[httpx2.Request] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        return httpx2.Response(200)


async def consent(
    transport: httpx2.AsyncBaseTransport, authorize_url: str, decision: str = "approve"
) -> dict[str, list[str]]:
    """Open the consent page like a browser and submit it; the redirect's query."""
    async with httpx2.AsyncClient(transport=transport) as browser:
        page = await browser.get(authorize_url)
        assert page.status_code == 200, page.text
        assert "name='decision'" in page.text
        form = dict(parse_qs(urlsplit(authorize_url).query))
        fields = {name: values[0] for name, values in form.items()} | {"decision": decision}
        answer = await browser.post(str(page.url.copy_with(query=None)), data=fields)
    assert answer.status_code == 302
    return parse_qs(urlsplit(answer.headers["location"]).query)
