"""Webhook callbacks an account registered, and which events each one wants.

A callback subscribes to one event (`bill.create`) or to a bare noun (`bill`, every verb
of it). It receives nothing but its verification handshake until the app echoes the
verifier back with a PUT.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from ml_connector_emulators.freshbooks.formats import iso_z

EVENT_NOUNS: dict[str, tuple[str, ...]] = dict.fromkeys(
    (
        "bill",
        "bill_vendor",
        "expense",
        "category",
        "tax",
        "payment",
        "client",
        "credit_note",
        "item",
        "project",
        "recurring",
        "service",
        "time_entry",
    ),
    ("create", "update", "delete"),
) | {
    "estimate": ("create", "update", "delete", "sendByEmail"),
    "invoice": ("create", "update", "delete", "sendByEmail"),
}


def event_problem(event: Any) -> str | None:
    if not isinstance(event, str) or not event:
        return "event: Field required"
    noun, _, verb = event.partition(".")
    if noun not in EVENT_NOUNS or (verb and verb not in EVENT_NOUNS[noun]):
        return "event: Value error, Unrecognized event."
    return None


def uri_problem(uri: Any) -> str | None:
    if not isinstance(uri, str) or not uri:
        return "uri: Field required"
    parts = urlsplit(uri)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        return "uri: Input should be a valid URL, relative URL without a base"
    return None


def subscribes(callback_event: str, event: str) -> bool:
    return callback_event == event or callback_event == event.partition(".")[0]


@dataclass
class Callback:
    callbackid: int
    account_id: str
    business_id: int
    identity_id: int
    event: str
    uri: str
    verifier: str = field(repr=False)
    updated: datetime
    verified: bool = False

    def wire(self) -> dict[str, Any]:
        return {
            "callbackid": self.callbackid,
            "event": self.event,
            "uri": self.uri,
            "verified": self.verified,
            "updated_at": iso_z(self.updated),
        }


class CallbackStore:
    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._next_id = 2001
        self.by_id: dict[int, Callback] = {}

    def new_verifier(self) -> str:
        alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
        return "".join(self._rng.choice(alphabet) for _ in range(30))

    def add(
        self,
        *,
        account_id: str,
        business_id: int,
        identity_id: int,
        event: str,
        uri: str,
        now: datetime,
    ) -> Callback:
        callback = Callback(
            callbackid=self._next_id,
            account_id=account_id,
            business_id=business_id,
            identity_id=identity_id,
            event=event,
            uri=uri,
            verifier=self.new_verifier(),
            updated=now,
        )
        self._next_id += 1
        self.by_id[callback.callbackid] = callback
        return callback

    def of_account(self, account_id: str) -> list[Callback]:
        return [c for _, c in sorted(self.by_id.items()) if c.account_id == account_id]

    def listening(self, account_id: str, event: str) -> list[Callback]:
        return [c for c in self.of_account(account_id) if c.verified and subscribes(c.event, event)]


__all__ = [
    "EVENT_NOUNS",
    "Callback",
    "CallbackStore",
    "event_problem",
    "subscribes",
    "uri_problem",
]
