"""A bundle's SIGNATURE: an Ed25519 signature over the MANIFEST's SHA-256 and the chain head.

The MANIFEST lists every file's digest, so the signature vouches for every file; the chain head is signed too, so
that a bundle whose chain was recomputed after an edit (it still verifies as intact) no longer matches its
signature. The file is plain `name: value` lines; the signed message is the three statement lines
(`retro-signature/1`, `manifest-sha256: …`, `chain-head: …`), each ending in a newline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from bot.canonical import sha256_hex
from bot.signing import KeyFormatError, key_id, load_public_key, public_text, sign, signature_matches

SIGNATURE = "SIGNATURE"
SIGNATURE_FORMAT = "retro-signature/1"
FIELDS = ("format", "key-id", "public-key", "manifest-sha256", "chain-head", "signature")


class SignatureFileError(ValueError):
    """A SIGNATURE file that cannot be read as one (the message names what is wrong)."""


def statement(manifest: bytes, head: str) -> bytes:
    """The exact bytes that are signed."""
    return f"{SIGNATURE_FORMAT}\nmanifest-sha256: {sha256_hex(manifest)}\nchain-head: {head}\n".encode()


def signature_text(key: Ed25519PrivateKey, manifest: bytes, head: str) -> str:
    """The SIGNATURE file of a bundle with this MANIFEST and chain head."""
    public = key.public_key()
    values = {"format": SIGNATURE_FORMAT, "key-id": key_id(public), "public-key": public_text(public),
              "manifest-sha256": sha256_hex(manifest), "chain-head": head,
              "signature": sign(key, statement(manifest, head))}
    return ("# Retro bundle signature: check it with `retro verify <this folder> --key <public key>`.\n"
            + "".join(f"{name}: {values[name]}\n" for name in FIELDS))


@dataclass(frozen=True)
class Signed:
    """What a SIGNATURE file claims."""

    key: Ed25519PublicKey
    key_id: str
    manifest_sha256: str
    head: str
    signature: str


def parse(text: str) -> Signed:
    """The claims of a SIGNATURE file; raises SignatureFileError naming the first problem."""
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        name, sep, value = line.partition(": ")
        if not sep or name not in FIELDS or name in values:
            raise SignatureFileError(f"{SIGNATURE} line {number} is not one `name: value` of {', '.join(FIELDS)}")
        values[name] = value.strip()
    missing = [name for name in FIELDS if name not in values]
    if missing:
        raise SignatureFileError(f"{SIGNATURE} has no {', '.join(missing)}")
    if values["format"] != SIGNATURE_FORMAT:
        raise SignatureFileError(f"{SIGNATURE} format is {values['format']!r}, expected {SIGNATURE_FORMAT}")
    try:
        key = load_public_key(values["public-key"], f"{SIGNATURE}'s public-key")
    except KeyFormatError as exc:
        raise SignatureFileError(str(exc)) from None
    if key_id(key) != values["key-id"]:
        raise SignatureFileError(f"{SIGNATURE}'s key-id is not the id of its public-key")
    return Signed(key, values["key-id"], values["manifest-sha256"], values["chain-head"], values["signature"])


def check(signed: Signed | None, manifest: bytes, head: str, trusted: Sequence[Ed25519PublicKey]) -> tuple[bool, str]:
    """(passed, line) for a bundle's signature against its actual MANIFEST and chain head.

    Without trusted keys an unsigned bundle passes and a valid signature only tells whose key made it; given
    trusted keys, the bundle must be signed by one of them.
    """
    ids = [key_id(k) for k in trusted]
    if signed is None:
        if ids:
            return False, f"unsigned: no {SIGNATURE}, but a signature by {', '.join(ids)} was asked for"
        return True, f"unsigned (no {SIGNATURE})"
    if sha256_hex(manifest) != signed.manifest_sha256:
        return False, f"signature does not match: the MANIFEST changed after key {signed.key_id} signed it"
    if head != signed.head:
        return False, f"signature does not match: key {signed.key_id} signed chain head {signed.head}, not {head}"
    if not signature_matches(signed.key, statement(manifest, head), signed.signature):
        return False, f"signature does not match: it was not made by key {signed.key_id}"
    if not ids:
        return True, (f"signed by {signed.key_id}, a key you were not told to trust (give its public key with "
                      "--key or RETRO_VERIFY_KEYS to check who signed)")
    if not any(k.public_bytes_raw() == signed.key.public_bytes_raw() for k in trusted):
        return False, f"signed by {signed.key_id}, which is not a key you trust ({', '.join(ids)})"
    return True, f"signed by {signed.key_id}"
