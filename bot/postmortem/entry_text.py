"""A timeline entry as one line of Slack-style text, worded by its kind (what the postmortem and its picture show)."""

from __future__ import annotations

from bot.postmortem.doc_types import Doc, Entry
from bot.postmortem.entry_data import payload
from bot.record.timeline import readable_text


def _reason(text: str) -> str:
    return f": {text}" if text else ""


def _hypothesis(entry: Entry, text: str) -> str:
    kind = entry["kind"]
    if kind == "hypothesis_proposed":
        return f"H{payload(entry, 'hypothesis_proposed')['number']} proposed: {text}"
    if kind == "hypothesis_test_planned":
        plan = payload(entry, "hypothesis_test_planned")
        return f"H{plan['number']} test planned: {text} (expected: {plan['expected']})"
    if kind == "hypothesis_verdict":
        verdict = payload(entry, "hypothesis_verdict")
        refs = ", ".join(f"E{n}" for n in verdict["evidence"])
        was = f" (replaces the earlier verdict: {verdict['replaces']})" if verdict.get("replaces") else ""
        return f"H{verdict['number']} {verdict['verdict']}{was}{f' with {refs}' if refs else ''}{_reason(text)}"
    return f"{kind.replace('_', ' ').capitalize()} H{entry['data'].get('number')}{_reason(text)}"


def _action(entry: Entry, text: str) -> str:
    kind = entry["kind"]
    if kind == "action_added":
        added = payload(entry, "action_added")
        late = ", added after the incident was closed" if added.get("after_close") else ""
        return (f"A{added['number']} added: {text} (owner <@{added['owner']}>, due {added['due']}, "
                f"{added['kind']}{late})")
    if kind == "action_done":
        return f"A{payload(entry, 'action_done')['number']} done{_reason(text)}"
    if kind == "action_dropped":
        return f"A{payload(entry, 'action_dropped')['number']} dropped{_reason(text)}"
    if kind == "action_reassigned":
        moved = payload(entry, "action_reassigned")
        return f"A{moved['number']} reassigned to <@{moved['owner']}>"
    if kind == "action_due_changed":
        due = payload(entry, "action_due_changed")
        return f"A{due['number']} due date {due['previous']} → {due['due']}"
    if kind == "action_snoozed":
        snoozed = payload(entry, "action_snoozed")
        return f"A{snoozed['number']} reminders snoozed for {snoozed['days']} day(s)"
    if (verified := _verification(entry)) is not None:
        return verified
    return f"{kind.replace('_', ' ').capitalize()} A{entry['data'].get('number')}{_reason(text)}"


def _verification(entry: Entry) -> str | None:
    """A mitigation's checks, verification, regression and settings (None for other kinds)."""
    kind, data = entry["kind"], entry["data"]
    n = data.get("number")
    if kind == "action_check":
        kept = f" (E{data.get('evidence')})" if data.get("evidence") else ""
        what = "scheduled re-check" if data.get("scheduled") else "check"
        return f"A{n} {data.get('stage')} {what} ({data.get('method')}): {data.get('outcome')}{kept}"
    if kind == "action_verified":
        return f"A{n} verified: every stage passed ({' → '.join(data.get('stages') or [])})"  # type: ignore[arg-type]
    if kind == "action_regressed":
        return f"A{n} regressed: its {data.get('stage')} check failed after it was verified"
    if kind == "action_verify_set":
        said = [f"rollback: {data.get('rollback')}"] if data.get("rollback") else []
        if secs := int(str(data.get("recheck_seconds") or 0)):
            said.append(f"metric checks again every {f'{secs // 86400}d' if secs % 86400 == 0 else f'{secs // 3600}h'}")
        return f"A{n} verification noted ({'; '.join(said)})"
    return None


def _change(entry: Entry, text: str) -> str | None:
    """Status, severity, triage and draft entries (None for other kinds)."""
    kind = entry["kind"]
    if kind == "status_changed":
        status = payload(entry, "status_changed")
        return f"Status {status['from']} → {status['to']}{_reason(text)}"
    if kind == "severity_changed":
        severity = payload(entry, "severity_changed")
        return f"Severity SEV{severity['from']} → SEV{severity['to']}{_reason(text)}"
    if kind == "triage_submitted":
        return f"Triage template v{payload(entry, 'triage_submitted')['version']} submitted"
    if kind == "postmortem_drafted":
        return f"Postmortem draft v{payload(entry, 'postmortem_drafted')['version']}"
    return None


def _file(entry: Entry) -> str:
    hashed = payload(entry, "file_hashed")
    f = hashed["file"]
    digest = f"sha256 {hashed['sha256'][:16]}…" if hashed.get("sha256") else f"not hashed: {hashed.get('error')}"
    return f"File {f.get('name') or f.get('id')} ({digest})"


def _learned(entry: Entry, text: str) -> str | None:
    """Lessons, the trigger, contributing factors and the review (None for other kinds)."""
    kind, data = entry["kind"], entry["data"]
    named = f"H{data['hypothesis']}" if isinstance(data.get("hypothesis"), int) else ""
    if kind == "lesson":
        return f"Lesson ({data.get('kind')}): {text}"
    if kind in ("trigger", "contributing_factor"):
        label = "Trigger" if kind == "trigger" else "Contributing factor"
        return f"{label}: {named}{': ' if named and text else ''}{text}"
    if kind == "review_requested":
        asked = ", ".join(f"<@{r}>" for r in data.get("reviewers") or [])  # type: ignore[union-attr]
        return f"Review of draft v{data.get('version')} asked of {asked} (owner <@{data.get('owner')}>)"
    if kind == "review_verdict":
        said = "approved" if data.get("verdict") == "approved" else "changes asked for"
        return f"Review: draft v{data.get('version')} {said}{_reason(text)}"
    return None


def describe(entry: Entry, doc: Doc) -> str:
    """One timeline entry as a line of Slack-style text (user ids as `<@U…>`, user text as people read it)."""
    kind = entry["kind"]
    text = readable_text(kind, entry["text"]) or ""
    if kind == "message":
        return text
    if kind == "bot_message":
        return f"(Retro) {text}"
    if kind.startswith("hypothesis_"):
        return _hypothesis(entry, text)
    if kind.startswith("action_"):
        return _action(entry, text)
    if kind == "declared":
        return f"Incident declared: {text}"
    if kind == "note":
        return f"Note{' (added after the incident was closed)' if entry['data'].get('after_close') else ''}: {text}"
    if kind == "message_edited":
        return f"Edited message #{entry['refers_to']}: {text}"
    if kind == "message_deleted":
        return f"Deleted message #{entry['refers_to']}"
    if kind == "key_event_marked":
        return f"Marked #{entry['refers_to']} as a key event ({payload(entry, 'key_event_marked')['how']})"
    if (change := _change(entry, text)) is not None:
        return change
    if kind == "role_assigned":
        role = payload(entry, "role_assigned")
        names = {r["id"]: r["name"] for r in doc["labels"]["roles"]}
        was = f" (was <@{role['previous']}>)" if role["previous"] else ""
        return f"{names.get(role['role'], role['role'])}: <@{role['user']}>{was}"
    if kind == "evidence_added":
        added = payload(entry, "evidence_added")
        return f"Evidence E{added['number']} ({added['kind']}): {added['ref']}{' — ' + text if text else ''}"
    if kind == "file_hashed":
        return _file(entry)
    if (learned := _learned(entry, text)) is not None:
        return learned
    return f"{kind.replace('_', ' ').capitalize()}{_reason(text)}"
