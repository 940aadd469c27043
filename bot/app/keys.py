"""`retro keys`: make keys, show the bundle-signing public key, re-encrypt stored tokens with the newest key."""

from __future__ import annotations

import sys

from bot.config import Settings
from bot.errors import ConfigError
from bot.signing import key_id, load_private_key, new_private_key, public_text
from storage.db import create_engine
from storage.migrate import database_revision, head_revision
from storage.oauth_tables import rewrite_secrets
from storage.token_cipher import TokenCipher, new_key


def new(kind: str) -> int:
    """Print a fresh key: `encryption` (for RETRO_ENCRYPTION_KEY) or `signing` (for RETRO_SIGNING_KEY)."""
    if kind == "encryption":
        print(new_key())
        return 0
    private = new_private_key()
    print(private)
    public = load_private_key(private).public_key()
    print(f"public key {public_text(public)} (key id {key_id(public)}); keep the private key above secret",
          file=sys.stderr)
    return 0


def public(settings: Settings) -> int:
    """Print the public half of RETRO_SIGNING_KEY and its key id (what verifiers pass to --key)."""
    if settings.retro_signing_key is None:
        raise ConfigError("RETRO_SIGNING_KEY is not set (`retro keys new signing` makes one)")
    key = load_private_key(settings.retro_signing_key.get_secret_value()).public_key()
    print(f"public key: {public_text(key)}\nkey id: {key_id(key)}")
    return 0


async def rotate(settings: Settings) -> int:
    """Re-encrypt every stored token with the newest key of RETRO_ENCRYPTION_KEY; print how many rows changed."""
    if settings.retro_encryption_key is None:
        raise ConfigError("RETRO_ENCRYPTION_KEY is not set: list the new key first, then the old ones, comma-separated")
    cipher = TokenCipher(settings.retro_encryption_key.get_secret_value())
    engine = create_engine(settings.database_url)
    try:
        revision = await database_revision(engine)
        if revision != head_revision():
            raise ConfigError(f"the database is at {revision or 'no schema'}, not {head_revision()}: "
                              "run `retro db upgrade` first")
        async with engine.begin() as conn:
            rows = await conn.run_sync(rewrite_secrets, cipher.reseal)
    finally:
        await engine.dispose()
    print(f"re-encrypted the tokens of {rows} row(s) with the newest key; keys after the first in "
          "RETRO_ENCRYPTION_KEY can be removed once every replica runs with this list")
    return 0
