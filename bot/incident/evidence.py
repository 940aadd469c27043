"""Typed evidence with SHA-256 digests; every item is also a link in the incident's chain."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.canonical import canonical_json, iso, sha256_hex
from bot.errors import NotFoundError, UsageError
from bot.hints import closest, did_you_mean
from bot.record import chain
from bot.timeparse import parse_when
from storage.models import Evidence, Incident
from storage.safetext import storable

KINDS = ("log", "metric", "dashboard", "query", "model", "dataset", "feature-flag", "config", "deploy", "commit",
         "notebook", "file", "alert", "other")
EVIDENCE_USAGE = ("/retro evidence <kind> <ref> [note…] [model=name@ver] [snapshot=…] [from=… to=…] "
                  "[flag=name:value] [at=<when>]  (flag=, model= or snapshot= can stand in for <ref>; kinds: "
                  + ", ".join(KINDS) + ")")
KNOWN_OPTIONS = {"model", "snapshot", "from", "to", "flag", "env", "version", "step", "key", "sha", "url"}
# The options that can stand in for a reference, and the kind each implies when no kind is typed:
# `/retro evidence feature-flag flag=churn_v2:on`, `/retro evidence model=churn@3`.
STAND_INS = {"flag": "feature-flag", "model": "model", "snapshot": "dataset"}
# A word that reads as a reference rather than the first word of a note (`churn_v2:on`, a URL, `churn@3`, a link).
_REF_LIKE = re.compile(r"[:/@.#<]")
_MODEL = re.compile(r"^[\w.\-/]+@[\w.\-]+$")


@dataclass(frozen=True)
class EvidenceInput:
    """A validated evidence request; `at`, when given, is when what it shows happened (kept in the chain)."""

    kind: str
    ref: str
    note: str = ""
    options: dict[str, str] = field(default_factory=dict)
    at: datetime | None = None


def validate(kind: str, ref: str, note: str, options: dict[str, str], *, now: datetime) -> EvidenceInput:
    """Check the kind, the reference and the structured options; normalise time ranges to UTC."""
    kind = _kind(kind)
    ref = ref.strip()
    if not ref:
        raise UsageError(f"Give a reference for the {kind} evidence: a URL, id, query or name.", EVIDENCE_USAGE)
    unknown = sorted(set(options) - KNOWN_OPTIONS)
    if unknown:
        raise UsageError(f"Unknown option(s): {', '.join(f'`{k}=`' for k in unknown)}."
                         f"{did_you_mean(unknown[0], KNOWN_OPTIONS, template='`{}=`')}", EVIDENCE_USAGE)
    opts = dict(options)
    if kind == "model" and "model" not in opts and _MODEL.match(ref):
        opts["model"] = ref
    if "model" in opts and not _MODEL.match(opts["model"]):
        raise UsageError(f"`model={opts['model']}` must look like `name@version`.", EVIDENCE_USAGE)
    if kind == "feature-flag" and "flag" not in opts and ":" in ref:
        opts["flag"] = ref
    if "flag" in opts and not re.fullmatch(r"[^:\s]+:\S+", opts["flag"]):
        raise UsageError(f"`flag={opts['flag']}` must look like `name:value`.", EVIDENCE_USAGE)
    for key in ("from", "to"):
        if key in opts:
            opts[key] = iso(parse_when(opts[key], now=now, usage=EVIDENCE_USAGE)) or ""
    if "from" in opts and "to" in opts and opts["from"] > opts["to"]:
        raise UsageError("`from` is after `to`.", EVIDENCE_USAGE)
    return EvidenceInput(kind, ref, note.strip(), opts)


def _is_kind(word: str) -> bool:
    """Whether a word names a kind, or misspells one (which `_kind` then refuses with a hint)."""
    word = word.strip().lower()
    return word in (*KINDS, "flag") or bool(closest(word, KINDS))


def _kind(typed: str) -> str:
    kind = typed.strip().lower()
    kind = "feature-flag" if kind == "flag" else kind
    if kind not in KINDS:
        raise UsageError(f"Unknown evidence kind `{typed[:40]}`.{did_you_mean(kind, KINDS)} Kinds: {', '.join(KINDS)}.",
                         EVIDENCE_USAGE)
    return kind


def from_words(words: list[str], options: dict[str, str], *, now: datetime) -> EvidenceInput:
    """`<kind> <ref> [note…]` as typed after `/retro evidence`. `flag=`, `model=` or `snapshot=` stands in for the
    reference (the words after the kind are then the note, unless the first reads as a reference), and for the kind
    too when none is typed (`/retro evidence model=churn@3 the candidate`)."""
    stand_in = next((key for key in STAND_INS if options.get(key)), None)
    if not words and stand_in is None:
        raise UsageError(f"Give the kind of evidence and its reference, like `log <link>`. Kinds: {', '.join(KINDS)}.",
                         EVIDENCE_USAGE)
    typed_kind = bool(words) and (stand_in is None or _is_kind(words[0]))
    kind = _kind(words[0]) if typed_kind else STAND_INS[stand_in or ""]
    own = next((key for key, of in STAND_INS.items() if of == kind and options.get(key)), stand_in)
    rest = list(words[1:] if typed_kind else words)
    if own is not None and (not rest or not _REF_LIKE.search(rest[0])):
        return validate(kind, options[own], " ".join(rest), options, now=now)
    if not rest:
        hint = next((f" (or `{key}=`)" for key, of in STAND_INS.items() if of == kind), "")
        raise UsageError(f"Give a reference for the {kind} evidence{hint}: a URL, id, query or name.", EVIDENCE_USAGE)
    return validate(kind, rest[0], " ".join(rest[1:]), options, now=now)


def digest_of(item: Evidence) -> str:
    """SHA-256 over the canonical JSON of the item (custody and artifact digest included)."""
    return sha256_hex(canonical_json({
        "incident_id": item.incident_id, "number": item.number, "kind": item.kind, "ref": item.ref,
        "note": item.note, "options": item.options, "added_by": item.added_by, "added_at": item.added_at,
        "file_id": item.file_id, "file_sha256": item.file_sha256, "status": item.status, "custody": item.custody,
        "media_type": item.media_type,
    }))


def collection_facts(custody: dict[str, Any]) -> dict[str, Any]:
    """For collected evidence: the collector, the artifact's SHA-256 or the error, for the chain entry."""
    collector = custody.get("collector")
    if not isinstance(collector, dict):
        return {}
    facts: dict[str, Any] = {"collector": collector.get("name")}
    if (custody.get("artifact") or {}).get("sha256"):
        facts["artifact_sha256"] = custody["artifact"]["sha256"]
    if custody.get("error"):
        facts["error"] = str(custody["error"])[:300]
    return facts


