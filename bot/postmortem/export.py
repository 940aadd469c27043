"""Incident bundles: write (postmortem, canonical incident.json, timeline.svg, MANIFEST), verify, re-render."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import jinja2
from sqlalchemy.orm import configure_mappers

from bot.canonical import canonical_json, sha256_hex
from bot.incident.evidence import digest_of
from bot.postmortem.doc_check import DocumentError, check_document
from bot.postmortem.doc_types import Doc, Entry
from bot.postmortem.document import FORMAT
from bot.postmortem.draft import render
from bot.postmortem.entry_data import payload
from bot.postmortem.timeline_picture import timeline_svg
from bot.record.chain import verify_entries
from storage.models import Evidence, TimelineEntry

BUNDLE_FORMAT = "retro-bundle/1"
MANIFEST = "MANIFEST"
DOCUMENT = "incident.json"
POSTMORTEM = "postmortem.md"
PICTURE = "timeline.svg"
_LINE = re.compile(r"^([0-9a-f]{64})  (\S.*)$")
_META = re.compile(r"^# ([a-z-]+): (.*)$")


class BundleError(Exception):
    """A bundle cannot be read at all (no folder, no MANIFEST, an unreadable or malformed incident.json)."""


def bundle_files(env: jinja2.Environment, doc: Doc) -> dict[str, bytes]:
    """The bundle's content files, each a pure function of the document."""
    return {
        DOCUMENT: (canonical_json(doc) + "\n").encode("utf-8"),
        POSTMORTEM: render(env, doc).encode("utf-8"),
        PICTURE: timeline_svg(doc).encode("utf-8"),
    }


def manifest_text(doc: Doc, files: dict[str, bytes]) -> str:
    """MANIFEST: metadata as comments, then one `sha256  name` line per file (`sha256sum -c MANIFEST` works)."""
    inc = doc["incident"]
    lines = ["# Retro incident bundle. Check the files with `sha256sum -c MANIFEST`; check everything (hash chain",
             "# and evidence digests too) with `retro verify <this folder>`.",
             f"# format: {BUNDLE_FORMAT}", f"# incident: {inc['channel_name']}",
             f"# chain-head: {inc['head_hash']}", f"# entries: {inc['entry_count']}"]
    lines += [f"{sha256_hex(data)}  {name}" for name, data in sorted(files.items())]
    return "\n".join(lines) + "\n"


def write_bundle(env: jinja2.Environment, doc: Doc, out: Path) -> dict[str, str]:
    """Render everything first, then write the files and the MANIFEST last; returns each file's SHA-256."""
    files = bundle_files(env, doc)
    out.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (out / name).write_bytes(data)
    (out / MANIFEST).write_text(manifest_text(doc, files), encoding="utf-8")
    return {name: sha256_hex(data) for name, data in files.items()}


