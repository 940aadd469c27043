"""Incident bundles: write (postmortem, incident.json, timeline, notebook, attachments, MANIFEST, SIGNATURE), verify.

A bundle to verify comes from outside: every path it names stays inside its folder (no absolute paths, no `..`, no
links out), every file is size-capped before it is read, and a malformed file is one BundleError line, never a
traceback.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any, NotRequired, cast, get_origin, get_type_hints

import jinja2
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy.orm import configure_mappers

from bot.canonical import canonical_json
from bot.incident.evidence import digest_of
from bot.postmortem import bundle_signature, bundle_sources
from bot.postmortem.bundle_read import MAX_DOCUMENT_BYTES, file_sha256, inside, read_capped, read_text, shown
from bot.postmortem.bundle_read import BundleError as BundleError
from bot.postmortem.bundle_signature import SIGNATURE, SignatureFileError
from bot.postmortem.bundle_sources import write_file
from bot.postmortem.doc_check import DocumentError, check_document
from bot.postmortem.doc_types import Doc, Entry, EvidenceRecord, IncidentHeader
from bot.postmortem.document import LEGACY_FORMATS, READABLE
from bot.postmortem.draft import render
from bot.postmortem.entry_data import payload
from bot.postmortem.notebook import NOTEBOOK, notebook_bytes
from bot.postmortem.picture import png, svg
from bot.postmortem.timeline_picture import layout
from bot.record.chain import verify_entries
from storage.models import Evidence, TimelineEntry

BUNDLE_FORMAT = "retro-bundle/2"  # 2: the notebook is a required file (of documents from retro-incident/3 on)
BUNDLE_FORMATS = ("retro-bundle/1", BUNDLE_FORMAT)
MANIFEST = "MANIFEST"
DOCUMENT = "incident.json"
POSTMORTEM = "postmortem.md"
PICTURE = "timeline.svg"
PICTURE_PNG = "timeline.png"
_LINE = re.compile(r"^([0-9a-f]{64})  (\S.*)$")
_META = re.compile(r"^# ([a-z-]+): (.*)$")


def bundle_files(env: jinja2.Environment, doc: Doc) -> dict[str, bytes]:
    """The bundle's content files, each a pure function of the document (the PNG and the notebook from format
    retro-incident/3 on)."""
    pic = layout(doc)  # laid out once, drawn twice
    files = {DOCUMENT: (canonical_json(doc) + "\n").encode("utf-8"), POSTMORTEM: render(env, doc).encode("utf-8"),
             PICTURE: svg(pic).encode("utf-8")}
    if doc["format"] in LEGACY_FORMATS:
        return files
    return {**files, PICTURE_PNG: png(pic), NOTEBOOK: notebook_bytes(doc)}


def manifest_text(doc: Doc, digests: Mapping[str, str]) -> str:
    """MANIFEST: metadata as comments, then one `sha256  name` line per file (`sha256sum -c MANIFEST` works)."""
    inc = doc["incident"]
    lines = ["# Retro incident bundle. Check the files with `sha256sum -c MANIFEST`; check everything (hash chain",
             "# and evidence digests too) with `retro verify <this folder>`.",
             f"# format: {BUNDLE_FORMAT}", f"# incident: {inc['channel_name']}",
             f"# chain-head: {inc['head_hash']}", f"# entries: {inc['entry_count']}"]
    lines += [f"{sha}  {name}" for name, sha in sorted(digests.items())]
    return "\n".join(lines) + "\n"


def write_bundle(env: jinja2.Environment, doc: Doc, out: Path, signing_key: Ed25519PrivateKey | None = None,
                 attached: Mapping[str, bytes | Path] | None = None) -> dict[str, str]:
    """Render everything first, then write the files (and the `attached` artifacts and inputs), the MANIFEST and
    (with a key) the SIGNATURE last; returns each file's SHA-256."""
    files: dict[str, bytes | Path] = {**(attached or {}), **bundle_files(env, doc)}
    out.mkdir(parents=True, exist_ok=True)
    digests = {name: write_file(out / name, data) for name, data in files.items()}
    manifest = manifest_text(doc, digests).encode("utf-8")
    write_file(out / MANIFEST, manifest)
    (out / SIGNATURE).unlink(missing_ok=True)  # an earlier export's signature would not match this one
    if signing_key is not None:
        head = doc["incident"]["head_hash"]
        write_file(out / SIGNATURE, bundle_signature.signature_text(signing_key, manifest, head).encode("utf-8"))
    return digests


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


