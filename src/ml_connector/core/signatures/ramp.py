"""Ramp webhook signatures: HMAC-SHA256 of the raw body, keyed by the subscription secret.

Ramp's own docs (mid-2025) name the header `X-Ramp-Webhook-Signature` and show a lower-case
hex digest; later third-party readings of the docs name `X-Ramp-Signature` and leave the
encoding open (one integration uses base64). Until a live delivery settles it, both header
names and both encodings are accepted: a forger still needs the secret to produce either.

The key is the whole secret string as UTF-8 (including any `ramp_sec_` prefix) and the
message is the exact request body, before any JSON parsing. There is no signed timestamp,
so replay protection is the inbox's dedupe on the event `id`, not this module's job.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable, Mapping

SIGNATURE_HEADERS = ("X-Ramp-Signature", "X-Ramp-Webhook-Signature")
"""Current name first, then the mid-2025 name; both are looked up case-insensitively."""

_DIGEST_SIZE = hashlib.sha256().digest_size
_PREFIX = "sha256="


def compute_signature(body: bytes, secret: str) -> bytes:
    """The raw HMAC-SHA256 digest Ramp signs `body` with."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()


def signature_values(headers: Mapping[str, str]) -> list[str]:
    """Every signature header value present, whichever name and case Ramp used."""
    wanted = {name.lower() for name in SIGNATURE_HEADERS}
    return [value for name, value in headers.items() if name.lower() in wanted]


def decode_signature(value: str) -> bytes | None:
    """The 32 digest bytes a header value encodes (hex or base64), or None if it encodes none.

    Decoding first and comparing digests afterwards keeps one constant-time comparison
    for every encoding; what is decoded is the attacker's own input, so decoding it
    leaks nothing about the secret.
    """
    text = value.strip()
    if text[: len(_PREFIX)].lower() == _PREFIX:
        text = text[len(_PREFIX) :].strip()
    if not text or not text.isascii():
        return None
    if len(text) == 2 * _DIGEST_SIZE:
        try:
            return bytes.fromhex(text)
        except ValueError:
            pass
    padded = text + "=" * (-len(text) % 4)
    for altchars in (b"+/", b"-_"):
        try:
            raw = base64.b64decode(padded, altchars=altchars, validate=True)
        except (binascii.Error, ValueError):
            continue
        if len(raw) == _DIGEST_SIZE:
            return raw
    return None


def verify_signature(body: bytes, signature: str | None, secrets: Iterable[str]) -> bool:
    """True when `signature` is a valid Ramp signature of `body` under any of `secrets`.

    Several secrets are accepted so a subscription can be replaced (delete, re-create,
    re-verify) without dropping deliveries signed under the old secret in the meantime.
    """
    if signature is None:
        return False
    claimed = decode_signature(signature)
    if claimed is None:
        return False
    valid = False
    for secret in secrets:
        if not secret:
            continue
        # No early exit: the time taken does not reveal which secret matched.
        valid |= hmac.compare_digest(compute_signature(body, secret), claimed)
    return valid


def verify_delivery(body: bytes, headers: Mapping[str, str], secrets: Iterable[str]) -> bool:
    """True when any Ramp signature header on the delivery verifies under any secret."""
    accepted = [secret for secret in secrets if secret]
    return any(verify_signature(body, value, accepted) for value in signature_values(headers))


__all__ = [
    "SIGNATURE_HEADERS",
    "compute_signature",
    "decode_signature",
    "signature_values",
    "verify_delivery",
    "verify_signature",
]
