"""What the postmortem templates see: the incident document arranged into sections (a pure function of it)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bot.incident.evidence import reproduction_context
from bot.postmortem.document import Doc, as_of, key_seqs
from bot.postmortem.measures import incident_metrics
from storage.models import Evidence

REPRO_LABELS = (("models", "Model versions"), ("datasets", "Data snapshots"), ("flags", "Feature flags"),
                ("deploys", "Deploys"), ("commits", "Commits"), ("configs", "Configuration"),
                ("time_ranges", "Time ranges"))
VERDICT_ORDER = ("confirmed", "refuted", "inconclusive", "open")
_SLACK_REF = re.compile(r"<([^<>\s][^<>]*)>")


def slack_to_markdown(text: str, people: dict[str, str]) -> str:
    """Slack markup as readable Markdown: mentions by name, links as links, no raw HTML left."""
    def sub(m: re.Match[str]) -> str:
        target, _, label = m.group(1).partition("|")
        if target.startswith("@"):
            return "@" + (people.get(target[1:]) or label.lstrip("@") or target[1:])
        if target.startswith("#"):
            return "#" + (label or target[1:])
        if target.startswith("!"):
            name = target[1:]
            if name.startswith(("subteam^", "date^")):
                return label or "@group"
            return "@" + name
        if target.startswith(("http://", "https://", "mailto:")):
            return f"[{label}]({target})" if label else target
        return m.group(0).replace("<", "&lt;")

    return _SLACK_REF.sub(sub, text).replace("<", "&lt;")


def _reason(text: str) -> str:
    return f": {text}" if text else ""


def _hypothesis(kind: str, data: dict[str, Any], text: str) -> str:
    h = f"H{data.get('number')}"
    if kind == "hypothesis_proposed":
        return f"{h} proposed: {text}"
    if kind == "hypothesis_test_planned":
        return f"{h} test planned: {text} (expected: {data.get('expected')})"
    if kind == "hypothesis_verdict":
        refs = ", ".join(f"E{n}" for n in data.get("evidence") or [])
        return f"{h} {data.get('verdict')}{f' with {refs}' if refs else ''}{_reason(text)}"
    return f"{kind.replace('_', ' ').capitalize()} {h}{_reason(text)}"


def _action(kind: str, data: dict[str, Any], text: str) -> str:
    a = f"A{data.get('number')}"
    if kind == "action_added":
        return f"{a} added: {text} (owner <@{data.get('owner')}>, due {data.get('due')}, {data.get('kind')})"
    if kind == "action_done":
        return f"{a} done{_reason(text)}"
    if kind == "action_dropped":
        return f"{a} dropped{_reason(text)}"
    if kind == "action_reassigned":
        return f"{a} reassigned to <@{data.get('owner')}>"
    if kind == "action_due_changed":
        return f"{a} due date {data.get('previous')} → {data.get('due')}"
    if kind == "action_snoozed":
        return f"{a} reminders snoozed for {data.get('days')} day(s)"
    return f"{kind.replace('_', ' ').capitalize()} {a}{_reason(text)}"


def describe(entry: dict[str, Any], doc: Doc) -> str:
    """One timeline entry as a line of Slack-style text (user ids as `<@U…>`, user text verbatim)."""
    kind, data, text = entry["kind"], entry["data"], entry.get("text") or ""
    if kind == "message":
        return text
    if kind == "bot_message":
        return f"(Retro) {text}"
    if kind.startswith("hypothesis_"):
        return _hypothesis(kind, data, text)
    if kind.startswith("action_"):
        return _action(kind, data, text)
    if kind == "declared":
        return f"Incident declared: {text}"
    if kind == "note":
        return f"Note: {text}"
    if kind == "message_edited":
        return f"Edited message #{entry['refers_to']}: {text}"
    if kind == "message_deleted":
        return f"Deleted message #{entry['refers_to']}"
    if kind == "key_event_marked":
        return f"Marked #{entry['refers_to']} as a key event ({data.get('how', 'marked')})"
    if kind == "status_changed":
        return f"Status {data.get('from')} → {data.get('to')}{_reason(text)}"
    if kind == "severity_changed":
        return f"Severity SEV{data.get('from')} → SEV{data.get('to')}{_reason(text)}"
    if kind == "triage_submitted":
        return f"Triage template v{data.get('version')} submitted"
    if kind == "postmortem_drafted":
        return f"Postmortem draft v{data.get('version')}"
    if kind == "role_assigned":
        names = {r["id"]: r["name"] for r in doc["labels"]["roles"]}
        was = f" (was <@{data['previous']}>)" if data.get("previous") else ""
        return f"{names.get(data.get('role', ''), data.get('role'))}: <@{data.get('user')}>{was}"
    if kind == "evidence_added":
        return f"Evidence E{data.get('number')} ({data.get('kind')}): {data.get('ref')}{' — ' + text if text else ''}"
    if kind == "file_hashed":
        f = data.get("file") or {}
        digest = f"sha256 {str(data['sha256'])[:16]}…" if data.get("sha256") else f"not hashed: {data.get('error')}"
        return f"File {f.get('name') or f.get('id')} ({digest})"
    return f"{kind.replace('_', ' ').capitalize()}{_reason(text)}"


@dataclass(frozen=True, slots=True)
class Line:
    """One timeline entry as the templates show it (an object: attribute lookups in templates stay cheap)."""

    seq: int
    at: str
    actor: str | None
    kind: str
    thread: bool
    key: bool
    text: str


def _line(entry: dict[str, Any], doc: Doc, key: set[int]) -> Line:
    return Line(entry["seq"], entry["at"], entry["actor"], entry["kind"], entry["thread_ts"] is not None,
                entry["seq"] in key, describe(entry, doc))


def _evidence_rows(doc: Doc) -> list[Evidence]:
    fields = ("number", "kind", "ref", "options", "status")
    return [Evidence(**{k: e[k] for k in fields}) for e in doc["evidence"]]


def _hypotheses(doc: Doc) -> list[dict[str, Any]]:
    out = []
    for h in doc["hypotheses"]:
        refs = ", ".join(f"E{n}" for n in h["verdict_evidence"])
        out.append({**h, "evidence_refs": refs})
    return out


def context(doc: Doc) -> dict[str, Any]:
    """The template context: the document itself plus its sections, metrics and reproduction details."""
    inc = doc["incident"]
    entries = doc["entries"]
    key = key_seqs(entries)
    lines = [_line(e, doc, key) for e in entries]
    held = {r["role"]: r["user_id"] for r in doc["roles"] if r["ended_at"] is None}
    roles = [{"id": r["id"], "name": r["name"], "user": held.get(r["id"])} for r in doc["labels"]["roles"]]
    roles += [{"id": rid, "name": rid, "user": uid} for rid, uid in sorted(held.items())
              if rid not in {r["id"] for r in doc["labels"]["roles"]}]
    triage = None
    if doc["triage"] is not None:
        fields = doc["triage"]["fields"]
        triage = {**doc["triage"], "rows": [{"key": f["key"], "label": f["label"], "value": fields.get(f["key"])}
                                            for f in doc["labels"]["triage"]]}
    hypotheses = _hypotheses(doc)
    confirmed = sorted((h for h in hypotheses if h["verdict"] == "confirmed"),
                       key=lambda h: (h["verdict_at"] or "", h["number"]))
    repro = reproduction_context(_evidence_rows(doc))
    metrics = incident_metrics(doc)
    return {
        "doc": doc,
        "incident": inc,
        "labels": doc["labels"],
        "timezone": doc["timezone"],
        "people": doc["people"],
        "roles": roles,
        "role_history": doc["roles"],
        "triage": triage,
        "entries": lines,
        "key_events": [line for line in lines if line.key],
        "evidence": doc["evidence"],
        "hypotheses": sorted(hypotheses, key=lambda h: (VERDICT_ORDER.index(h["verdict"])
                                                       if h["verdict"] in VERDICT_ORDER else 9, h["number"])),
        "confirmed": confirmed,
        "root_cause": confirmed[0] if confirmed else None,
        "contributing": confirmed[1:],
        "actions": doc["actions"],
        "metrics": metrics,
        "spans": {s["key"]: s for s in metrics["spans"]},
        "repro": [{"label": label, "found": repro[k]} for k, label in REPRO_LABELS if repro[k]],
        "chain": {"head": inc["head_hash"], "count": inc["entry_count"]},
        "as_of": as_of(doc),
    }
