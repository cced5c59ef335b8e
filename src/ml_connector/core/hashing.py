"""Stable content hashes of what a Ramp object should look like.

Pure; no I/O. A plan hashes the exact payload it would send; the link stores that hash
after the write; the next plan for an unchanged FreshBooks object computes the same hash
and plans nothing. The hash therefore must not depend on dict order, on how a Decimal
was spelled (``"1.50"`` vs ``"1.5"`` are the same amount) or on the Python version.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum

__all__ = ["canonical_json", "content_hash"]


def _plain(value: object) -> object:  # noqa: PLR0911 - one return per JSON-able kind
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Enum):
        return _plain(value.value)
    if isinstance(value, Decimal):
        # normalize() would turn 100 into 1E+2; format keeps plain digits, stripped of
        # trailing zeros so "1.50" and "1.5" hash alike.
        text = format(value, "f")
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        return {"$decimal": text if text not in ("-0", "") else "0"}
    if isinstance(value, float):
        return {"$float": repr(value)}
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | frozenset | set):
        items = [_plain(v) for v in value]
        if isinstance(value, frozenset | set):
            items.sort(key=lambda item: json.dumps(item, sort_keys=True))
        return items
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    return {"$repr": repr(value)}


def canonical_json(value: object) -> str:
    """Deterministic JSON text of `value` (sorted keys, tagged decimals, ISO dates)."""
    return json.dumps(_plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def content_hash(value: object) -> str:
    """``sha256:<hex>`` of `canonical_json(value)`."""
    return "sha256:" + hashlib.sha256(canonical_json(value).encode("ascii")).hexdigest()
