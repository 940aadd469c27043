"""Bundles: written from the database, verified offline, re-rendered byte for byte; tampering is named."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from functools import partial
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
    BundleReport,
    _check_evidence,
    load_document,
    read_manifest,
    render_bundle,
    verify_bundle,
    write_bundle,
)
from bot.postmortem.timeline_picture import timeline_svg
from tests.postmortem_world import document_of, fraud_incident, world


async def _doc(database_url: str) -> Doc:
    async with world(database_url) as w:
        return await document_of(w, await fraud_incident(w, messages=12))


async def _bundle(database_url: str, folder: Path) -> Path:
    return _write(await _doc(database_url), folder)


def _write(doc: Doc, folder: Path) -> Path:
    write_bundle(template_environment(), doc, folder)
    return folder


def _rewrite(folder: Path, change: dict[str, object] | None = None, *, fix_manifest: bool = True) -> None:
    """Edit incident.json like a careful forger would (keeping it canonical and the MANIFEST consistent)."""
    doc = load_document(folder)
    for path, value in (change or {}).items():
        target: object = doc
        *parents, leaf = path.split(".")
        for key in parents:
            target = target[int(key)] if isinstance(target, list) else target[key]  # type: ignore[index]
        target[int(leaf) if isinstance(target, list) else leaf] = value  # type: ignore[index]
    data = (canonical_json(doc) + "\n").encode()
    (folder / DOCUMENT).write_bytes(data)
    if fix_manifest:
        manifest = (folder / MANIFEST).read_text()
        _, digests = read_manifest(folder)
        (folder / MANIFEST).write_text(manifest.replace(digests[DOCUMENT], sha256_hex(data)))


async def test_an_exported_bundle_verifies_and_re_renders_byte_for_byte(database_url: str, tmp_path: Path) -> None:
    folder = await _bundle(database_url, tmp_path / "b")
    assert sorted(p.name for p in folder.iterdir()) == [MANIFEST, "incident.ipynb", DOCUMENT, POSTMORTEM,
                                                       "timeline.png", "timeline.svg"]
    report = verify_bundle(folder)
    assert report.ok, report.checks
    assert any(line.startswith("chain: ") and "entries, head" in line for _, line in report.checks)
    exported = (folder / POSTMORTEM).read_bytes()
    # A different process, with nothing but the bundle: the same bytes.
    assert render_bundle(template_environment(), folder).encode() == exported
    code = "import sys; from pathlib import Path; from bot.postmortem.export import render_bundle; " \
           "from bot.postmortem.draft import template_environment; " \
           "sys.stdout.buffer.write(render_bundle(template_environment(), Path(sys.argv[1])).encode())"
    fresh = subprocess.run([sys.executable, "-c", code, str(folder)], capture_output=True, check=True)
    assert fresh.stdout == exported
    doc = load_document(folder)
    assert (folder / "timeline.svg").read_text() == timeline_svg(doc)
    assert (folder / DOCUMENT).read_text() == canonical_json(doc) + "\n"
    # The PNG is drawn deterministically: another process draws the same bytes from the bundle's document.
    code = "import sys; from pathlib import Path; from bot.postmortem.export import load_document; " \
           "from bot.postmortem.timeline_picture import timeline_png; " \
           "sys.stdout.buffer.write(timeline_png(load_document(Path(sys.argv[1]))))"
    fresh = subprocess.run([sys.executable, "-c", code, str(folder)], capture_output=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": "7"})
    assert fresh.stdout == (folder / "timeline.png").read_bytes() and fresh.stdout.startswith(b"\x89PNG")


async def test_sha256sum_can_check_the_manifest(database_url: str, tmp_path: Path) -> None:
    folder = await _bundle(database_url, tmp_path / "b")
    done = subprocess.run(["sha256sum", "--strict", "-c", MANIFEST], cwd=folder, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count(": OK") == 5


async def test_an_edited_entry_is_named_even_with_a_consistent_manifest(database_url: str, tmp_path: Path) -> None:
    folder = await _bundle(database_url, tmp_path / "b")
    doc = load_document(folder)
    seq = next(e["seq"] for e in doc["entries"] if e["kind"] == "status_changed")
    _rewrite(folder, {f"entries.{seq - 1}.data": {"from": "investigating", "to": "resolved", "reopen": False}})
    report = verify_bundle(folder)
    assert not report.ok
    assert (False, f"chain: entry {seq}: content does not match its hash ({seq - 1} entries verified before it)") \
        in report.checks


async def test_edited_message_text_and_removed_entries_are_named(database_url: str, tmp_path: Path) -> None:
    doc = await _doc(database_url)
    folder = _write(doc, tmp_path / "b")
    seq = next(e["seq"] for e in doc["entries"] if e["kind"] == "message")
    _rewrite(folder, {f"entries.{seq - 1}.text": "nothing to see here"})
    assert any("entry" in line and "text does not match its recorded digest" in line
               for ok, line in verify_bundle(folder).checks if not ok)

    folder = _write(doc, tmp_path / "c")
    _rewrite(folder, {"entries": doc["entries"][:-1]})
    assert any(f"incident records {len(doc['entries'])} entries" in line
               for ok, line in verify_bundle(folder).checks if not ok)


async def test_changed_files_and_evidence_are_named(database_url: str, tmp_path: Path) -> None:
    doc = await _doc(database_url)
    folder = _write(doc, tmp_path / "b")
    (folder / POSTMORTEM).write_text("# a nicer story\n")
    bad = [line for ok, line in verify_bundle(folder).checks if not ok]
    assert len(bad) == 1 and bad[0].startswith(f"{POSTMORTEM}: SHA-256 is ")

    folder = _write(doc, tmp_path / "c")
    _rewrite(folder, {"evidence.1.ref": "s3://features/merchant_risk/2026-03-12"})
    assert [line for ok, line in verify_bundle(folder).checks if not ok] == \
        ["evidence E2: content does not match its SHA-256"]

    folder = _write(doc, tmp_path / "d")
    _rewrite(folder, {"incident.title": "edited"}, fix_manifest=False)
    bad = [line for ok, line in verify_bundle(folder).checks if not ok]
    assert len(bad) == 1 and bad[0].startswith(f"{DOCUMENT}: SHA-256 is ")

    folder = _write(doc, tmp_path / "e")
    (folder / "timeline.svg").unlink()
    assert (False, "timeline.svg: missing") in verify_bundle(folder).checks


def test_a_folder_that_is_not_a_bundle(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="has no MANIFEST"):
        verify_bundle(tmp_path)
    (tmp_path / MANIFEST).write_text("not a line\n")
    with pytest.raises(BundleError, match="line 1"):
        verify_bundle(tmp_path)


async def test_a_malformed_incident_json_is_named_before_anything_renders(
        database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = await _doc(database_url)
    status = next(i for i, e in enumerate(doc["entries"]) if e["kind"] == "status_changed")
    spoiled: dict[str, Callable[[dict[str, Any]], object]] = {
        "the document: missing 'hypotheses'": lambda d: d.pop("hypotheses"),
        "incident: not an object": lambda d: d.update(incident=[]),
        "roles[0]: missing 'user_id'": lambda d: d["roles"][0].pop("user_id"),
        f"entries[{status}].data: missing 'to'": lambda d: d["entries"][status]["data"].pop("to"),
        f"{DOCUMENT} is not a retro-incident/1 or retro-incident/2 or retro-incident/3 document":
            lambda d: d.update(format="someone-elses/2"),
    }
    for n, (named, spoil) in enumerate(spoiled.items()):
        folder = _write(doc, tmp_path / str(n))
        raw = json.loads((folder / DOCUMENT).read_text())
        spoil(raw)
        (folder / DOCUMENT).write_text(canonical_json(raw) + "\n")
        for read in (load_document, verify_bundle, partial(render_bundle, template_environment())):
            with pytest.raises(BundleError, match=re.escape(named)):
                read(folder)
        assert await _main(["render", str(folder), "--check"]) == 2
        assert named in capsys.readouterr().err


async def test_the_command_line_exports_verifies_and_renders(sqlite_database_url: str, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    url = sqlite_database_url
    async with world(url) as w:
        inc = await fraud_incident(w)
    monkeypatch.setenv("DATABASE_URL", url)
    folder = tmp_path / "out"
    assert await _main(["export", inc.channel_name, "-o", str(folder)]) == 0
    assert f"Bundle of #{inc.channel_name} verified: {folder}" in capsys.readouterr().out
    assert await _main(["verify", str(folder)]) == 0
    assert capsys.readouterr().out.rstrip().endswith(f"OK {folder}")
    assert await _main(["render", str(folder), "--check"]) == 0
    said = capsys.readouterr().out
    for name in ("incident.ipynb", "incident.json", "postmortem.md", "timeline.png", "timeline.svg"):
        assert f"identical to {folder / name}" in said
    (folder / "timeline.svg").write_bytes((folder / "timeline.svg").read_bytes().replace(b"</svg>", b"<g/></svg>"))
    assert await _main(["render", str(folder), "--check"]) == 1
    assert f"DIFFERS from {folder / 'timeline.svg'}" in capsys.readouterr().out
    assert await _main(["render", str(folder), "-o", str(tmp_path / "again.md")]) == 0
    assert (tmp_path / "again.md").read_bytes() == (folder / POSTMORTEM).read_bytes()
    assert await _main(["verify", inc.channel_name]) == 0
    doc = json.loads((folder / DOCUMENT).read_text())
    doc["entries"][2]["actor"] = "U0MALLORY"
    (folder / DOCUMENT).write_text(canonical_json(doc) + "\n")
    assert await _main(["verify", str(folder)]) == 1
    out = capsys.readouterr().out
    assert "BAD  chain: entry 3: content does not match its hash" in out and f"FAILED {folder}" in out
    assert await _main(["verify", str(tmp_path)]) == 2


async def _main(argv: list[str]) -> int:
    """Run the console script in a worker thread (it starts its own event loop)."""
    import asyncio

    return await asyncio.to_thread(cli.main, argv)


async def test_a_bundle_without_its_notebook_does_not_verify(database_url: str, tmp_path: Path) -> None:
    folder = await _bundle(database_url, tmp_path / "b")
    (folder / "incident.ipynb").unlink()
    lines = (folder / MANIFEST).read_text().splitlines()
    (folder / MANIFEST).write_text("\n".join(line for line in lines if not line.endswith("incident.ipynb")) + "\n")
    report = verify_bundle(folder)
    assert not report.ok and (False, "incident.ipynb: not listed in MANIFEST") in report.checks


async def test_an_evidence_item_the_chain_never_recorded_does_not_verify(database_url: str, tmp_path: Path) -> None:
    folder = await _bundle(database_url, tmp_path / "b")
    doc = json.loads((folder / DOCUMENT).read_text())
    assert doc["evidence"], "the scenario has evidence"
    doc["entries"] = [e for e in doc["entries"] if e["kind"] != "evidence_added"]
    report = BundleReport()
    _check_evidence(report, doc)
    assert not report.ok and "was never chained (no evidence_added entry)" in report.checks[0][1]
