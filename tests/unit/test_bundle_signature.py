"""Signed bundles: who signed is named, and a bundle edited and re-chained (still intact) no longer matches."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bot.app import cli
from bot.canonical import chain_hash, sha256_hex
from bot.postmortem.bundle_signature import SIGNATURE
from bot.postmortem.doc_types import Doc
from bot.postmortem.draft import template_environment
from bot.postmortem.export import BundleError, entry_of, load_document, verify_bundle, write_bundle
from bot.record.chain import entry_payload
from bot.signing import key_id, load_private_key, new_private_key, public_text
from storage.models import GENESIS_HASH
from tests.postmortem_world import document_of, fraud_incident, world

OURS = load_private_key(new_private_key())
THEIRS = Ed25519PrivateKey.generate()


@pytest.fixture
async def doc(sqlite_database_url: str) -> Doc:
    """A recorded incident's document."""
    async with world(sqlite_database_url) as w:
        return await document_of(w, await fraud_incident(w, messages=8))


def signed_bundle(doc: Doc, folder: Path, key: Ed25519PrivateKey | None = OURS) -> Path:
    """The bundle of `doc`, signed with `key`."""
    write_bundle(template_environment(), doc, folder, key)
    return folder


def forged(doc: Doc, folder: Path) -> Path:
    """A careful forger's copy: one message reworded, the chain recomputed, the MANIFEST rewritten, and the original
    SIGNATURE kept."""
    fake = load_document(signed_bundle(doc, folder))
    message = next(e for e in fake["entries"] if e["kind"] == "message")
    message["text"] = reworded = "the model was fine all along"
    message["text_sha256"] = sha256_hex(reworded)
    running = GENESIS_HASH
    for entry in fake["entries"]:
        entry["prev_hash"] = running
        entry["hash"] = running = chain_hash(running, entry_payload(entry_of(entry)))
    fake["incident"]["head_hash"] = running
    signature = (folder / SIGNATURE).read_bytes()
    write_bundle(template_environment(), fake, folder)
    (folder / SIGNATURE).write_bytes(signature)
    return folder


def bad(folder: Path, *trusted: Ed25519PrivateKey) -> list[str]:
    """The failed checks of a bundle, verified against the public halves of `trusted`."""
    return [line for ok, line in verify_bundle(folder, [k.public_key() for k in trusted]).checks if not ok]


def signature_line(folder: Path, *trusted: Ed25519PrivateKey) -> tuple[bool, str]:
    """The signature check of a bundle."""
    checks = verify_bundle(folder, [k.public_key() for k in trusted]).checks
    return next(c for c in checks if "sign" in c[1])


async def test_a_signed_bundle_names_its_signer(doc: Doc, tmp_path: Path) -> None:
    folder = signed_bundle(doc, tmp_path / "b")
    ours = key_id(OURS.public_key())
    assert verify_bundle(folder, [OURS.public_key()]).ok
    assert signature_line(folder, OURS) == (True, f"signed by {ours}")
    ok, line = signature_line(folder)
    assert ok and line.startswith(f"signed by {ours}, a key you were not told to trust")
    assert signature_line(folder, THEIRS) == (False, f"signed by {ours}, which is not a key you trust "
                                                     f"({key_id(THEIRS.public_key())})")
    unsigned = signed_bundle(doc, tmp_path / "u", key=None)
    assert signature_line(unsigned) == (True, f"unsigned (no {SIGNATURE})")
    assert signature_line(unsigned, OURS)[0] is False


async def test_an_edited_and_re_chained_bundle_is_intact_but_its_signature_does_not_match(
        doc: Doc, tmp_path: Path) -> None:
    folder = forged(doc, tmp_path / "forged")
    ours = key_id(OURS.public_key())
    # Every integrity check passes: the chain, the MANIFEST and the evidence are consistent again...
    assert bad(folder) == [f"signature does not match: the MANIFEST changed after key {ours} signed it"]
    assert bad(folder, OURS) == bad(folder)
    # ...and pointing the signature at the new MANIFEST and head does not help without the private key.
    text = (folder / SIGNATURE).read_text()
    claims = dict(line.split(": ", 1) for line in text.splitlines() if ": " in line and not line.startswith("#"))
    manifest = (folder / "MANIFEST").read_bytes()
    head = load_document(folder)["incident"]["head_hash"]
    (folder / SIGNATURE).write_text(text.replace(claims["manifest-sha256"], sha256_hex(manifest))
                                    .replace(claims["chain-head"], head))
    assert bad(folder, OURS) == [f"signature does not match: it was not made by key {ours}"]
    # Signing the forgery with another key is seen by whoever says which key to trust.
    signed_bundle(load_document(folder), folder, THEIRS)
    assert bad(folder, OURS) == [f"signed by {key_id(THEIRS.public_key())}, which is not a key you trust ({ours})"]


