"""Secrets at rest: a MultiFernet key ring whose ciphertexts are bound to their owner.

Fernet has no associated data, so the subject (e.g. the connection or token key) and
the purpose travel *inside* the encrypted payload and are checked on decrypt: a
ciphertext copied onto another connection's row, or from a token column into a
credential column, is rejected instead of silently used.

The first key encrypts; every key decrypts; `rotate` re-encrypts under the first key.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from ml_connector.core.errors import ConfigurationError


class DecryptionError(ConfigurationError):
    """A stored secret could not be decrypted or is bound to another owner.

    Usually the key that encrypted it was dropped from the key ring too early.
    """


def generate_key() -> str:
    """A fresh Fernet key (URL-safe base64 text)."""
    return Fernet.generate_key().decode("ascii")


class Cipher:
    """Encrypts and decrypts small secrets with a key ring (first key is primary)."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ConfigurationError("at least one encryption key is required")
        try:
            fernets = [Fernet(key.encode("ascii")) for key in keys]
        except (ValueError, UnicodeEncodeError) as exc:
            # Never echo the key material itself.
            raise ConfigurationError(
                "an encryption key is malformed: each must be 32 url-safe base64-encoded bytes"
            ) from exc
        self._primary = fernets[0]
        self._ring = MultiFernet(fernets)

    def __repr__(self) -> str:
        return "Cipher(<key ring>)"

    def encrypt(self, plaintext: str, *, subject: str, purpose: str) -> str:
        """Encrypt `plaintext` for `subject` and `purpose` under the primary key."""
        payload = json.dumps({"s": subject, "p": purpose, "v": plaintext}, separators=(",", ":"))
        return self._ring.encrypt(payload.encode("utf-8")).decode("ascii")

    def decrypt(self, ciphertext: str, *, subject: str, purpose: str) -> str:
        """The plaintext, after checking it was encrypted for this subject and purpose."""
        try:
            raw = self._ring.decrypt(ciphertext.encode("ascii"))
        except (InvalidToken, UnicodeEncodeError) as exc:
            raise DecryptionError(
                f"cannot decrypt the {purpose} of {subject}: no key in the ring matches"
            ) from exc
        try:
            payload = json.loads(raw)
            bound_subject, bound_purpose, value = payload["s"], payload["p"], payload["v"]
        except (ValueError, KeyError, TypeError) as exc:
            raise DecryptionError(f"the {purpose} of {subject} is not a sealed secret") from exc
        if bound_subject != subject or bound_purpose != purpose:
            raise DecryptionError(
                f"the stored {purpose} of {subject} was sealed for another owner; refusing it"
            )
        if not isinstance(value, str):
            raise DecryptionError(f"the {purpose} of {subject} is not a sealed secret")
        return value

    def rotate(self, ciphertext: str) -> str:
        """The same sealed payload, re-encrypted under the primary key."""
        try:
            return self._ring.rotate(ciphertext.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeEncodeError) as exc:
            raise DecryptionError("cannot rotate a secret: no key in the ring matches") from exc

    def is_current(self, ciphertext: str) -> bool:
        """True when the primary key already decrypts `ciphertext` (no rotation needed)."""
        try:
            self._primary.decrypt(ciphertext.encode("ascii"))
        except (InvalidToken, UnicodeEncodeError):
            return False
        return True


__all__ = ["Cipher", "DecryptionError", "generate_key"]
