"""Alert intake's tables: one row per alert group a source keeps sending, one row per notification received.

A notification is written (and committed) before its HTTP answer; the Slack work happens after, by whichever
process claims the group, so the rows are the truth and the claim keeps two replicas off the same group.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime


def _at(*, nullable: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable))


class AlertGroupRow(SQLModel, table=True):
    """An alert group (Alertmanager's groupKey) of one source in one workspace, and the incident it declared."""

    __tablename__ = "alert_group"
    __table_args__ = (
        UniqueConstraint("team_id", "source", "key_hash", name="uq_alert_group_key"),
        Index("ix_alert_group_pending", "pending", "claim_expires_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    source: str = Field(max_length=16)
    key_hash: str = Field(max_length=64)
    group_key: str = Field(sa_column=Column(Text, nullable=False))
    # The incident this group declared or joined; kept after it closes so that a later firing declares anew.
    incident_id: int | None = Field(default=None, foreign_key="incident.id")
    status: str = Field(max_length=16)
    pending: bool = False
    claimed_by: str | None = Field(default=None, max_length=64)
    claim_expires_at: datetime | None = _at(nullable=True)
    first_starts_at: datetime | None = _at(nullable=True)
    updated_at: datetime = _at()


class AlertNotice(SQLModel, table=True):
    """One notification as received: the parsed batch, the digest of the raw body, and what became of it."""

    __tablename__ = "alert_notice"
    __table_args__ = (UniqueConstraint("team_id", "payload_sha256", name="uq_alert_notice_payload"),)
    id: int | None = Field(default=None, primary_key=True)
    group_id: int = Field(foreign_key="alert_group.id", index=True)
    team_id: str = Field(max_length=32)
    payload_sha256: str = Field(max_length=64)
    batch: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    received_at: datetime = _at()
    status: str = Field(default="pending", max_length=16)
    outcome: str | None = Field(default=None, max_length=24)
    incident_id: int | None = Field(default=None, foreign_key="incident.id")
    attempts: int = 0
    error: str | None = Field(default=None, max_length=500)
    finished_at: datetime | None = _at(nullable=True)