async def test_a_signature_file_that_is_not_one_is_a_one_line_error(doc: Doc, tmp_path: Path) -> None:
    folder = signed_bundle(doc, tmp_path / "b")
    original = (folder / SIGNATURE).read_text()
    spoils: list[tuple[Callable[[str], str], str]] = [
        (lambda t: t.replace("format: ", "formats: "), "line 2 is not one `name: value`"),
        (lambda t: t.replace("key-id: ", "key-id: 0"), "key-id is not the id of its public-key"),
        (lambda t: "\n".join(t.splitlines()[:-1]), "has no signature"),
        (lambda t: t.replace("public-key: ", "public-key: AAAA"), "public-key is 35 bytes")]
    for spoil, named in spoils:
        (folder / SIGNATURE).write_text(spoil(original))
        with pytest.raises(BundleError, match=named):
            verify_bundle(folder)


async def test_the_command_line_signs_shows_the_public_key_and_verifies(
        sqlite_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    async with world(sqlite_database_url) as w:
        inc = await fraud_incident(w)
    private = new_private_key()
    public = load_private_key(private).public_key()
    ours = key_id(public)
    monkeypatch.setenv("DATABASE_URL", sqlite_database_url)
    monkeypatch.setenv("RETRO_SIGNING_KEY", private)
    monkeypatch.delenv("RETRO_VERIFY_KEYS", raising=False)
    assert await main("keys", "public") == 0
    assert capsys.readouterr().out == f"public key: {public_text(public)}\nkey id: {ours}\n"
    folder = tmp_path / "b"
    assert await main("export", inc.channel_name, "-o", str(folder)) == 0
    assert f"signed by {ours}" in capsys.readouterr().out
    monkeypatch.delenv("RETRO_SIGNING_KEY")
    assert await main("verify", str(folder), "--key", public_text(public)) == 0
    assert f"ok   signed by {ours}\n" in capsys.readouterr().out
    monkeypatch.setenv("RETRO_VERIFY_KEYS", f"{public_text(THEIRS.public_key())}, {public_text(public)}")
    assert await main("verify", str(folder)) == 0
    assert f"ok   signed by {ours}\n" in capsys.readouterr().out

    doc = load_document(folder)
    forged(doc, tmp_path / "f")
    shutil.copy(folder / SIGNATURE, tmp_path / "f" / SIGNATURE)
    assert await main("verify", str(tmp_path / "f")) == 1
    out = capsys.readouterr().out
    assert "BAD  signature does not match" in out and "ok   chain: " in out
    assert out.rstrip().endswith(f"FAILED {tmp_path / 'f'}")
    (folder / SIGNATURE).unlink()
    assert await main("verify", str(folder)) == 1
    assert "BAD  unsigned: no SIGNATURE" in capsys.readouterr().out
    monkeypatch.delenv("RETRO_VERIFY_KEYS")
    assert await main("verify", str(folder)) == 0
    assert "ok   unsigned (no SIGNATURE)" in capsys.readouterr().out
    assert await main("verify", str(folder), "--key", "not base64!") == 2
    err = capsys.readouterr().err
    assert err == "retro: configuration error: --key 1 is not base64\n"
    monkeypatch.setenv("RETRO_SIGNING_KEY", "-----BEGIN PRIVATE KEY-----")
    assert await main("keys", "public") == 2
    assert "RETRO_SIGNING_KEY: Value error, the key is PEM" in capsys.readouterr().err


async def main(*argv: str) -> int:
    """Run the console script in a worker thread (it starts its own event loop)."""
    return await asyncio.to_thread(cli.main, list(argv))
