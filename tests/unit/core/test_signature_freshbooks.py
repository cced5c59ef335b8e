"""FreshBooks webhook signatures: the reference vector and sign/verify properties.

Signing comes from the emulator's own implementation, so these properties compare two
independent readings of FreshBooks' documented algorithm.
"""

from __future__ import annotations

import base64

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from ml_connector.core.signatures.freshbooks import (
    MAX_FIELDS,
    CallbackVerification,
    FreshBooksEvent,
    InvalidDeliveryError,
    SignatureMismatchError,
    compute_signature,
    parse_delivery,
    parse_form,
    signed_message,
    verify_event,
    verify_signature,
)
from ml_connector_emulators.freshbooks.signing import form_body, sign

VERIFIER = "example-verifier-0123456789"
BODY = (
    b"name=bill.update&object_id=7&account_id=ABC123&business_id=439000&identity_id=12345&user_id=1"
)
SIGNATURE = "RTvj3NgLA413NSf19sgGiu9ab1Y27iqoqO76DArhi44="


def test_reference_vector() -> None:
    assert signed_message(parse_form(BODY)) == (
        b'{"name": "bill.update", "object_id": "7", "account_id": "ABC123", '
        b'"business_id": "439000", "identity_id": "12345", "user_id": "1"}'
    )
    assert compute_signature(BODY, VERIFIER) == SIGNATURE
    assert verify_signature(BODY, SIGNATURE, [VERIFIER])


def test_reference_event() -> None:
    event = verify_event(BODY, SIGNATURE, ["old-verifier", VERIFIER])
    assert event == FreshBooksEvent(
        name="bill.update",
        object_id="7",
        account_id="ABC123",
        business_id="439000",
        identity_id="12345",
        user_id="1",
        fields=parse_form(BODY),
    )
    assert (event.resource, event.action) == ("bill", "update")


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "not base64!",
        base64.b64encode(b"short").decode(),
        SIGNATURE.lower(),
        f" {SIGNATURE} x",
    ],
)
def test_bad_headers_are_rejected(header: str | None) -> None:
    assert not verify_signature(BODY, header, [VERIFIER])


def test_surrounding_whitespace_in_header_is_tolerated() -> None:
    assert verify_signature(BODY, f" {SIGNATURE}\t", [VERIFIER])


def test_no_verifiers_accepts_nothing() -> None:
    assert not verify_signature(BODY, SIGNATURE, [])


def test_verify_event_raises_on_mismatch() -> None:
    with pytest.raises(SignatureMismatchError):
        verify_event(BODY, SIGNATURE, ["wrong"])


def test_reordered_reference_fields_are_rejected() -> None:
    reordered = b"object_id=7&name=bill.update&account_id=ABC123&business_id=439000&identity_id=12345&user_id=1"
    assert not verify_signature(reordered, SIGNATURE, [VERIFIER])


def test_repeated_key_keeps_first_value_in_first_position() -> None:
    assert parse_form(b"a=1&b=2&a=3") == (("a", "1"), ("b", "2"))


def test_blank_values_are_signed() -> None:
    assert parse_form(b"name=bill.create&user_id=") == (("name", "bill.create"), ("user_id", ""))


def test_non_ascii_is_escaped_like_python_json() -> None:
    assert signed_message([("vendor", "Café")]) == b'{"vendor": "Caf\\u00e9"}'


@pytest.mark.parametrize(
    "body",
    [b"\xff\xfe=1", b"name", b"a=1&&b=2", b"&".join([b"k%d=v" % i for i in range(MAX_FIELDS + 1)])],
)
def test_malformed_bodies(body: bytes) -> None:
    with pytest.raises(InvalidDeliveryError):
        parse_form(body)
    assert not verify_signature(body, SIGNATURE, [VERIFIER])


