"""Reading a bundle from outside: paths stay in the bundle, sizes are capped, malformed files are one line (exit 2)."""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.app import cli
from bot.canonical import canonical_json, sha256_hex
from bot.postmortem.doc_types import Doc
from bot.postmortem.draft import template_environment
from bot.postmortem.export import (
    DOCUMENT,
    MANIFEST,
    POSTMORTEM,
    BundleError,
    render_bundle,
    verify_bundle,
    write_bundle,
)
from tests.postmortem_world import document_of, fraud_incident, world


@pytest.fixture
async def doc(sqlite_database_url: str) -> Doc:
    """A recorded incident's document."""
    async with world(sqlite_database_url) as w:
        return await document_of(w, await fraud_incident(w, messages=6))


@pytest.fixture
def bundle(doc: Doc, tmp_path: Path) -> Path:
    """An exported bundle in its own folder (tmp_path holds things outside it)."""
    folder = tmp_path / "bundle"
    write_bundle(template_environment(), doc, folder)
    return folder


def list_in_manifest(folder: Path, name: str, data: bytes = b"") -> None:
    """Add a `sha256  name` line, as someone handing over a doctored bundle would."""
    with (folder / MANIFEST).open("a") as f:
        f.write(f"{sha256_hex(data)}  {name}\n")


async def refused(folder: Path, named: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Reading the bundle fails with one line naming `named`, and `retro verify` exits 2 with that line."""
    with pytest.raises(BundleError, match=re.escape(named)):
        verify_bundle(folder)
    assert await asyncio.to_thread(cli.main, ["verify", str(folder)]) == 2
    out = capsys.readouterr()
    assert out.out.count("\n") == 1 and out.out.startswith(f"FAILED {folder}: ") and named in out.out
    assert "Traceback" not in out.out + out.err


async def test_manifest_paths_that_leave_the_bundle_are_refused(bundle: Path, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("outside the bundle")
    manifest = (bundle / MANIFEST).read_text()
    for name in ("../secret.txt", str(secret), "sub/../../secret.txt"):
        (bundle / MANIFEST).write_text(manifest)
        list_in_manifest(bundle, name, secret.read_bytes())
        await refused(bundle, f"{name!r} is outside the bundle", capsys)
    (bundle / MANIFEST).write_text(manifest)
    (bundle / "evidence.txt").symlink_to(secret)
    list_in_manifest(bundle, "evidence.txt", secret.read_bytes())
    await refused(bundle, "'evidence.txt' is a link to a path outside the bundle", capsys)


async def test_names_that_cannot_be_followed_are_one_line(bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = (bundle / MANIFEST).read_text()
    list_in_manifest(bundle, "evidence\x00.txt")
    await refused(bundle, "'evidence\\x00.txt' has a control character in its name", capsys)
    (bundle / MANIFEST).write_text(manifest)
    (bundle / "loop").symlink_to(bundle / "loop")
    list_in_manifest(bundle, "loop")
    await refused(bundle, "'loop' cannot be followed (a link loop", capsys)
    (bundle / MANIFEST).write_text(manifest)
    list_in_manifest(bundle, "x" * 5000)
    await refused(bundle, f"'{'x' * 77}...' cannot be", capsys)


async def test_an_incident_json_that_links_out_is_refused(bundle: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    elsewhere = tmp_path / "elsewhere.json"
    (bundle / DOCUMENT).rename(elsewhere)
    (bundle / DOCUMENT).symlink_to(elsewhere)
    await refused(bundle, f"{DOCUMENT!r} is a link to a path outside the bundle", capsys)


async def test_oversized_and_special_files_are_refused_before_they_are_read(
        bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    huge = bundle / POSTMORTEM
    with huge.open("r+b") as f:
        f.truncate(600 * 1024 * 1024)  # sparse: nothing is written, and nothing may be read
    await refused(bundle, f"{POSTMORTEM} is {600 * 1024 * 1024} bytes, over the", capsys)
    huge.unlink()
    os.mkfifo(huge)  # reading a pipe would wait forever
    await refused(bundle, f"{POSTMORTEM} is not a regular file", capsys)


async def test_an_oversized_document_or_manifest_is_refused(bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with (bundle / DOCUMENT).open("r+b") as f:
        f.truncate(100 * 1024 * 1024)
    await refused(bundle, f"{DOCUMENT} is {100 * 1024 * 1024} bytes, over the", capsys)
    with (bundle / MANIFEST).open("r+b") as f:
        f.truncate(2 * 1024 * 1024)
    await refused(bundle, f"{MANIFEST} is {2 * 1024 * 1024} bytes, over the", capsys)


async def test_a_malformed_manifest_is_one_line(bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = (bundle / MANIFEST).read_bytes()
    (bundle / MANIFEST).write_bytes(manifest + b"\xff\xfe not text\n")
    await refused(bundle, f"{MANIFEST} is not UTF-8 text", capsys)
    (bundle / MANIFEST).write_bytes(manifest)
    list_in_manifest(bundle, POSTMORTEM)
    await refused(bundle, f"lists '{POSTMORTEM}' a second time", capsys)


async def test_wrong_kinds_of_values_in_incident_json_are_named(doc: Doc, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    spoiled: dict[str, Callable[[dict[str, Any]], object]] = {
        f"{DOCUMENT}: entries[2].seq is not int": lambda d: d["entries"][2].update(seq="3"),
        f"{DOCUMENT}: entries[0].at is not str": lambda d: d["entries"][0].update(at=1773320400),
        f"{DOCUMENT}: entries[1].at is not an ISO 8601 time": lambda d: d["entries"][1].update(at="yesterday"),
        f"{DOCUMENT}: incident.head_hash is not str": lambda d: d["incident"].update(head_hash=["a"]),
        f"{DOCUMENT}: incident.entry_count is not int": lambda d: d["incident"].update(entry_count=True),
        f"{DOCUMENT}: evidence[0].number is not int": lambda d: d["evidence"][0].update(number={"n": 1}),
        f"{DOCUMENT}: evidence[0].added_at is not str": lambda d: d["evidence"][0].update(added_at=None),
    }
    for n, (named, spoil) in enumerate(spoiled.items()):
        folder = tmp_path / str(n)
        write_bundle(template_environment(), doc, folder)
        raw = json.loads((folder / DOCUMENT).read_text())
        spoil(raw)
        (folder / DOCUMENT).write_text(canonical_json(raw) + "\n")
        await refused(folder, named, capsys)
        with pytest.raises(BundleError, match=re.escape(named)):
            render_bundle(template_environment(), folder)
        assert await asyncio.to_thread(cli.main, ["render", str(folder)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and named in err


async def test_a_document_nested_too_deep_to_parse_is_one_line(bundle: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    (bundle / DOCUMENT).write_text("[" * 200_000 + "]" * 200_000)
    await refused(bundle, f"cannot read {DOCUMENT}: maximum recursion depth exceeded", capsys)
