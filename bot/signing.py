"""Ed25519 keys for signing exported bundles: one text format for each key, and a short id for a public key.

A private key (RETRO_SIGNING_KEY) is the standard base64 of its 32 raw bytes (44 characters); a public key
(`--key`, RETRO_VERIFY_KEYS, `retro keys public`) is the standard base64 of its 32 raw bytes too. A key id is the
first 16 hex digits of the SHA-256 of the raw public key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

SIGNING_ENV = "RETRO_SIGNING_KEY"
VERIFY_ENV = "RETRO_VERIFY_KEYS"
RAW_BYTES = 32


class KeyFormatError(ValueError):
    """A key's text is not in the format Retro takes; the message never repeats the key."""


def _raw(text: str, what: str) -> bytes:
    stripped = text.strip()
    if stripped.startswith("-----BEGIN"):
        raise KeyFormatError(f"{what} is PEM; give the base64 of the 32 raw key bytes instead "
                             "(`retro keys new signing` makes a private key)")
    try:
        raw = base64.b64decode(stripped, validate=True)
    except (binascii.Error, ValueError):
        raise KeyFormatError(f"{what} is not base64") from None
    if len(raw) != RAW_BYTES:
        raise KeyFormatError(f"{what} is {len(raw)} bytes, not the {RAW_BYTES} of an Ed25519 key")
    return raw


def load_private_key(text: str, what: str = SIGNING_ENV) -> Ed25519PrivateKey:
    """A private key from its base64 text."""
    return Ed25519PrivateKey.from_private_bytes(_raw(text, what))


def load_public_key(text: str, what: str = "the public key") -> Ed25519PublicKey:
    """A public key from its base64 text."""
    return Ed25519PublicKey.from_public_bytes(_raw(text, what))


def parse_public_keys(text: str, what: str = VERIFY_ENV) -> list[Ed25519PublicKey]:
    """Public keys separated by commas or spaces; a bad one is named by its position."""
    parts = text.replace(",", " ").split()
    return [load_public_key(p, f"{what}: key {n} of {len(parts)}") for n, p in enumerate(parts, start=1)]


def new_private_key() -> str:
    """A fresh private key in the text format RETRO_SIGNING_KEY takes."""
    return base64.b64encode(Ed25519PrivateKey.generate().private_bytes_raw()).decode("ascii")


def public_text(key: Ed25519PublicKey) -> str:
    """A public key as text."""
    return base64.b64encode(key.public_bytes_raw()).decode("ascii")


def key_id(key: Ed25519PublicKey) -> str:
    """The first 16 hex digits of the SHA-256 of the raw public key."""
    return hashlib.sha256(key.public_bytes_raw()).hexdigest()[:16]


def sign(key: Ed25519PrivateKey, message: bytes) -> str:
    """The base64 Ed25519 signature of a message."""
    return base64.b64encode(key.sign(message)).decode("ascii")


def signature_matches(key: Ed25519PublicKey, message: bytes, signature: str) -> bool:
    """Whether a base64 signature of the message was made with the key's private half."""
    try:
        key.verify(base64.b64decode(signature.strip(), validate=True), message)
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True
