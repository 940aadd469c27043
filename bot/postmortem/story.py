"""The incident as a story (documents of format retro-incident/3 on): the key timeline, the full log without Retro's
own announcements, and the path of its severity. Pure functions of the incident document.

The key timeline is what happened, when it happened: the milestones (impact start, detection, mitigation,
resolution), the declaration, status and severity changes, verdicts, the trigger, notes (`/retro note`) and the
messages people marked (pinned, or the key-event reaction), as last edited. Retro's bookkeeping (roles, evidence
added, triage versions, action items, drafts, reviews) stays in the appendix, where each Retro post that only
announces an entry already listed is left out.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TypedDict

from bot.postmortem.doc_types import Doc, Entry
from bot.postmortem.document import by_happening, happened, insight_at, key_seqs, parse_time

STORY_KINDS = frozenset({"declared", "status_changed", "severity_changed", "hypothesis_verdict", "note", "trigger"})
SAID_KINDS = frozenset({"message", "bot_message"})
MILESTONE_LABELS = {"impact_started_at": "Impact started", "detected_at": "Detected", "mitigated_at": "Mitigated",
                    "resolved_at": "Resolved"}
VERDICT_WORDS = {"confirmed": "confirmed", "refuted": "ruled out", "inconclusive": "inconclusive"}


@dataclass(frozen=True, slots=True)
class Moment:
    """One row of the key timeline: when it happened, when it was recorded (if later), who, what (Slack-style text),
    and the milestone it marks, if any. `seq` is None for a milestone that is no entry of its own."""

    at: str
    actor: str | None
    text: str
    milestone: str | None = None
    recorded: str | None = None
    seq: int | None = None
    kind: str = ""


def retro_actors(entries: list[Entry]) -> set[str]:
    """The user ids Retro posted as (its posts carry `retro: true` in their data)."""
    return {e["actor"] for e in entries if e["kind"] == "bot_message" and e["data"].get("retro") and e["actor"]}


def own_post(entry: Entry, retro: set[str]) -> bool:
    """Whether the entry is one of Retro's own posts (an announcement of an entry of its own)."""
    return entry["kind"] == "bot_message" and (bool(entry["data"].get("retro")) or entry["actor"] in retro)


def _latest_texts(entries: list[Entry]) -> dict[int, str | None]:
    """The text each edited or deleted message ended with (None when deleted), by the message's seq."""
    out: dict[int, str | None] = {}
    for e in entries:
        if e["refers_to"] is not None and e["kind"] == "message_edited":
            out[e["refers_to"]] = e["text"] or ""
        elif e["refers_to"] is not None and e["kind"] == "message_deleted":
            out[e["refers_to"]] = None
    return out


def _words(entry: Entry, doc: Doc, edits: dict[int, str | None]) -> tuple[str, str | None]:
    """(text, milestone) of a story entry; message texts are Slack's raw text as sent."""
    kind, data, text = entry["kind"], entry["data"], entry["text"] or ""
    reason = f": {text}" if text else ""
    if kind == "declared":
        return f"Incident declared: {text}", None
    if kind == "status_changed":
        to = str(data.get("to"))
        label = to.capitalize() if to in ("mitigated", "resolved", "closed") else None
        return f"Status {data.get('from')} → {to}{reason}", label
    if kind == "severity_changed":
        before, after = int(str(data.get("from"))), int(str(data.get("to")))
        how = "escalated" if after < before else "lowered"
        return f"Severity {how}: SEV{before} → SEV{after}{reason}", None
    if kind == "hypothesis_verdict":
        number = data.get("number")
        h = next((h for h in doc["hypotheses"] if h["number"] == number), None)
        verdict = str(data.get("verdict"))
        refs = ", ".join(f"E{n}" for n in data.get("evidence") or [])  # type: ignore[union-attr]
        statement = f" — {h['statement']}" if h else ""
        with_refs = f" (evidence {refs})" if refs else ""
        first = verdict == "confirmed" and happened(entry) == insight_at(doc)
        return f"H{number} {VERDICT_WORDS.get(verdict, verdict)}{statement}{reason}{with_refs}", \
            "Cause found" if first else None
    if kind == "trigger":
        number = data.get("hypothesis")
        h = next((h for h in doc["hypotheses"] if h["number"] == number), None)
        return f"{h['statement'] if h else ''}{(' — ' if h and text else '') + text}", "Trigger"
    if kind in SAID_KINDS:
        latest = edits.get(entry["seq"], text)
        return ("(message deleted)" if latest is None else latest), None
    return text, None