@dataclass
class BundleReport:
    """What verifying a bundle found: a line per check, and the first problem of each kind."""

    checks: list[tuple[bool, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every check passed."""
        return bool(self.checks) and all(ok for ok, _ in self.checks)

    def add(self, ok: bool, line: str) -> None:
        """Record one check."""
        self.checks.append((ok, line))


def read_manifest(folder: Path) -> tuple[dict[str, str], dict[str, str]]:
    """(metadata, {file name: sha256}) from a bundle's MANIFEST."""
    path = folder / MANIFEST
    if not folder.is_dir():
        raise BundleError(f"{folder} is not a folder")
    if not path.is_file():
        raise BundleError(f"{folder} has no {MANIFEST}; it is not a Retro bundle")
    meta: dict[str, str] = {}
    digests: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if m := _META.match(line):
            meta[m.group(1)] = m.group(2).strip()
        elif m := _LINE.match(line):
            digests[m.group(2)] = m.group(1)
        elif line.strip() and not line.startswith("#"):
            raise BundleError(f"{MANIFEST} line {number} is not `<sha256>  <file>`")
    return meta, digests


def load_document(folder: Path) -> Doc:
    """The bundle's incident document, its structure checked (a malformed or foreign file is a BundleError)."""
    try:
        raw: object = json.loads((folder / DOCUMENT).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BundleError(f"cannot read {DOCUMENT}: {exc}") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise BundleError(f"{DOCUMENT} is not a {FORMAT} document")
    try:
        return check_document(raw)
    except DocumentError as exc:
        raise BundleError(f"{DOCUMENT} is not a well-formed {FORMAT} document: {exc}") from None


def entry_of(d: Entry) -> TimelineEntry:
    """A document entry as the chain verifier reads it. The verifier only reads attributes, so a plain
    namespace stands in for the ORM row (ten times cheaper to make, which matters for long incidents)."""
    row = SimpleNamespace(**d)
    row.at = datetime.fromisoformat(d["at"])
    return cast(TimelineEntry, row)


def _check_files(report: BundleReport, folder: Path, digests: dict[str, str]) -> None:
    for name in (DOCUMENT, POSTMORTEM, PICTURE):
        if name not in digests:
            report.add(False, f"{name}: not listed in {MANIFEST}")
    for name, expected in sorted(digests.items()):
        path = folder / name
        if not path.is_file():
            report.add(False, f"{name}: missing")
            continue
        actual = sha256_hex(path.read_bytes())
        report.add(actual == expected, f"{name}: " + ("SHA-256 matches" if actual == expected
                                                      else f"SHA-256 is {actual}, {MANIFEST} says {expected}"))


def _check_chain(report: BundleReport, doc: Doc, meta: dict[str, str]) -> None:
    inc = doc["incident"]
    chain = verify_entries((entry_of(e) for e in doc["entries"]), expected_head=inc["head_hash"],
                           expected_count=inc["entry_count"])
    if chain.ok:
        report.add(True, f"chain: {chain.count} entries, head {chain.head}")
    else:
        report.add(False, f"chain: entry {chain.bad_seq}: {chain.reason} ({chain.count} entries verified before it)")
    head = meta.get("chain-head")
    if head is not None and head != inc["head_hash"]:
        report.add(False, f"chain: {MANIFEST} names head {head}, {DOCUMENT} has {inc['head_hash']}")


def _check_evidence(report: BundleReport, doc: Doc) -> None:
    added = [payload(e, "evidence_added") for e in doc["entries"] if e["kind"] == "evidence_added"]
    chained = {a["number"]: a["sha256"] for a in added}
    for item in doc["evidence"]:
        row = Evidence.model_construct(
            incident_id=item["incident_id"], number=item["number"], kind=item["kind"], ref=item["ref"],
            note=item["note"], options=item["options"], added_by=item["added_by"],
            added_at=datetime.fromisoformat(item["added_at"]), file_id=item["file_id"],
            file_sha256=item["file_sha256"], status=item["status"], custody=item["custody"],
            media_type=item["media_type"], artifact_path=item["artifact_path"])
        digest = digest_of(row)
        if digest != item["sha256"]:
            report.add(False, f"evidence E{item['number']}: content does not match its SHA-256")
            return
        if item["number"] in chained and chained[item["number"]] != item["sha256"]:
            report.add(False, f"evidence E{item['number']}: SHA-256 differs from the one chained when it was added")
            return
    report.add(True, f"evidence: {len(doc['evidence'])} digest(s) match")


def verify_bundle(folder: Path) -> BundleReport:
    """Check the MANIFEST digests, the hash chain and every evidence digest, offline; name the first bad one."""
    meta, digests = read_manifest(folder)
    configure_mappers()  # rows are rebuilt without a session, so the ORM may not have set itself up yet
    report = BundleReport()
    if meta.get("format") != BUNDLE_FORMAT:
        report.add(False, f"{MANIFEST}: format is {meta.get('format')!r}, expected {BUNDLE_FORMAT}")
    _check_files(report, folder, digests)
    doc = load_document(folder)
    _check_chain(report, doc, meta)
    _check_evidence(report, doc)
    return report


def render_bundle(env: jinja2.Environment, folder: Path) -> str:
    """The postmortem re-rendered from the bundle's incident.json (identical to the exported one)."""
    return render(env, load_document(folder))
