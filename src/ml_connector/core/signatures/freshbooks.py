"""FreshBooks webhook signatures (`X-FreshBooks-Hmac-SHA256`). Pure; constant-time.

FreshBooks signs a delivery by HMAC-SHA256 over Python's `json.dumps` of the form fields,
every value stringified, keys in the order they were received, default separators
(`", "` and `": "`) and `ensure_ascii=True`; the key is the callback's *verifier* from the
registration handshake; the digest is standard base64 with padding. We reproduce that
serialization from the raw body bytes, never from a framework's parsed form: a framework
may re-order keys or keep the last of repeated values, and either would change the bytes
that were signed. Repeated keys keep their *first* value at the position of their first
occurrence, as the dict-like form objects of FreshBooks' own sample do.

The callback handshake (a POST carrying `verifier` and `object_id`) is recognised by the
presence of `verifier`, not by `name`, whose value FreshBooks has not documented. Its
authenticity comes from FreshBooks accepting the verifier we send back, so it is parsed
but never trusted on its signature alone.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from ml_connector.core.errors import FatalError

SIGNATURE_HEADER = "X-FreshBooks-Hmac-SHA256"

MAX_FIELDS = 64
"""Deliveries carry six fields; anything far larger is hostile or not from FreshBooks."""

_SHA256_DIGEST_SIZE = 32


class InvalidDeliveryError(FatalError):
    """A webhook delivery that is not a well-formed FreshBooks form body."""


class SignatureMismatchError(FatalError):
    """The signature header is missing or matches none of the accepted verifiers."""


@dataclass(frozen=True, kw_only=True)
class FreshBooksEvent:
    """One signed event delivery: only ids; the receiver fetches the object itself.

    `fields` keeps every received field in order (first value per key) so nothing the
    sender added is lost to the audit trail.
    """

    name: str
    object_id: str
    account_id: str | None
    business_id: str | None
    identity_id: str | None
    user_id: str | None
    fields: tuple[tuple[str, str], ...]

    @property
    def resource(self) -> str:
        """The noun of the event name: `bill` for `bill.update`."""
        return self.name.partition(".")[0]

    @property
    def action(self) -> str:
        """The verb of the event name: `update` for `bill.update`; empty for a bare noun."""
        return self.name.partition(".")[2]


@dataclass(frozen=True, kw_only=True)
class CallbackVerification:
    """The handshake FreshBooks POSTs after a callback is registered.

    The verifier becomes the signing secret of every later delivery, so it stays out of
    `repr`.
    """

    callback_id: str
    verifier: str = field(repr=False)
    fields: tuple[tuple[str, str], ...] = field(repr=False)


Delivery = FreshBooksEvent | CallbackVerification


def parse_form(body: bytes) -> tuple[tuple[str, str], ...]:
    """Form fields of a raw `application/x-www-form-urlencoded` body, in received order.

    Blank values are kept (they are part of the signed message); a repeated key keeps its
    first value at its first position.

    Raises:
        InvalidDeliveryError: the body is not UTF-8, not a form, or has too many fields.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidDeliveryError("webhook body is not UTF-8") from exc
    try:
        pairs = parse_qsl(
            text,
            keep_blank_values=True,
            strict_parsing=bool(text),
            encoding="utf-8",
            errors="strict",
            max_num_fields=MAX_FIELDS,
        )
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidDeliveryError("webhook body is not a well-formed form") from exc
    first: dict[str, str] = {}
    for key, value in pairs:
        first.setdefault(key, value)
    return tuple(first.items())


def signed_message(fields: Iterable[tuple[str, str]]) -> bytes:
    """The exact bytes FreshBooks signs for these fields (Python `json.dumps` defaults)."""
    return json.dumps(dict(fields)).encode("utf-8")


def compute_signature(body: bytes, verifier: str) -> str:
    """The base64 signature FreshBooks would send for `body` under `verifier`."""
    message = signed_message(parse_form(body))
    digest = hmac.new(verifier.encode("utf-8"), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def _decode_header(header: str | None) -> bytes | None:
    if header is None:
        return None
    try:
        raw = base64.b64decode(header.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == _SHA256_DIGEST_SIZE else None


def verify_signature(body: bytes, header: str | None, verifiers: Sequence[str]) -> bool:
    """True when `header` is the signature of `body` under any of `verifiers`.

    Every verifier is tried (no early exit) and digests are compared with
    `hmac.compare_digest`, so timing reveals neither which verifier matched nor how much
    of a forged signature was right. Several verifiers are accepted so that a re-registered
    callback's old and new verifiers both work during the switch.
    """
    expected = _decode_header(header)
    if expected is None or not verifiers:
        return False
    try:
        message = signed_message(parse_form(body))
    except InvalidDeliveryError:
        return False
    matched = False
    for verifier in verifiers:
        digest = hmac.new(verifier.encode("utf-8"), message, hashlib.sha256).digest()
        matched |= hmac.compare_digest(digest, expected)
    return matched


def parse_delivery(body: bytes) -> Delivery:
    """The typed content of a delivery, without checking its signature.

    Raises:
        InvalidDeliveryError: the body is malformed or lacks the fields its kind needs.
    """
    fields = parse_form(body)
    values = dict(fields)
    if "verifier" in values:
        callback_id = values.get("object_id", "")
        if not values["verifier"] or not callback_id:
            raise InvalidDeliveryError("callback handshake without verifier or object_id")
        return CallbackVerification(
            callback_id=callback_id, verifier=values["verifier"], fields=fields
        )
    name = values.get("name", "")
    object_id = values.get("object_id", "")
    if not name or not object_id:
        raise InvalidDeliveryError("webhook delivery without name or object_id")
    return FreshBooksEvent(
        name=name,
        object_id=object_id,
        account_id=values.get("account_id") or None,
        business_id=values.get("business_id") or None,
        identity_id=values.get("identity_id") or None,
        user_id=values.get("user_id") or None,
        fields=fields,
    )


def verify_event(body: bytes, header: str | None, verifiers: Sequence[str]) -> FreshBooksEvent:
    """Verify, then parse, a signed event delivery.

    Verification happens before the payload is interpreted. A handshake is not an event:
    the caller routes it through `parse_delivery` instead.

    Raises:
        SignatureMismatchError: missing or wrong signature.
        InvalidDeliveryError: a correctly signed body that is not an event.
    """
    if not verify_signature(body, header, verifiers):
        raise SignatureMismatchError("FreshBooks webhook signature does not match")
    delivery = parse_delivery(body)
    if isinstance(delivery, CallbackVerification):
        raise InvalidDeliveryError("a callback handshake is not an event delivery")
    return delivery


__all__ = [
    "MAX_FIELDS",
    "SIGNATURE_HEADER",
    "CallbackVerification",
    "Delivery",
    "FreshBooksEvent",
    "InvalidDeliveryError",
    "SignatureMismatchError",
    "compute_signature",
    "parse_delivery",
    "parse_form",
    "signed_message",
    "verify_event",
    "verify_signature",
]
