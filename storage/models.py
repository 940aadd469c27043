"""SQLModel tables. Every row of ours carries the Slack team it belongs to (directly or through its incident)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime

GENESIS_HASH = "0" * 64


def _at(*, nullable: bool = False, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


class Workspace(SQLModel, table=True):
    """A Slack workspace the bot serves."""

    team_id: str = Field(primary_key=True, max_length=32)
    enterprise_id: str | None = Field(default=None, max_length=32)
    name: str = ""
    url: str = ""
    installed_at: datetime = _at()
    uninstalled_at: datetime | None = _at(nullable=True)


class ProcessedEvent(SQLModel, table=True):
    """An Events API delivery already handled; the unique key makes Slack's retries no-ops."""

    __tablename__ = "processed_event"
    __table_args__ = (UniqueConstraint("team_id", "event_id", name="uq_processed_event"),)
    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    event_id: str = Field(max_length=64)
    received_at: datetime = _at(index=True)


class Incident(SQLModel, table=True):
    """One declared incident and its live state; counters and the chain head are updated under a row lock."""

    __table_args__ = (
        UniqueConstraint("team_id", "channel_name", name="uq_incident_channel_name"),
        Index("ix_incident_team_channel", "team_id", "channel_id"),
        Index("ix_incident_team_status", "team_id", "status"),
    )
    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    enterprise_id: str | None = Field(default=None, max_length=32)
    channel_id: str = Field(default="", max_length=32)
    channel_name: str = Field(max_length=80)
    title: str = Field(sa_column=Column(Text, nullable=False))
    description: str = Field(default="", sa_column=Column(Text, nullable=False))
    severity: int
    category: str = Field(max_length=64)
    status: str = Field(default="investigating", max_length=16)
    private: bool = False
    declared_by: str = Field(max_length=32)
    declared_in: str = Field(default="", max_length=32)
    models: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    card_ts: str | None = Field(default=None, max_length=32)
    roles_ts: str | None = Field(default=None, max_length=32)
    created_at: datetime = _at()
    impact_started_at: datetime | None = _at(nullable=True)
    detected_at: datetime | None = _at(nullable=True)
    mitigated_at: datetime | None = _at(nullable=True)
    resolved_at: datetime | None = _at(nullable=True)
    closed_at: datetime | None = _at(nullable=True)
    insight_at: datetime | None = _at(nullable=True)
    last_update_at: datetime | None = _at(nullable=True)
    entry_count: int = 0
    last_entry_at: datetime | None = _at(nullable=True)
    head_hash: str = Field(default=GENESIS_HASH, max_length=64)
    evidence_seq: int = 0
    hypothesis_seq: int = 0
    action_seq: int = 0
    draft_seq: int = 0


class TimelineEntry(SQLModel, table=True):
    """An append-only, hash-chained record; `hash = sha256(prev_hash + canonical JSON of the entry)`."""

    __tablename__ = "timeline_entry"
    __table_args__ = (
        UniqueConstraint("incident_id", "seq", name="uq_timeline_seq"),
        Index("ix_timeline_slack_ts", "incident_id", "slack_ts"),
    )
    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32, index=True)
    incident_id: int = Field(foreign_key="incident.id")
    seq: int
    at: datetime = _at()
    kind: str = Field(max_length=32)
    actor: str | None = Field(default=None, max_length=32)
    slack_ts: str | None = Field(default=None, max_length=32)
    thread_ts: str | None = Field(default=None, max_length=32)
    refers_to: int | None = None
    key_event: bool = False
    text: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    text_sha256: str | None = Field(default=None, max_length=64)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)
    # When what the entry records happened, given with `at=`; None when that is `at`, the time it was recorded.
    occurred_at: datetime | None = _at(nullable=True)


class RoleAssignment(SQLModel, table=True):
    """Who holds a role; reassignments end the old row instead of overwriting it."""

    __tablename__ = "role_assignment"
    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32, index=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    role: str = Field(max_length=32)
    user_id: str = Field(max_length=32)
    assigned_by: str = Field(max_length=32)
    assigned_at: datetime = _at()
    ended_at: datetime | None = _at(nullable=True)


class TriageVersion(SQLModel, table=True):
    """One submission of the triage template; later edits are new versions."""

    __tablename__ = "triage_version"
    __table_args__ = (UniqueConstraint("incident_id", "version", name="uq_triage_version"),)
    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32, index=True)
    incident_id: int = Field(foreign_key="incident.id")
    version: int
    fields: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    submitted_by: str = Field(max_length=32)
    submitted_at: datetime = _at()


class Evidence(SQLModel, table=True):
    """A typed piece of evidence (E1, E2…) with its digest and custody record."""

    __table_args__ = (UniqueConstraint("incident_id", "number", name="uq_evidence_number"),)
    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32, index=True)
    incident_id: int = Field(foreign_key="incident.id")
    number: int
    kind: str = Field(max_length=32)
    ref: str = Field(sa_column=Column(Text, nullable=False))
    note: str = Field(default="", sa_column=Column(Text, nullable=False))
    options: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    added_by: str = Field(max_length=32)
    added_at: datetime = _at()
    sha256: str = Field(max_length=64)
    file_id: str | None = Field(default=None, max_length=32)
    file_sha256: str | None = Field(default=None, max_length=64)
    status: str = Field(default="ok", max_length=16)
    custody: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    media_type: str | None = Field(default=None, max_length=128)
    artifact: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    artifact_path: str | None = Field(default=None, max_length=512)


