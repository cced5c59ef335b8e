"""The emulator's webhook signer against the reference's known-answer vector."""

from __future__ import annotations

import pytest

from ml_connector_emulators.freshbooks.signing import form_body, sign, signed_message

VECTOR_FIELDS = [
    ("name", "bill.update"),
    ("object_id", "7"),
    ("account_id", "ABC123"),
    ("business_id", "439000"),
    ("identity_id", "12345"),
    ("user_id", "1"),
]


def test_known_answer_vector_from_reference_6_5() -> None:
    assert signed_message(VECTOR_FIELDS) == (
        '{"name": "bill.update", "object_id": "7", "account_id": "ABC123", '
        '"business_id": "439000", "identity_id": "12345", "user_id": "1"}'
    )
    assert (
        sign(VECTOR_FIELDS, "example-verifier-0123456789")
        == "RTvj3NgLA413NSf19sgGiu9ab1Y27iqoqO76DArhi44="
    )


def test_body_is_the_form_encoding_of_the_same_fields_in_order() -> None:
    assert form_body(VECTOR_FIELDS) == (
        b"name=bill.update&object_id=7&account_id=ABC123&business_id=439000&identity_id=12345&user_id=1"
    )


@pytest.mark.parametrize(
    "fields",
    [
        list(reversed(VECTOR_FIELDS)),
        [*VECTOR_FIELDS[:1], ("object_id", "8"), *VECTOR_FIELDS[2:]],
    ],
)
def test_order_and_values_change_the_signature(fields: list[tuple[str, str]]) -> None:
    assert sign(fields, "example-verifier-0123456789") != sign(
        VECTOR_FIELDS, "example-verifier-0123456789"
    )


def test_values_are_stringified_and_non_ascii_escaped() -> None:
    assert (
        signed_message([("object_id", 7), ("name", "café")])
        == '{"object_id": "7", "name": "caf\\u00e9"}'
    )
    assert sign(VECTOR_FIELDS, "other-verifier") != sign(
        VECTOR_FIELDS, "example-verifier-0123456789"
    )
