"""Ramp webhook signatures (reference §9.5), written independently of the product.

HMAC-SHA256 keyed with the subscription secret as UTF-8 bytes (the whole string, prefix
included) over the exact body bytes, no timestamp, no prefix; lower-case hex per the
mid-2025 docs, or base64 where a quirk asks for it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from ml_connector_emulators.ramp.quirks import (
    LEGACY_SIGNATURE_HEADER,
    SIGNATURE_HEADER,
    RampQuirks,
)


def sign(secret: str, body: bytes, encoding: str = "hex") -> str:
    mac = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    if encoding == "base64":
        return base64.b64encode(mac).decode("ascii")
    return mac.hex()


def signature_headers(secret: str, body: bytes, quirks: RampQuirks) -> dict[str, str]:
    value = sign(secret, body, quirks.signature_encoding)
    if quirks.signature_header == "both":
        return {SIGNATURE_HEADER: value, LEGACY_SIGNATURE_HEADER: value}
    return {quirks.signature_header: value}