class Hypothesis(SQLModel, table=True):
    """A plausible cause (H1, H2…), how it is tested and its verdict."""

    __table_args__ = (UniqueConstraint("incident_id", "number", name="uq_hypothesis_number"),)
    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32, index=True)
    incident_id: int = Field(foreign_key="incident.id")
    number: int
    statement: str = Field(sa_column=Column(Text, nullable=False))
    proposed_by: str = Field(max_length=32)
    proposed_at: datetime = _at()
    test_plan: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    expected: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    criteria: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    verdict: str = Field(default="open", max_length=16)
    verdict_note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    verdict_evidence: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    verdict_by: str | None = Field(default=None, max_length=32)
    verdict_at: datetime | None = _at(nullable=True)


class HypothesisVerdict(SQLModel, table=True):
    """A verdict on a hypothesis, kept when a later one replaces it (the hypothesis row holds the final one)."""

    __tablename__ = "hypothesis_verdict"
    __table_args__ = (UniqueConstraint("hypothesis_id", "seq", name="uq_hypothesis_verdict_seq"),)
    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32, index=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    hypothesis_id: int = Field(foreign_key="hypothesis.id")
    number: int
    seq: int
    verdict: str = Field(max_length=16)
    evidence: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    decided_by: str = Field(max_length=32)
    decided_at: datetime = _at()
    recorded_at: datetime = _at()


class ActionItem(SQLModel, table=True):
    """A follow-up (A1, A2…) with an owner and a due date; reminded until done."""

    __tablename__ = "action_item"
    __table_args__ = (
        UniqueConstraint("incident_id", "number", name="uq_action_number"),
        Index("ix_action_owner", "team_id", "owner", "status"),
    )
    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    incident_id: int = Field(foreign_key="incident.id")
    number: int
    title: str = Field(sa_column=Column(Text, nullable=False))
    owner: str = Field(max_length=32)
    due: date
    kind: str = Field(default="fix", max_length=16)
    hypothesis: int | None = None
    status: str = Field(default="open", max_length=16)
    created_by: str = Field(max_length=32)
    created_at: datetime = _at()
    closed_at: datetime | None = _at(nullable=True)
    close_note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    after_close: bool = False  # added while the incident was closed (accepted, and marked wherever listed)


class Reminder(SQLModel, table=True):
    """A scheduled nudge: the database row is the truth, schedulers only claim and send due rows."""

    __table_args__ = (
        UniqueConstraint("dedupe_key", name="uq_reminder_dedupe"),
        Index("ix_reminder_due", "status", "due_at"),
        Index("ix_reminder_action", "action_id", "status"),
    )
    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    incident_id: int | None = Field(default=None, foreign_key="incident.id")
    action_id: int | None = Field(default=None, foreign_key="action_item.id")
    kind: str = Field(max_length=32)
    due_at: datetime = _at()
    status: str = Field(default="pending", max_length=16)
    dedupe_key: str = Field(max_length=160)
    claimed_by: str | None = Field(default=None, max_length=64)
    claim_expires_at: datetime | None = _at(nullable=True)
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    sent_at: datetime | None = _at(nullable=True)
    # What the reminder is about beyond its foreign keys (recipient at scheduling time, due date, digest week…).
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class PendingFileHash(SQLModel, table=True):
    """A file shared in an incident channel whose digest is not chained yet: written in the transaction that records
    the message, `done` in the one that chains its `file_hashed` entry; claimed like reminders, so one process hashes
    it even when the process that acked the message died first."""

    __tablename__ = "pending_file_hash"
    __table_args__ = (
        UniqueConstraint("incident_id", "message_ts", "file_id", name="uq_pending_file_hash"),
        Index("ix_pending_file_hash_due", "status", "due_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    incident_id: int = Field(foreign_key="incident.id")
    file_id: str = Field(max_length=32)
    message_ts: str = Field(max_length=32)
    user_id: str | None = Field(default=None, max_length=32)
    status: str = Field(default="pending", max_length=16)
    due_at: datetime = _at()
    created_at: datetime = _at()
    claimed_by: str | None = Field(default=None, max_length=64)
    claim_expires_at: datetime | None = _at(nullable=True)
    attempts: int = 0
    done_at: datetime | None = _at(nullable=True)


class PostmortemDraft(SQLModel, table=True):
    """A rendered postmortem; every re-run is a new version."""

    __tablename__ = "postmortem_draft"
    __table_args__ = (UniqueConstraint("incident_id", "version", name="uq_postmortem_version"),)
    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32, index=True)
    incident_id: int = Field(foreign_key="incident.id")
    version: int
    markdown: str = Field(sa_column=Column(Text, nullable=False))
    sha256: str = Field(max_length=64)
    drafted_by: str = Field(max_length=32)
    drafted_at: datetime = _at()
    people: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


def _declare_oauth_tables() -> None:
    from storage.oauth_tables import declare

    declare(SQLModel.metadata)


_declare_oauth_tables()
