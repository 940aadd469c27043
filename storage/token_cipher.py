"""Secrets at rest: Fernet encryption of stored tokens, with several keys (the newest encrypts, any decrypts).

RETRO_ENCRYPTION_KEY holds one or more Fernet keys, comma-separated, newest first. A stored value is either a Fernet
token (it starts with `gAAAAA`: the version byte 0x80 and the high bytes of a timestamp, base64url) or, only in rows
written before encryption existed, the plain value itself (Slack tokens start with `xox`, webhook URLs with
`https://`), which reads as it is until `retro keys rotate` (or the migration that introduced encryption) seals it.
"""

from __future__ import annotations

import binascii
import os
from collections.abc import Mapping
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

ENV = "RETRO_ENCRYPTION_KEY"
SEALED_PREFIX = "gAAAAA"


class TokenKeyError(Exception):
    """A key is missing, malformed, or does not open a stored value; the message names the variable, never a key."""


def new_key() -> str:
    """A fresh Fernet key (32 random bytes, url-safe base64), as RETRO_ENCRYPTION_KEY takes it."""
    return Fernet.generate_key().decode("ascii")


def parse_keys(value: str) -> list[Fernet]:
    """The keys of a RETRO_ENCRYPTION_KEY value, newest first; a bad one is named by its position only."""
    parts = [p.strip() for p in value.split(",") if p.strip()]
    if not parts:
        raise TokenKeyError(f"{ENV} is empty")
    keys = []
    for number, part in enumerate(parts, start=1):
        try:
            keys.append(Fernet(part.encode("ascii")))
        except (ValueError, UnicodeEncodeError, binascii.Error):
            where = f"key {number} of {len(parts)}" if len(parts) > 1 else "the key"
            raise TokenKeyError(f"{ENV}: {where} is not a Fernet key (32 bytes, url-safe base64: 44 characters "
                                "ending in '='; `retro keys new encryption` makes one)") from None
    return keys


def is_sealed(value: str) -> bool:
    """Whether a stored value is ciphertext (a Fernet token) rather than a value written before encryption."""
    return value.startswith(SEALED_PREFIX)


class TokenCipher:
    """Encrypts with the newest key and decrypts with any of them."""

    def __init__(self, keys: str) -> None:
        self._keys = MultiFernet(parse_keys(keys))

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> TokenCipher | None:
        """The cipher of RETRO_ENCRYPTION_KEY, or None when it is unset or blank."""
        value = environ.get(ENV, "")
        return cls(value) if value.strip() else None

    def seal(self, plain: str) -> str:
        """Encrypt a value with the newest key."""
        return self._keys.encrypt(plain.encode("utf-8")).decode("ascii")

    def open(self, stored: str) -> str:
        """The plain value of a stored one (a value stored before encryption existed is returned as it is)."""
        if not is_sealed(stored):
            return stored
        try:
            return self._keys.decrypt(stored.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError):
            raise TokenKeyError(f"a stored token opens with no key in {ENV} (was the key it was sealed with "
                                "removed before `retro keys rotate` ran?)") from None

    def reseal(self, stored: str) -> str:
        """The stored value encrypted with the newest key (ciphertext is rotated, a plain value is sealed)."""
        if not is_sealed(stored):
            return self.seal(stored)
        try:
            return self._keys.rotate(stored.encode("ascii")).decode("ascii")
        except InvalidToken:
            raise TokenKeyError(f"a stored token opens with no key in {ENV}; add the key it was sealed with "
                                "(after the newest) and rotate again") from None


class Unsealed(str):
    """A secret read back from the store: its value wherever it is used, but a redacted stand-in wherever it is
    shown with repr() (row dumps in debug logs, object reprs in tracebacks)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"'{self[:5]}…(redacted)'"


class SealedText(TypeDecorator[str]):
    """A text column whose values are encrypted on the way in and decrypted on the way out."""

    impl = Text
    cache_ok = True

    def __init__(self, cipher: TokenCipher) -> None:
        super().__init__()
        self.cipher = cipher

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        """Encrypt a value before it is written."""
        return None if value is None else self.cipher.seal(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        """Decrypt a value read back."""
        return None if value is None else Unsealed(self.cipher.open(str(value)))
