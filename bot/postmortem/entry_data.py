"""The `data` of each kind of timeline entry, as the recording code writes it.

An entry's `data` is open JSON in the document (`dict[str, JSON]`): a kind not listed here, or a key beyond the
ones listed, may appear. `payload` gives the typed view of the kinds the postmortem reads; `SHAPES` names the shape
of every kind Retro records, and loading a bundle checks each entry's required keys against it.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict, overload

from bot.postmortem.doc_types import JSON, Entry
from bot.postmortem.entry_shapes import LATER_SHAPES


class Numbered(TypedDict):
    """Entries about a hypothesis (H<n>) or an action item (A<n>) carry its number."""

    number: int


class PreviousPlan(TypedDict):
    """The test plan a new one replaced."""

    criteria: str | None
    expected: str | None
    plan: str | None


class HypothesisPlanned(Numbered):
    """`hypothesis_test_planned` (the plan itself is the entry's text)."""

    after_verdict: bool
    criteria: str | None
    expected: str
    previous: PreviousPlan | None


class HypothesisVerdict(Numbered):
    """`hypothesis_verdict` (the note is the entry's text); `insight_at` is the incident's time to insight after it."""

    evidence: list[int]
    insight_at: str | None
    previous: str
    replaces: NotRequired[str]  # the verdict it replaced, kept in the history (entries since the history began)
    verdict: str


class ActionAdded(Numbered):
    """`action_added` (the title is the entry's text); `after_close` when the incident was closed then."""

    after_close: NotRequired[bool]
    due: str
    hypothesis: int | None
    kind: str
    owner: str


class ActionReassigned(Numbered):
    """`action_reassigned`: the previous and the new owner."""

    owner: str
    previous: str


class ActionDueChanged(Numbered):
    """`action_due_changed`: the previous and the new due date."""

    due: str
    previous: str


class ActionSnoozed(Numbered):
    """`action_snoozed`: for how many days, until when."""

    days: int
    until: str


class ActionEscalated(Numbered):
    """`action_escalated`: an overdue item brought to the commander."""

    commander: str | None
    due: str
    overdue_days: int | None
    owner: str


class Declared(TypedDict):
    """`declared` (the title is the entry's text)."""

    category: str
    channel: str
    description: str
    models: list[str]
    private: bool
    severity: int


class RoleAssigned(TypedDict):
    """`role_assigned`: who holds the role now, and who held it before."""

    previous: str | None
    role: str
    user: str


class Posted(TypedDict):
    """`message` and `bot_message`: the Slack files shared with it and its permalink, when there are any; `retro`
    on Retro's own posts (since format retro-incident/3)."""

    files: NotRequired[list[dict[str, JSON]]]
    permalink: NotRequired[str]
    retro: NotRequired[bool]


class Edited(TypedDict):
    """`message_edited`."""

    edited_ts: NotRequired[str]


class KeyEventMarked(TypedDict):
    """`key_event_marked`: how the message was marked (a pin, a reaction)."""

    how: str


# `from` is a keyword, so these two are spelled as calls.
StatusChanged = TypedDict("StatusChanged", {"from": str, "reopen": bool, "to": str})
StatusChanged.__doc__ = """`status_changed` (the reason is the entry's text)."""
SeverityChanged = TypedDict("SeverityChanged", {"from": int, "to": int})
SeverityChanged.__doc__ = """`severity_changed` (the reason is the entry's text)."""


class TriageSubmitted(TypedDict):
    """`triage_submitted`: the form as submitted and which fields changed."""

    changed: list[str]
    fields: dict[str, JSON]
    version: int


class EvidenceAdded(Numbered):
    """`evidence_added` (the note is the entry's text); collected evidence adds the collector's facts."""

    artifact_sha256: NotRequired[str]
    collector: NotRequired[JSON]
    error: NotRequired[str]
    file_sha256: str | None
    kind: str
    options: dict[str, str]
    ref: str
    sha256: str
    status: str


class FileHashed(TypedDict):
    """`file_hashed`: a Slack file's metadata (open) and its digest, or why it could not be hashed."""

    error: NotRequired[str]
    file: dict[str, JSON]
    message_ts: str | None
    sha256: NotRequired[str]


class ChartPosted(TypedDict):
    """`chart_posted`: the chart of an evidence item, uploaded to the channel."""

    evidence: int
    files: list[dict[str, JSON]]


class ReminderFailed(TypedDict):
    """`reminder_failed`: a reminder given up on."""

    attempts: int
    error: str
    number: int | None
    reminder: int
    reminder_kind: str


class RetentionPurged(TypedDict):
    """`retention_purged`: message texts removed by the retention policy."""

    entries: int
    retention_days: int


class PostmortemDrafted(TypedDict):
    """`postmortem_drafted`: what the draft was rendered from and what the blameless check found."""

    blameless_findings: int
    bytes: int
    entries: int
    head: str
    sha256: str
    version: int


class Lesson(TypedDict):
    """`lesson` (the lesson is the entry's text): `well`, `wrong` or `lucky`."""

    kind: str


class MarkedCause(TypedDict):
    """`trigger` and `contributing_factor` (words in the entry's text): the hypothesis it names, if any."""

    hypothesis: int | None


class ReviewRequested(TypedDict):
    """`review_requested`: the postmortem's owner, the reviewers asked and the draft version then."""

    owner: str
    reviewers: list[str]
    version: int


class ReviewVerdict(TypedDict):
    """`review_verdict` (the note is the entry's text): `approved` or `changes`, on which draft version."""

    verdict: str
    version: int


class Empty(TypedDict):
    """Kinds whose entry says everything in its text (`message_deleted`)."""


class Note(TypedDict):
    """`note` (its text is the entry's text); `after_close` when it was added while the incident was closed."""

    after_close: NotRequired[bool]


SHAPES: dict[str, object] = {
    "declared": Declared, "role_assigned": RoleAssigned, "message": Posted, "bot_message": Posted,
    "message_edited": Edited, "message_deleted": Empty, "key_event_marked": KeyEventMarked, "note": Note,
    "status_changed": StatusChanged, "severity_changed": SeverityChanged, "triage_submitted": TriageSubmitted,
    "evidence_added": EvidenceAdded, "file_hashed": FileHashed, "chart_posted": ChartPosted,
    "hypothesis_proposed": Numbered, "hypothesis_test_planned": HypothesisPlanned,
    "hypothesis_verdict": HypothesisVerdict, "action_added": ActionAdded, "action_done": Numbered,
    "action_dropped": Numbered, "action_reassigned": ActionReassigned, "action_due_changed": ActionDueChanged,
    "action_snoozed": ActionSnoozed, "action_escalated": ActionEscalated, "reminder_failed": ReminderFailed,
    "retention_purged": RetentionPurged, "postmortem_drafted": PostmortemDrafted, "lesson": Lesson,
    "trigger": MarkedCause, "contributing_factor": MarkedCause, "review_requested": ReviewRequested,
    "review_verdict": ReviewVerdict, **LATER_SHAPES,
}


@overload
def payload(entry: Entry, kind: Literal["role_assigned"]) -> RoleAssigned: ...
@overload
def payload(entry: Entry, kind: Literal["key_event_marked"]) -> KeyEventMarked: ...
@overload
def payload(entry: Entry, kind: Literal["status_changed"]) -> StatusChanged: ...
@overload
def payload(entry: Entry, kind: Literal["severity_changed"]) -> SeverityChanged: ...
@overload
def payload(entry: Entry, kind: Literal["triage_submitted"]) -> TriageSubmitted: ...
@overload
def payload(entry: Entry, kind: Literal["postmortem_drafted"]) -> PostmortemDrafted: ...
@overload
def payload(entry: Entry, kind: Literal["evidence_added"]) -> EvidenceAdded: ...
@overload
def payload(entry: Entry, kind: Literal["file_hashed"]) -> FileHashed: ...
@overload
def payload(entry: Entry, kind: Literal["hypothesis_proposed", "action_done", "action_dropped"]) -> Numbered: ...
@overload
def payload(entry: Entry, kind: Literal["hypothesis_test_planned"]) -> HypothesisPlanned: ...
@overload
def payload(entry: Entry, kind: Literal["hypothesis_verdict"]) -> HypothesisVerdict: ...
@overload
def payload(entry: Entry, kind: Literal["action_added"]) -> ActionAdded: ...
@overload
def payload(entry: Entry, kind: Literal["action_reassigned"]) -> ActionReassigned: ...
@overload
def payload(entry: Entry, kind: Literal["action_due_changed"]) -> ActionDueChanged: ...
@overload
def payload(entry: Entry, kind: Literal["action_snoozed"]) -> ActionSnoozed: ...
def payload(entry: Entry, kind: str) -> Any:
    """The entry's data as the shape of its kind; the kind named must be the entry's own."""
    if entry["kind"] != kind:
        raise ValueError(f"entry {entry['seq']} is {entry['kind']}, not {kind}")
    return entry["data"]
