from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ml_connector.core.signatures.ramp import (
    compute_signature,
    decode_signature,
    signature_values,
    verify_delivery,
    verify_signature,
)

# The reference's §9.5 test vector (computed independently of this module).
SECRET = "ramp_sec_test_secret"
BODY = (
    b'{"id":"a461a658-8d78-4e66-b1fd-9c818bcfea6b","type":"bills.created",'
    b'"created_at":"2025-04-01T12:00:00Z","business_id":"945c7d8f-6c35-4d63-9c1c-79e67c9cee73",'
    b'"object":{"id":"6e3816e3-0e53-42ae-b075-bdb0adff10c4"}}'
)
HEX = "fcf2be19ce1e40dedd3845d1203cc376654f8cf9286c778fd29b3352e1e41c0f"
B64 = "/PK+Gc4eQN7dOEXRIDzDdmVPjPkobHeP0pszUuHkHA8="


def test_reference_vector_digest() -> None:
    assert compute_signature(BODY, SECRET).hex() == HEX
    assert base64.b64encode(compute_signature(BODY, SECRET)).decode() == B64


@pytest.mark.parametrize(
    "signature",
    [HEX, HEX.upper(), f"sha256={HEX}", f"  {HEX}\n", B64, B64.rstrip("="), f"SHA256={B64}"],
)
def test_reference_vector_accepted_in_every_tolerated_form(signature: str) -> None:
    assert verify_signature(BODY, signature, [SECRET])


@pytest.mark.parametrize(
    "header", ["X-Ramp-Signature", "X-Ramp-Webhook-Signature", "x-ramp-signature"]
)
def test_either_header_name_in_any_case(header: str) -> None:
    assert verify_delivery(BODY, {header: HEX, "Content-Type": "application/json"}, [SECRET])


def test_delivery_without_signature_header_is_rejected() -> None:
    assert not verify_delivery(BODY, {"X-Ramp-Webhook-ID": "a461a658"}, [SECRET])


def test_one_valid_header_among_two_is_enough() -> None:
    headers = {"X-Ramp-Signature": "0" * 64, "X-Ramp-Webhook-Signature": HEX}
    assert signature_values(headers) == ["0" * 64, HEX]
    assert verify_delivery(BODY, headers, [SECRET])


def test_any_of_several_secrets_verifies() -> None:
    assert verify_signature(BODY, HEX, ["ramp_sec_new", SECRET])
    assert not verify_signature(BODY, HEX, ["ramp_sec_new", "ramp_sec_other"])


def test_prefix_is_part_of_the_key() -> None:
    assert not verify_signature(BODY, HEX, [SECRET.removeprefix("ramp_sec_")])


@pytest.mark.parametrize(
    "signature",
    [None, "", "sha256=", "not a signature", HEX[:-2], HEX + "00", "é" * 64, "zz" * 32],
)
def test_malformed_signatures_are_rejected(signature: str | None) -> None:
    assert not verify_signature(BODY, signature, [SECRET])


def test_empty_secret_never_verifies() -> None:
    empty_mac = hmac.new(b"", BODY, hashlib.sha256).hexdigest()
    assert not verify_signature(BODY, empty_mac, [""])
    assert not verify_delivery(BODY, {"X-Ramp-Signature": empty_mac}, [""])


def test_reserialised_json_does_not_verify() -> None:
    """The raw bytes are signed; re-encoding the parsed JSON (the docs' JS bug) fails."""
    assert not verify_signature(BODY.replace(b'","', b'", "'), HEX, [SECRET])


secrets = st.text(min_size=1, max_size=64)
bodies = st.binary(max_size=2048)


@given(body=bodies, secret=secrets)
def test_sign_then_verify_in_every_encoding(body: bytes, secret: str) -> None:
    mac = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    for encoded in (
        mac.hex(),
        base64.b64encode(mac).decode(),
        base64.urlsafe_b64encode(mac).decode().rstrip("="),
    ):
        assert decode_signature(encoded) == mac
        assert verify_signature(body, encoded, [secret])


@given(body=bodies.filter(bool), secret=secrets, data=st.data())
def test_any_tampered_byte_fails(body: bytes, secret: str, data: st.DataObject) -> None:
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    index = data.draw(st.integers(0, len(body) - 1))
    flip = data.draw(st.integers(1, 255))
    tampered = body[:index] + bytes([body[index] ^ flip]) + body[index + 1 :]
    assert not verify_signature(tampered, signature, [secret])


@given(body=bodies, secret=secrets, other=secrets)
def test_wrong_secret_fails(body: bytes, secret: str, other: str) -> None:
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert verify_signature(body, signature, [other]) == (other == secret)


@given(value=st.text(max_size=100))
def test_decoding_arbitrary_text_never_raises(value: str) -> None:
    decoded = decode_signature(value)
    assert decoded is None or len(decoded) == 32
