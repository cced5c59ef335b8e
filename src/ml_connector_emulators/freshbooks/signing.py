"""`X-FreshBooks-Hmac-SHA256`: how FreshBooks signs a webhook form post.

FreshBooks documents its signer as Python: stringify every form value, `json.dumps` the
dict (keys in sent order, default `", "` / `": "` separators, ASCII escapes), HMAC-SHA256
keyed with the callback's verifier, standard base64 with padding. This is the
emulator's own implementation, kept apart from the product's verifier on purpose.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Sequence
from urllib.parse import urlencode

HEADER = "X-FreshBooks-Hmac-SHA256"


def signed_message(fields: Sequence[tuple[str, object]]) -> str:
    message: dict[str, str] = {}
    for key, value in fields:
        message.setdefault(key, str(value))
    return json.dumps(message)


def sign(fields: Sequence[tuple[str, object]], verifier: str) -> str:
    digest = hmac.new(
        verifier.encode("utf-8"), signed_message(fields).encode("utf-8"), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode("ascii")


def form_body(fields: Sequence[tuple[str, object]]) -> bytes:
    return urlencode([(key, str(value)) for key, value in fields]).encode("ascii")


__all__ = ["HEADER", "form_body", "sign", "signed_message"]