def manifest_of(folder: Path) -> str:
    """The text of a bundle's MANIFEST."""
    if not folder.is_dir():
        raise BundleError(f"{folder} is not a folder")
    text = read_text(folder, MANIFEST)
    if text is None:
        raise BundleError(f"{folder} has no {MANIFEST}; it is not a Retro bundle")
    return text


def read_manifest(folder: Path, text: str | None = None) -> tuple[dict[str, str], dict[str, str]]:
    """(metadata, {file name: sha256}) from a bundle's MANIFEST; every name is checked to stay in the bundle."""
    text = manifest_of(folder) if text is None else text
    meta: dict[str, str] = {}
    digests: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if m := _META.match(line):
            meta[m.group(1)] = m.group(2).strip()
        elif m := _LINE.match(line):
            name = m.group(2)
            try:
                inside(folder, name)
            except BundleError as exc:
                raise BundleError(f"{MANIFEST} line {number}: {exc}") from None
            if name in digests:
                raise BundleError(f"{MANIFEST} line {number} lists {shown(name)} a second time")
            if name in (MANIFEST, SIGNATURE):
                raise BundleError(f"{MANIFEST} line {number} lists {name}, which it cannot vouch for")
            digests[name] = m.group(1)
        elif line.strip() and not line.startswith("#"):
            raise BundleError(f"{MANIFEST} line {number} is not `<sha256>  <file>`")
    return meta, digests


