"""The shape of the incident document: TypedDicts over plain JSON-safe dicts.

The document stays a plain dict (canonical JSON, hashing, incident.json and re-rendering are unchanged); these
types only let the type checker see what each part holds. Times are canonical ISO text
(`2026-03-12T13:52:00.000000Z`), dates `YYYY-MM-DD`. Keys are listed in canonical (sorted) order, the order
`document.build` produces them in and a reader of incident.json gets them back in.
"""

from __future__ import annotations

from typing import NotRequired, TypeAlias, TypedDict

# Any JSON value, for the parts whose shape is open (collector custody records, Slack file metadata).
JSON: TypeAlias = str | int | float | bool | None | list["JSON"] | dict[str, "JSON"]


class IncidentHeader(TypedDict):
    """The incident row as the document holds it, with the snapshot's entry count and chain head."""

    category: str
    channel_id: str
    channel_name: str
    closed_at: str | None
    created_at: str
    declared_by: str
    declared_in: str
    description: str
    detected_at: str | None
    entry_count: int
    head_hash: str
    id: int
    impact_started_at: str | None
    insight_at: str | None
    mitigated_at: str | None
    models: list[str]
    private: bool
    resolved_at: str | None
    severity: int
    status: str
    team_id: str
    title: str


class RoleLabel(TypedDict):
    """A role of the team's catalog."""

    id: str
    name: str


class TriageLabel(TypedDict):
    """A field of the triage template and its question."""

    key: str
    label: str


class Labels(TypedDict):
    """Names from the team's catalog, so rendering needs no configuration."""

    category: str
    roles: list[RoleLabel]
    severity: str
    severity_criteria: str
    triage: list[TriageLabel]


class RoleRecord(TypedDict):
    """One role assignment (ended when handed over)."""

    assigned_at: str
    assigned_by: str
    ended_at: str | None
    role: str
    user_id: str


class TriageFields(TypedDict):
    """The triage form as submitted: text fields (empty when left blank) and times (None when not given;
    `mitigated_at` only in submissions made since the template had it)."""

    affected: str
    containment: str
    customer_impact: str
    detected_at: str | None
    detection: str
    impact_start: str | None
    mitigated_at: NotRequired[str | None]
    what_happened: str


class TriageRecord(TypedDict):
    """The last submitted triage template."""

    fields: TriageFields
    submitted_at: str
    submitted_by: str
    version: int


class Entry(TypedDict):
    """One timeline entry, exactly as chained; `data` depends on `kind` (see bot.postmortem.entry_data). `at` is
    when it was recorded; `occurred_at`, present only when given with `at=`, is when what it records happened."""

    actor: str | None
    at: str
    data: dict[str, JSON]
    hash: str
    key_event: bool
    kind: str
    occurred_at: NotRequired[str]
    prev_hash: str
    refers_to: int | None
    seq: int
    slack_ts: str | None
    text: str | None
    text_sha256: str | None
    thread_ts: str | None


class EvidenceRecord(TypedDict):
    """One evidence item with its digest; `custody` is the collector's open record (empty when linked by hand)."""

    added_at: str
    added_by: str
    artifact_path: str | None
    custody: dict[str, JSON]
    file_id: str | None
    file_sha256: str | None
    incident_id: int
    kind: str
    media_type: str | None
    note: str
    number: int
    options: dict[str, str]
    ref: str
    sha256: str
    status: str


class VerdictRecord(TypedDict):
    """A verdict a later one replaced: who reached it, when (`decided_at`, given with `at=`) and when it was
    recorded, the evidence and the note."""

    decided_at: str
    decided_by: str
    evidence: list[int]
    note: str | None
    recorded_at: str
    verdict: str


class HypothesisRecord(TypedDict):
    """One hypothesis, its test plan and its verdict (`open` until one is recorded); `earlier_verdicts`, present
    only when the verdict changed, holds the ones it replaced, the first first."""

    criteria: str | None
    earlier_verdicts: NotRequired[list[VerdictRecord]]
    expected: str | None
    number: int
    proposed_at: str
    proposed_by: str
    statement: str
    test_plan: str | None
    verdict: str
    verdict_at: str | None
    verdict_by: str | None
    verdict_evidence: list[int]
    verdict_note: str | None


class ActionRecord(TypedDict):
    """One action item; `after_close`, present only when true, marks one added while the incident was closed."""

    after_close: NotRequired[bool]
    close_note: str | None
    closed_at: str | None
    created_at: str
    created_by: str
    due: str
    hypothesis: int | None
    kind: str
    number: int
    owner: str
    status: str
    title: str


class FindingRecord(TypedDict):
    """A phrasing the blameless check flagged in the draft, noted next to its sentence wherever it renders."""

    reframed: str | None
    rule: str
    sentence: str
    suggestion: str
    why: str


class RelatedRecord(TypedDict):
    """An earlier incident on the same model or in the same category (what `/retro similar` finds), as it stood."""

    causes: list[str]
    channel_name: str
    created_at: str
    same_category: bool
    severity: str
    shared_models: list[str]
    status: str
    title: str


class PatternRecord(TypedDict):
    """A card of the pattern library as it stood when the document was built, and how the incident met it
    (`created` from it, `used` to start a hypothesis, `suggested` when it was declared)."""

    category: str
    fixes: list[str]
    how: str
    name: str
    number: int
    source: str
    statement: str
    test_plan: str | None
    validated_at: str | None


class RecurrenceRecord(TypedDict):
    """A confirmed recurrence link, seen from this incident: `of` an earlier incident it recurred, or `as` a later
    one that recurred it (public incidents only), as that incident stood."""

    channel_name: str
    confirmed_at: str
    confirmed_by: str
    created_at: str
    direction: str
    reason: str
    severity: str
    status: str
    title: str


class Doc(TypedDict):
    """The incident document: everything a postmortem, its metrics and its timeline picture are drawn from.
    `blameless` and `related` exist from format retro-incident/3 on; `patterns` only when a pattern was created in,
    used by or suggested to the incident (a document without it renders without the section); `recurrences` only
    when a recurrence of or by it was confirmed (likewise)."""

    actions: list[ActionRecord]
    blameless: NotRequired[list[FindingRecord]]
    entries: list[Entry]
    evidence: list[EvidenceRecord]
    format: str
    hypotheses: list[HypothesisRecord]
    incident: IncidentHeader
    labels: Labels
    patterns: NotRequired[list[PatternRecord]]
    people: dict[str, str]
    recurrences: NotRequired[list[RecurrenceRecord]]
    related: NotRequired[list[RelatedRecord]]
    roles: list[RoleRecord]
    timezone: str
    triage: TriageRecord | None