def test_handshake_is_recognised_by_verifier_field() -> None:
    delivery = parse_delivery(b"name=callback.verify&object_id=2001&verifier=v3r1f13r")
    assert isinstance(delivery, CallbackVerification)
    assert delivery.callback_id == "2001"
    assert delivery.verifier == "v3r1f13r"
    assert "v3r1f13r" not in repr(delivery)


def test_handshake_is_not_an_event() -> None:
    body = b"object_id=2001&verifier=v3r1f13r"
    with pytest.raises(InvalidDeliveryError, match="handshake"):
        verify_event(body, compute_signature(body, "v3r1f13r"), ["v3r1f13r"])


@pytest.mark.parametrize(
    "body", [b"object_id=7", b"name=bill.create", b"verifier=&object_id=1", b""]
)
def test_incomplete_deliveries(body: bytes) -> None:
    with pytest.raises(InvalidDeliveryError):
        parse_delivery(body)


# --- properties: the emulator signs, the product verifies ---------------------------------

keys = st.text(min_size=1, max_size=20)
values = st.text(max_size=40)
verifiers = st.text(min_size=1, max_size=64)
field_lists = st.lists(st.tuples(keys, values), max_size=10, unique_by=lambda kv: kv[0])


@given(fields=field_lists, verifier=verifiers)
def test_emulator_signature_verifies(fields: list[tuple[str, str]], verifier: str) -> None:
    body = form_body(fields)
    assert verify_signature(body, sign(fields, verifier), [verifier])
    assert compute_signature(body, verifier) == sign(fields, verifier)


@given(fields=st.lists(st.tuples(keys, values), max_size=10), verifier=verifiers)
def test_repeated_keys_agree_with_the_signer(fields: list[tuple[str, str]], verifier: str) -> None:
    assert verify_signature(form_body(fields), sign(fields, verifier), [verifier])


@given(fields=field_lists, verifier=verifiers, other=verifiers)
def test_wrong_verifier_is_rejected(
    fields: list[tuple[str, str]], verifier: str, other: str
) -> None:
    assume(other != verifier)
    body = form_body(fields)
    assert not verify_signature(body, sign(fields, verifier), [other])
    assert verify_signature(body, sign(fields, verifier), [other, verifier])


@given(fields=field_lists.filter(lambda f: len(f) >= 2), verifier=verifiers, data=st.data())
def test_reordered_fields_are_rejected(
    fields: list[tuple[str, str]], verifier: str, data: st.DataObject
) -> None:
    reordered = data.draw(st.permutations(fields))
    assume(reordered != fields)
    assert not verify_signature(form_body(reordered), sign(fields, verifier), [verifier])


@given(fields=field_lists.filter(bool), verifier=verifiers, data=st.data())
def test_tampered_value_is_rejected(
    fields: list[tuple[str, str]], verifier: str, data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, len(fields) - 1))
    key, value = fields[index]
    new_value = data.draw(values.filter(lambda v: v != value))
    tampered = [*fields[:index], (key, new_value), *fields[index + 1 :]]
    assert not verify_signature(form_body(tampered), sign(fields, verifier), [verifier])


@given(fields=field_lists.filter(bool), verifier=verifiers, data=st.data())
def test_any_byte_change_fails_unless_the_fields_are_unchanged(
    fields: list[tuple[str, str]], verifier: str, data: st.DataObject
) -> None:
    body = form_body(fields)
    position = data.draw(st.integers(0, len(body) - 1))
    replacement = data.draw(st.integers(0, 255).filter(lambda b: b != body[position]))
    tampered = body[:position] + bytes([replacement]) + body[position + 1 :]
    accepted = verify_signature(tampered, sign(fields, verifier), [verifier])
    if accepted:
        # only an equivalent encoding (e.g. %2f for %2F) may keep the signature valid
        assert parse_form(tampered) == parse_form(body)


@given(fields=field_lists, verifier=verifiers)
def test_parse_form_round_trips_the_signer_encoding(
    fields: list[tuple[str, str]], verifier: str
) -> None:
    assert parse_form(form_body(fields)) == tuple(fields)