def key_timeline(doc: Doc) -> list[Moment]:
    """The key timeline, in the order things happened (milestones without an entry of their own included)."""
    entries = doc["entries"]
    key, retro, edits = key_seqs(entries), retro_actors(entries), _latest_texts(entries)
    rows: list[Moment] = []
    for e in by_happening(entries):
        said = e["kind"] in SAID_KINDS and e["seq"] in key and not own_post(e, retro)
        if e["kind"] not in STORY_KINDS and not said or e["kind"] == "trigger" and "occurred_at" not in e:
            continue  # a trigger stands on the timeline only when `at=` said when it happened
        text, milestone = _words(e, doc, edits)
        at = happened(e)
        rows.append(Moment(at, e["actor"], text, milestone, None if at == e["at"] else e["at"], e["seq"], e["kind"]))
    marked = {(m.milestone, m.at) for m in rows if m.milestone}
    inc = doc["incident"]
    for n, m in enumerate(rows):  # detected when declared (the default): one row says both
        if m.kind == "declared" and m.at == inc["detected_at"] and m.milestone is None:
            rows[n] = replace(m, milestone="Detected")
            marked.add(("Detected", m.at))
    triage = doc["triage"]["fields"] if doc["triage"] else None
    for field, label in MILESTONE_LABELS.items():
        value = inc[field]  # type: ignore[literal-required]
        if value is None or (label, value) in marked:
            continue
        detail = (triage.get("detection") if field == "detected_at" else triage.get("customer_impact")
                  if field == "impact_started_at" else None) if triage else None
        rows.append(Moment(value, None, str(detail or ""), label, kind="milestone"))
    return sorted(rows, key=lambda m: (parse_time(m.at), m.seq if m.seq is not None else -1))


def resolution(doc: Doc) -> list[Moment]:
    """How service was restored: each change of status to mitigated or resolved, with its reason (the entry's text)."""
    return [Moment(happened(e), e["actor"], e["text"] or "", str(e["data"].get("to")).capitalize(),
                   None if happened(e) == e["at"] else e["at"], e["seq"], e["kind"])
            for e in by_happening(doc["entries"])
            if e["kind"] == "status_changed" and e["data"].get("to") in ("mitigated", "resolved")]


def full_log(doc: Doc) -> tuple[list[Entry], int]:
    """Every entry in the order things happened but Retro's own posts, and how many of those were left out."""
    retro = retro_actors(doc["entries"])
    kept = [e for e in by_happening(doc["entries"]) if not own_post(e, retro)]
    return kept, len(doc["entries"]) - len(kept)


class SeverityStep(TypedDict):
    """A level the incident held, and for how long (seconds; None while it still holds without an end)."""

    level: int
    since: str
    seconds: int | None


class SeverityPath(TypedDict):
    """Where the severity started, its peak (the most severe level, SEV1 being the most) and each level held."""

    declared: int
    peak: int
    current: int
    changed: bool
    steps: list[SeverityStep]


def severity_path(doc: Doc) -> SeverityPath:
    """The severity over time, from the declaration (its happened time) through every change to the resolution."""
    inc = doc["incident"]
    declared = next((e for e in doc["entries"] if e["kind"] == "declared"), None)
    level = int(str(declared["data"].get("severity", inc["severity"]))) if declared else inc["severity"]
    start = happened(declared) if declared else inc["created_at"]
    changes = [e for e in by_happening(doc["entries"]) if e["kind"] == "severity_changed"]
    points: list[tuple[str, int]] = [(start, level)]
    points += [(happened(e), int(str(e["data"].get("to")))) for e in changes]
    end = inc["resolved_at"] or inc["closed_at"]
    steps: list[SeverityStep] = []
    for n, (at, lvl) in enumerate(points):
        until = points[n + 1][0] if n + 1 < len(points) else end
        seconds = _seconds(at, until)
        if steps and steps[-1]["level"] == lvl and seconds is not None and steps[-1]["seconds"] is not None:
            steps[-1]["seconds"] = steps[-1]["seconds"] + seconds
        else:
            steps.append({"level": lvl, "since": at, "seconds": seconds})
    levels = [lvl for _, lvl in points]
    return {"declared": level, "peak": min(levels), "current": inc["severity"], "changed": len(set(levels)) > 1,
            "steps": steps}


def _seconds(start: str, end: str | None) -> int | None:
    if end is None:
        return None
    a, b = parse_time(start), parse_time(end)
    assert a is not None and b is not None
    return max(0, int((b - a).total_seconds()))
