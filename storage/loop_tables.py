"""Tables of what happens after an incident: mitigations verified stage by stage, recurrences linked, process
audits kept, and the library of validated patterns."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime


def _at(*, nullable: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable))


def _json_list() -> Any:
    return Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class ActionVerification(SQLModel, table=True):
    """How an action item (a mitigation) is verified: its rollback, its re-check cadence, and where it stands."""

    __tablename__ = "action_verification"
    action_id: int = Field(foreign_key="action_item.id", primary_key=True)
    team_id: str = Field(max_length=32, index=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    rollback: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    recheck_seconds: int | None = None  # metric checks run again this often once verified (None: never)
    state: str = Field(default="unverified", max_length=16)  # unverified | failed | verified | regressed
    verified_at: datetime | None = _at(nullable=True)
    regressed_at: datetime | None = _at(nullable=True)
    updated_at: datetime = _at()


class ActionCheck(SQLModel, table=True):
    """One verification outcome of an action item at one stage (a metric, a data check, or a person's verdict)."""

    __tablename__ = "action_check"
    __table_args__ = (Index("ix_action_check_action", "action_id", "stage", "checked_at"),)
    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    incident_id: int = Field(foreign_key="incident.id")
    action_id: int = Field(foreign_key="action_item.id")
    stage: str = Field(max_length=32)
    method: str = Field(max_length=16)  # metric | datacheck | manual
    spec: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    outcome: str = Field(max_length=8)  # pass | fail | error
    summary: str = Field(default="", sa_column=Column(Text, nullable=False))
    evidence_number: int | None = None
    scheduled: bool = False  # a re-check run on schedule, not asked for by a person
    checked_by: str = Field(max_length=32)
    checked_at: datetime = _at()


class IncidentLink(SQLModel, table=True):
    """A later incident offered, then confirmed or dismissed, as a recurrence of an earlier one."""

    __tablename__ = "incident_link"
    __table_args__ = (UniqueConstraint("incident_id", "earlier_id", name="uq_incident_link"),)
    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32, index=True)
    incident_id: int = Field(foreign_key="incident.id")
    earlier_id: int = Field(foreign_key="incident.id", index=True)
    reason: str = Field(max_length=16)  # model | category
    state: str = Field(default="offered", max_length=16)  # offered | confirmed | dismissed
    offered_at: datetime = _at()
    decided_at: datetime | None = _at(nullable=True)
    decided_by: str | None = Field(default=None, max_length=32)


class ProcessAudit(SQLModel, table=True):
    """An audit of the retrospective process over a period: the report as it was, and its digest."""

    __tablename__ = "process_audit"
    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32, index=True)
    period_start: datetime = _at()
    period_end: datetime = _at()
    run_at: datetime = _at()
    run_by: str = Field(max_length=32)  # a user id, or "schedule"
    score: str = Field(max_length=16)  # text, e.g. "0.82"
    report: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    report_sha256: str = Field(max_length=64)


class Pattern(SQLModel, table=True):
    """A card of the library of validated patterns (P1, P2… per workspace): a confirmed cause, how it was tested, and
    the mitigations that fixed it, with their checks."""

    __tablename__ = "pattern"
    __table_args__ = (UniqueConstraint("team_id", "number", name="uq_pattern_number"),)
    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    number: int
    name: str = Field(max_length=150)
    category: str = Field(max_length=64)
    models: list[str] = _json_list()
    symptoms: list[str] = _json_list()
    hypothesis: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    mitigations: list[dict[str, Any]] = _json_list()
    incident_id: int = Field(foreign_key="incident.id")  # where it was saved from
    created_by: str = Field(max_length=32)
    created_at: datetime = _at()
    validated_at: datetime | None = _at(nullable=True)


class PatternUse(SQLModel, table=True):
    """A pattern suggested to, used by, or created in an incident."""

    __tablename__ = "pattern_use"
    __table_args__ = (UniqueConstraint("pattern_id", "incident_id", "how", name="uq_pattern_use"),)
    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    pattern_id: int = Field(foreign_key="pattern.id", index=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    how: str = Field(max_length=16)  # created | suggested | used
    at: datetime = _at()
