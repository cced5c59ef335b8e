"""Content hashes: stable across spelling and order, different for different content."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from ml_connector.core.actions import PendingRef
from ml_connector.core.hashing import canonical_json, content_hash


def test_same_content_same_hash() -> None:
    a = {"amount": Decimal("1.50"), "lines": [1, 2], "on": date(2026, 9, 1), "x": None}
    b = {"x": None, "on": date(2026, 9, 1), "lines": [1, 2], "amount": Decimal("1.5")}
    assert content_hash(a) == content_hash(b)
    assert content_hash({"n": Decimal(100)}) == content_hash({"n": Decimal("100.00")})
    assert content_hash({"n": Decimal("-0.00")}) == content_hash({"n": Decimal(0)})
    assert content_hash(a).startswith("sha256:")


def test_different_content_different_hash() -> None:
    base = {"amount": "1.50", "lines": [1, 2]}
    for other in ({"amount": "1.51", "lines": [1, 2]}, {"amount": "1.50", "lines": [2, 1]},
                  {"amount": Decimal("1.50"), "lines": [1, 2]}, {"amount": 1.5, "lines": [1, 2]}):  # fmt: skip
        assert content_hash(other) != content_hash(base)


def test_pending_refs_hash_by_value() -> None:
    assert content_hash({"v": PendingRef("vendor", "9")}) == content_hash(
        {"v": PendingRef("vendor", "9")}
    )
    assert content_hash({"v": PendingRef("vendor", "9")}) != content_hash(
        {"v": PendingRef("vendor", "8")}
    )


json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8) | st.decimals(allow_nan=False),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=12,
)


@settings(max_examples=200)
@given(json_like)
def test_hash_is_deterministic_and_ascii(value: object) -> None:
    assert content_hash(value) == content_hash(value)
    canonical_json(value).encode("ascii")
