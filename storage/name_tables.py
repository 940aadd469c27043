"""The display names Retro has been told by Slack (users.info), kept so that replies and exports name people even
when Slack is not asked again: a cache, never the record (the timeline keeps user ids)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime


class PersonName(SQLModel, table=True):
    """One person's display name in one workspace, and when Slack last gave it."""

    __tablename__ = "person_name"
    team_id: str = Field(primary_key=True, max_length=32)
    user_id: str = Field(primary_key=True, max_length=32)
    name: str = Field(max_length=200)
    checked_at: datetime = Field(default=None, sa_column=Column(UTCDateTime(), nullable=False))
