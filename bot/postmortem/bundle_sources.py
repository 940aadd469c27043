"""What a bundle carries besides its document: each evidence item's stored artifact (`evidence/E<n>/<name>`) and the
inputs its analyses read (`inputs/<sha256>`), written beside the document, checked by `retro verify` against the
digests the chain holds, and read back to run the analyses again offline.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bot.collectors import artifacts
from bot.config import Settings
from bot.errors import RetroError
from bot.insights.analyses import DATACHECK, Analysis
from bot.postmortem.bundle_read import MAX_FILE_BYTES, BundleError, read_capped, regular_file
from bot.postmortem.doc_types import Doc, EvidenceRecord
from storage.models import Evidence

EVIDENCE_DIR = "evidence"
INPUTS_DIR = "inputs"
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
_EVIDENCE_FILE = re.compile(r"^evidence/E(\d+)/[^/]+$")
_INPUT_FILE = re.compile(r"^inputs/([0-9a-f]{64})$")


def _artifact_record(item: EvidenceRecord) -> dict[str, Any] | None:
    art = item["custody"].get("artifact") if isinstance(item["custody"], dict) else None
    if item["status"] != "ok" or not isinstance(art, dict) or not isinstance(art.get("sha256"), str):
        return None
    return art


def artifact_file(item: EvidenceRecord) -> str | None:
    """The bundle path of an evidence item's stored artifact (None when it has none)."""
    art = _artifact_record(item)
    if art is None:
        return None
    name = _SAFE.sub("-", str(art.get("name") or "")).strip(".-")[:80] or "artifact"
    return f"{EVIDENCE_DIR}/E{item['number']}/{name}"


def input_file(sha256: str) -> str:
    """The bundle path of a kept analysis input."""
    return f"{INPUTS_DIR}/{sha256}"


def analyses(doc: Doc, kinds: Iterable[str] | None = None, numbers: Iterable[int] | None = None) -> list[Analysis]:
    """The analyses the document's evidence records, in evidence order (only those of `kinds` / `numbers`)."""
    wanted, which = (set(kinds) if kinds is not None else None), (set(numbers) if numbers is not None else None)
    found = [a for item in doc["evidence"] if item["status"] == "ok"
             if (a := Analysis.of(item["number"], item["custody"])) is not None]
    return [a for a in found if (wanted is None or a.kind in wanted) and (which is None or a.number in which)]


def input_digests(doc: Doc) -> list[str]:
    """The digests of every input the document's data checks read, each once, in order."""
    seen: dict[str, None] = {}
    for a in analyses(doc, [DATACHECK]):
        for side in ("baseline", "current"):
            sha = str((a.inputs.get(side) or {}).get("sha256", ""))
            if re.fullmatch(r"[0-9a-f]{64}", sha):
                seen.setdefault(sha, None)
    return list(seen)


def attachments(settings: Settings, doc: Doc, rows: Iterable[Evidence]) -> dict[str, bytes | Path]:
    """The files a bundle carries beside its document, from the record: artifacts (inline bytes or files of the
    artifacts folder) and kept inputs. What is missing from the store is left out; verify then says so."""
    by_number = {row.number: row for row in rows}
    out: dict[str, bytes | Path] = {}
    for item in doc["evidence"]:
        name, row = artifact_file(item), by_number.get(item["number"])
        if name is None or row is None:
            continue
        try:
            out[name] = artifacts.located(settings, row)
        except RetroError:  # a missing or misplaced artifact is left out: verify then says it is missing
            continue
    for sha in input_digests(doc):
        path = artifacts.input_path(settings, sha)
        if path.is_file():
            out[input_file(sha)] = path
    return out


def check(doc: Doc, digests: dict[str, str]) -> list[tuple[bool, str]]:
    """Each attached file's MANIFEST digest against what the chain recorded for it: an artifact against its evidence
    item's custody, an input against its own name."""
    items = {item["number"]: item for item in doc["evidence"]}
    lines: list[tuple[bool, str]] = []
    for name, sha in sorted(digests.items()):
        if m := _INPUT_FILE.match(name):
            ok = m.group(1) == sha
            lines.append((ok, f"{name}: " + ("matches its name" if ok else "content does not match its name")))
        elif m := _EVIDENCE_FILE.match(name):
            item = items.get(int(m.group(1)))
            art = _artifact_record(item) if item is not None else None
            ok = art is not None and artifact_file(item) == name and art["sha256"] == sha  # type: ignore[arg-type]
            lines.append((ok, f"{name}: " + ("matches the digest its evidence item recorded" if ok
                                             else "is not the artifact its evidence item recorded")))
        elif name.startswith((EVIDENCE_DIR + "/", INPUTS_DIR + "/")):
            lines.append((False, f"{name}: not a name a bundle gives its attached files"))
    return lines


class BundleSources:
    """A bundle folder as the source of re-runs: its kept inputs and evidence artifacts, each checked against the
    digest the chain recorded before it is used."""

    def __init__(self, folder: Path, doc: Doc) -> None:
        self.folder, self.doc = folder, doc
        self._items = {item["number"]: item for item in doc["evidence"]}

    def analyses(self, kinds: Iterable[str] | None = None) -> list[Analysis]:
        """The analyses the bundle's document records."""
        return analyses(self.doc, kinds)

    def input_file(self, sha256: str) -> Path | None:
        """Where the bundle keeps the input of this digest (a regular file inside the bundle; the re-run hashes it)."""
        if not re.fullmatch(r"[0-9a-f]{64}", sha256):
            return None
        try:
            path = regular_file(self.folder, input_file(sha256), MAX_FILE_BYTES)
            return None if path is None else path.resolve()  # the file checked, not a link swapped in later
        except (BundleError, OSError):
            return None

    def artifact(self, number: int) -> bytes | None:
        """Evidence E<number>'s artifact from the bundle, when it is there and matches its recorded digest."""
        item = self._items.get(number)
        name = artifact_file(item) if item is not None else None
        if item is None or name is None:
            return None
        try:
            data = read_capped(self.folder, name, MAX_FILE_BYTES)
        except BundleError:
            return None
        art = _artifact_record(item)
        ok = data is not None and art is not None and hashlib.sha256(data).hexdigest() == art["sha256"]
        return data if ok else None


def write_file(path: Path, data: bytes | Path) -> str:
    """Write a bundle file (copying a Path in blocks; a link at its name is replaced) and return its SHA-256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)  # a link left at this name is replaced, never written through
    if isinstance(data, bytes):
        path.write_bytes(data)
        return hashlib.sha256(data).hexdigest()
    digest = hashlib.sha256()
    with data.open("rb") as src, path.open("xb") as dst:
        while chunk := src.read(1024 * 1024):
            digest.update(chunk)
            dst.write(chunk)
    return digest.hexdigest()