async def add(session: AsyncSession, *, incident: Incident, item: EvidenceInput, actor: str, now: datetime,
              file_id: str | None = None, file_sha256: str | None = None, status: str = "ok",
              custody: dict[str, Any] | None = None, media_type: str | None = None,
              artifact: bytes | None = None, artifact_path: str | None = None) -> Evidence:
    """Store an evidence item as E<n>, digest it and chain it; commits."""
    assert incident.id is not None
    number = await chain.bump_counter(session, incident.id, "evidence_seq")
    row = Evidence(team_id=incident.team_id, incident_id=incident.id, number=number, kind=item.kind,
                   ref=storable(item.ref), note=storable(item.note),
                   options=item.options, added_by=actor, added_at=now, sha256="", file_id=file_id,
                   file_sha256=file_sha256, status=status, custody=custody or {}, media_type=media_type,
                   artifact=artifact, artifact_path=artifact_path)
    row.sha256 = digest_of(row)
    session.add(row)
    await chain.append(session, incident_id=incident.id, kind="evidence_added", at=now, actor=actor,
                       text=row.note or None, key_event=True,
                       data={"number": number, "kind": item.kind, "ref": row.ref, "options": item.options,
                             "sha256": row.sha256, "file_sha256": file_sha256, "status": status,
                             **collection_facts(row.custody)}, occurred_at=item.at)
    await session.commit()
    return row


async def listing(session: AsyncSession, incident_id: int) -> list[Evidence]:
    """All evidence of an incident in order."""
    rows = await session.exec(select(Evidence).where(Evidence.incident_id == incident_id)
                              .order_by(col(Evidence.number)))
    return list(rows.all())


async def by_number(session: AsyncSession, incident_id: int, number: int) -> Evidence:
    """E<n> of an incident, or a clear error."""
    row = (await session.exec(select(Evidence).where(Evidence.incident_id == incident_id,
                                                     col(Evidence.number) == number))).first()
    if row is None:
        raise NotFoundError(f"No evidence E{number} in this incident.")
    return row


async def resolve_numbers(session: AsyncSession, incident_id: int, numbers: list[int]) -> list[int]:
    """Check that every E<n> exists; a missing one is a clear error."""
    if not numbers:
        return []
    rows = await session.exec(select(Evidence.number).where(Evidence.incident_id == incident_id,
                                                            col(Evidence.number).in_(numbers)))
    missing = sorted(set(numbers) - set(rows.all()))
    if missing:
        raise NotFoundError(f"No evidence {', '.join(f'E{n}' for n in missing)} in this incident.")
    return sorted(set(numbers))


def reproduction_context(items: list[Evidence]) -> dict[str, list[str]]:
    """Model versions, data snapshots, flags, deploys, commits and time ranges named in evidence."""
    ctx: dict[str, list[str]] = {"models": [], "datasets": [], "flags": [], "deploys": [], "commits": [],
                                 "configs": [], "time_ranges": []}

    def put(key: str, value: str) -> None:
        if value and value not in ctx[key]:
            ctx[key].append(value)

    for e in items:
        if e.status != "ok":
            continue
        o = e.options
        put("models", o.get("model", ""))
        put("datasets", o.get("snapshot", "") or (e.ref if e.kind == "dataset" else ""))
        put("datasets", o.get("baseline", ""))
        put("flags", o.get("flag", "") or (e.ref if e.kind == "feature-flag" else ""))
        put("deploys", e.ref if e.kind == "deploy" else "")
        put("commits", o.get("sha", "") or (e.ref if e.kind == "commit" else ""))
        put("configs", e.ref if e.kind == "config" else "")
        if "from" in o or "to" in o:
            put("time_ranges", f"{o.get('from', '…')} → {o.get('to', '…')} (E{e.number})")
    return ctx
