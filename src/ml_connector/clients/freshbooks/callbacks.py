"""Webhook callbacks under `/events/account/{account_id}/events/callbacks`.

Registering a callback makes FreshBooks POST a `verifier` to its URI; no event is
delivered until that verifier is sent back with `verify`. The verifier then signs every
delivery (see `core.signatures.freshbooks`), so it is a secret: it is sent, never logged.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from ml_connector.clients.freshbooks.models import Callback
from ml_connector.clients.freshbooks.pagination import (
    Page,
    check_per_page,
    iterate_pages,
    parse_page,
)
from ml_connector.clients.freshbooks.query import Search, list_params
from ml_connector.clients.freshbooks.resources import ObjectId, parse_one, segment
from ml_connector.clients.freshbooks.session import ApiSession, result_mapping, result_of


class Callbacks:
    """Register, verify, resend, list, get and delete webhook callbacks of one account."""

    def __init__(self, session: ApiSession, account_id: str) -> None:
        self._session = session
        self._base = f"/events/account/{segment(account_id)}/events/callbacks"

    def _url(self, callback_id: ObjectId) -> str:
        return f"{self._base}/{segment(callback_id)}"

    async def _one(self, method: str, url: str, body: dict[str, object] | None) -> Callback:
        answer = await self._session.call(method, url, body=body)
        what = f"{method} {url}"
        return parse_one(result_of(answer, "callback", what), Callback, what)

    async def register(self, event: str, uri: str) -> Callback:
        """Subscribe `uri` to `event` (a bare noun like `bill` covers all its verbs)."""
        return await self._one("POST", self._base, {"callback": {"event": event, "uri": uri}})

    async def verify(self, callback_id: ObjectId, verifier: str) -> Callback:
        """Send the handshake's verifier back; the answer has `verified: true`."""
        return await self._one("PUT", self._url(callback_id), {"callback": {"verifier": verifier}})

    async def resend(self, callback_id: ObjectId) -> Callback:
        """Ask FreshBooks to POST the verification handshake again."""
        return await self._one("PUT", self._url(callback_id), {"callback": {"resend": True}})

    async def get(self, callback_id: ObjectId) -> Callback:
        return await self._one("GET", self._url(callback_id), None)

    async def page(
        self, number: int = 1, *, event: str | None = None, per_page: int = 100
    ) -> Page[Callback]:
        search = Search().equals("event", event) if event else None
        params = list_params(page=number, per_page=check_per_page(per_page), search=search)
        what = f"GET {self._base}"
        answer = await self._session.call("GET", self._base, params=params)
        return parse_page(result_mapping(answer, what), "callbacks", Callback, what)

    def list(self, *, event: str | None = None, per_page: int = 100) -> AsyncIterator[Callback]:
        """Every callback; `event` matches the event and its parent (`bill` ⊇ `bill.create`)."""
        check_per_page(per_page)

        async def fetch(number: int) -> Page[Callback]:
            return await self.page(number, event=event, per_page=per_page)

        return iterate_pages(fetch)

    async def delete(self, callback_id: ObjectId) -> None:
        """Unsubscribe; FreshBooks answers 204 with no body."""
        await self._session.call("DELETE", self._url(callback_id))


__all__ = ["Callbacks"]