def load_document(folder: Path) -> Doc:
    """The bundle's incident document, its structure checked (a malformed or foreign file is a BundleError)."""
    try:
        data = read_capped(folder, DOCUMENT, MAX_DOCUMENT_BYTES)
        if data is None:
            raise BundleError(f"{folder} has no {DOCUMENT}")
        raw: object = json.loads(data.decode("utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise BundleError(f"cannot read {DOCUMENT}: {exc}") from None
    if not isinstance(raw, dict) or raw.get("format") not in READABLE:
        raise BundleError(f"{DOCUMENT} is not a {' or '.join(READABLE)} document")
    try:
        return check_document(raw)
    except DocumentError as exc:
        raise BundleError(f"{DOCUMENT} is not a well-formed {raw['format']} document: {exc}") from None


_SCALARS: dict[Any, tuple[type, ...]] = {str: (str,), int: (int,), bool: (bool,), str | None: (str, type(None)),
                                         int | None: (int, type(None))}


@cache
def _scalar_plan(shape: Any) -> tuple[tuple[str, tuple[type, ...], bool, bool], ...]:
    """(key, allowed kinds, is a time, may be absent) for each scalar field of a TypedDict."""
    hints = get_type_hints(shape, include_extras=True)
    optional = {key for key, hint in hints.items() if get_origin(hint) is NotRequired}
    return tuple((key, _SCALARS[hint], key == "at" or key.endswith("_at"), key in optional)
                 for key, hint in get_type_hints(shape).items() if hint in _SCALARS)


def _check_scalars(where: str, value: Any, shape: Any) -> None:
    """The scalar fields the verifier computes with have their declared kinds (doc_check checks the structure)."""
    for key, kinds, is_time, optional in _scalar_plan(shape):
        if optional and key not in value:
            continue
        found = value.get(key)
        if not isinstance(found, kinds) or (int in kinds and isinstance(found, bool)):
            wanted = " or ".join("null" if k is type(None) else k.__name__ for k in kinds)
            raise BundleError(f"{DOCUMENT}: {where}.{key} is not {wanted}")
        if is_time and isinstance(found, str):
            try:
                datetime.fromisoformat(found)
            except ValueError:
                raise BundleError(f"{DOCUMENT}: {where}.{key} is not an ISO 8601 time") from None


def check_values(doc: Doc) -> None:
    """Raise a BundleError naming the first field the chain, evidence or render would trip on."""
    _check_scalars("incident", doc["incident"], IncidentHeader)
    for i, entry in enumerate(doc["entries"]):
        _check_scalars(f"entries[{i}]", entry, Entry)
    for i, item in enumerate(doc["evidence"]):
        _check_scalars(f"evidence[{i}]", item, EvidenceRecord)


def entry_of(d: Entry) -> TimelineEntry:
    """A document entry as the chain verifier reads it. The verifier only reads attributes, so a plain
    namespace stands in for the ORM row (ten times cheaper to make, which matters for long incidents)."""
    row = SimpleNamespace(**d)
    row.at = datetime.fromisoformat(d["at"])
    row.occurred_at = datetime.fromisoformat(d["occurred_at"]) if "occurred_at" in d else None
    return cast(TimelineEntry, row)


def _check_files(report: BundleReport, folder: Path, digests: dict[str, str], fmt: object, bundle: object) -> None:
    current = () if fmt in LEGACY_FORMATS else (PICTURE_PNG, NOTEBOOK) if bundle == BUNDLE_FORMAT else (PICTURE_PNG,)
    for name in (DOCUMENT, POSTMORTEM, PICTURE, *current):
        if name not in digests:
            report.add(False, f"{name}: not listed in {MANIFEST}")
    for name, expected in sorted(digests.items()):
        actual = file_sha256(folder, name)
        if actual is None:
            report.add(False, f"{name}: missing")
            continue
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
        if chained.get(item["number"]) != item["sha256"]:  # an item the chain never recorded is no evidence either
            report.add(False, f"evidence E{item['number']}: " + ("SHA-256 differs from the one chained when it was "
                              "added" if item["number"] in chained else "was never chained (no evidence_added entry)"))
            return
    report.add(True, f"evidence: {len(doc['evidence'])} digest(s) match")


def _check_signature(report: BundleReport, folder: Path, manifest: str, doc: Doc,
                     trusted: Sequence[Ed25519PublicKey]) -> None:
    text = read_text(folder, SIGNATURE)
    try:
        signed = None if text is None else bundle_signature.parse(text)
    except SignatureFileError as exc:
        raise BundleError(str(exc)) from None
    report.add(*bundle_signature.check(signed, manifest.encode("utf-8"), doc["incident"]["head_hash"], trusted))


def verify_bundle(folder: Path, trusted: Sequence[Ed25519PublicKey] = ()) -> BundleReport:
    """Check the MANIFEST digests, the hash chain, every evidence digest and the signature, offline; name the
    first bad one. Given trusted public keys, the bundle must be signed by one of them."""
    manifest = manifest_of(folder)
    meta, digests = read_manifest(folder, manifest)
    configure_mappers()  # rows are rebuilt without a session, so the ORM may not have set itself up yet
    report = BundleReport()
    if meta.get("format") not in BUNDLE_FORMATS:
        report.add(False, f"{MANIFEST}: format is {meta.get('format')!r}, expected {' or '.join(BUNDLE_FORMATS)}")
    doc = load_document(folder)
    _check_files(report, folder, digests, doc["format"], meta.get("format"))
    check_values(doc)
    for ok, line in bundle_sources.check(doc, digests):
        report.add(ok, line)
    try:
        _check_chain(report, doc, meta)
        _check_evidence(report, doc)
    except (TypeError, ValueError, KeyError, AttributeError, OverflowError) as exc:
        raise BundleError(f"{DOCUMENT} holds a value of the wrong kind ({type(exc).__name__}: {exc})") from None
    _check_signature(report, folder, manifest, doc, trusted)
    return report


def open_bundle(folder: Path) -> tuple[Doc, bundle_sources.BundleSources]:
    """A bundle's document (its structure and values checked) and its files as the source of re-runs."""
    doc = load_document(folder)
    check_values(doc)
    return doc, bundle_sources.BundleSources(folder, doc)


def render_bundle(env: jinja2.Environment, folder: Path) -> str:
    """The postmortem re-rendered from the bundle's incident.json (identical to the exported one)."""
    doc = load_document(folder)
    check_values(doc)
    try:
        return render(env, doc)
    except (TypeError, ValueError, KeyError, AttributeError, jinja2.TemplateError) as exc:
        raise BundleError(f"cannot render {DOCUMENT} ({type(exc).__name__}: {exc})") from None
