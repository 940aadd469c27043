"""The team configuration of what happens after an incident: verification stages and the close gate (`verify:`),
recurrence (`recurrence:`), process audits (`audit:`) and pattern suggestions (`patterns:`)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

CloseGate = Literal["warn", "block", "off"]


class VerifyConfig(BaseModel):
    """Stages a mitigation is verified through, in order, and what closing does while some are not verified."""

    model_config = ConfigDict(extra="forbid")
    stages: list[str] = Field(default_factory=lambda: ["staging", "canary", "prod"], min_length=1, max_length=10)
    close_requires_verified: CloseGate = "warn"
    kinds: list[str] = Field(default_factory=lambda: ["fix", "guardrail", "monitor", "test"])  # mitigations
    default_window: str = "1h"

    @field_validator("stages")
    @classmethod
    def _stage_names(cls, value: list[str]) -> list[str]:
        import re

        for stage in value:
            if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,31}", stage):
                raise ValueError(f"stage {stage!r}: lowercase letters, digits, - and _, at most 32")
        if len(set(value)) < len(value):
            raise ValueError("a stage is listed twice")
        return value


class RecurrenceConfig(BaseModel):
    """Which earlier incidents a new one is offered as a recurrence of."""

    model_config = ConfigDict(extra="forbid")
    window_days: int = Field(default=90, ge=1, le=3650)
    held_days: list[int] = Field(default_factory=lambda: [30, 90])  # "held" horizons in /retro stats
    offers: int = Field(default=3, ge=0, le=5)  # earlier incidents offered on declaration (0: none)


class AuditConfig(BaseModel):
    """Process audits: what counts as on time, and the monthly post."""

    model_config = ConfigDict(extra="forbid")
    postmortem_within_days: int = Field(default=5, ge=1, le=365)
    monthly: bool = True  # posted to the digest channel on the first day of each month
    day_of_month: int = Field(default=1, ge=1, le=28)
    time: str = Field(default="09:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")


class PatternsConfig(BaseModel):
    """Pattern cards suggested when an incident is declared."""

    model_config = ConfigDict(extra="forbid")
    suggest_on_declare: bool = True
    suggestions: int = Field(default=3, ge=0, le=10)
