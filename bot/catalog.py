"""Team configuration (RETRO_CONFIG YAML over shipped defaults): severities, categories, roles, cadences."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, Field, ValidationError, ValidationInfo, field_validator, model_validator

from bot.alert_config import AlertsConfig
from bot.errors import ConfigError
from bot.loop_config import AuditConfig, PatternsConfig, RecurrenceConfig, VerifyConfig


class Severity(BaseModel):
    """A severity level and when it applies."""

    level: int = Field(ge=1, le=9)
    name: str
    criteria: str
    update_every_minutes: int | None = Field(default=None, ge=1)


class Category(BaseModel):
    """An ML incident category."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,40}$")
    name: str
    description: str = ""
    private: bool = False


class Role(BaseModel):
    """An incident role and its duties."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,30}$")
    name: str
    duties: str


class TriageConfig(BaseModel):
    """How the triage template is chased."""

    prompt_every_minutes: int | None = Field(default=15, ge=1)
    required: list[str] = Field(default_factory=list)


class ReminderConfig(BaseModel):
    """Action-item reminder cadences and the delivery machinery's timings."""

    due_soon_hours: int = Field(default=24, ge=0)
    overdue_every_days: int = Field(default=2, ge=1)
    escalate_after_days: int = Field(default=3, ge=0)
    time_of_day: str = Field(default="09:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    sweep_seconds: int = Field(default=30, ge=1)
    max_attempts: int = Field(default=5, ge=1)
    retry_seconds: int = Field(default=60, ge=1)
    claim_seconds: int = Field(default=120, ge=10)


class DigestConfig(BaseModel):
    """The weekly digest of open and overdue action items."""

    channel: str | None = None
    day_of_week: str = "mon"
    time: str = Field(default="09:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    timezone: str = "UTC"


class DatacheckConfig(BaseModel):
    """When a data check flags a feature, for this team; unset values fall back to RETRO_DRIFT_*."""

    psi: float | None = Field(default=None, gt=0, le=10)
    ks: float | None = Field(default=None, gt=0, le=1)
    null_delta: float | None = Field(default=None, gt=0, le=1)


class BlamelessRule(BaseModel):
    """A phrasing the blameless check flags in a drafted postmortem (matched case-insensitively per sentence)."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,40}$")
    pattern: str
    why: str
    suggestion: str
    rewrite: str | None = None

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value, re.IGNORECASE)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        return value


class BlamelessConfig(BaseModel):
    """The blameless check: its rules (a team's list replaces the shipped one)."""

    enabled: bool = True
    rules: list[BlamelessRule] = Field(default_factory=list)


Permission = Literal["commander", "anyone"]
# Every category is an option of the declare form's menu, which takes at most 100 options; every role has a picker
# in the one roles message of an incident, which must stay within a message's size.
MAX_CATEGORIES = 100
MAX_ROLES = 25


class Catalog(BaseModel):
    """The whole team configuration."""

    timezone: str = "UTC"
    severities: list[Severity]
    categories: list[Category]
    roles: list[Role]
    role_assignment: Permission = "commander"
    close_permission: Permission = "commander"
    triage: TriageConfig = Field(default_factory=TriageConfig)
    key_event_reaction: str = "pushpin"
    reminders: ReminderConfig = Field(default_factory=ReminderConfig)
    digest: DigestConfig = Field(default_factory=DigestConfig)
    blameless: BlamelessConfig = Field(default_factory=BlamelessConfig)
    datacheck: DatacheckConfig = Field(default_factory=DatacheckConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    verify: VerifyConfig = Field(default_factory=VerifyConfig)
    recurrence: RecurrenceConfig = Field(default_factory=RecurrenceConfig)
    audit: AuditConfig = Field(default_factory=AuditConfig)
    patterns: PatternsConfig = Field(default_factory=PatternsConfig)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {value!r}") from None
        return value

    @field_validator("categories", "roles")
    @classmethod
    def _within_caps(cls, value: list[Any], info: ValidationInfo) -> list[Any]:
        cap, why = {"categories": (MAX_CATEGORIES, "the declare form offers them in one menu"),
                    "roles": (MAX_ROLES, "each incident offers them in one message")}[str(info.field_name)]
        if len(value) > cap:
            raise ValueError(f"at most {cap} {info.field_name} ({why}); {len(value)} given")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Catalog:
        if not any(r.id == "commander" for r in self.roles):
            raise ValueError("roles must include 'commander'")
        groups: list[tuple[str, list[object]]] = [("severity", [s.level for s in self.severities]),
                                                  ("category", [c.id for c in self.categories]),
                                                  ("role", [r.id for r in self.roles])]
        for what, ids in groups:
            if len(set(ids)) != len(ids):
                raise ValueError(f"duplicate {what} ids")
        if wrong := self.alerts.problems({s.level for s in self.severities}, {c.id for c in self.categories}):
            raise ValueError(wrong[0])
        return self

    @property
    def tz(self) -> ZoneInfo:
        """The team's timezone."""
        return ZoneInfo(self.timezone)

    def severity(self, level: int) -> Severity | None:
        """The severity with this level, if configured."""
        return next((s for s in self.severities if s.level == level), None)

    def category(self, cid: str) -> Category | None:
        """The category with this id, if configured."""
        return next((c for c in self.categories if c.id == cid), None)

    def role(self, rid: str) -> Role | None:
        """The role with this id, if configured."""
        return next((r for r in self.roles if r.id == rid), None)

    def role_named(self, typed: str) -> Role | None:
        """The role someone names by its id or its display name, in any case, spaces and dashes alike
        (`comms`, `communications`, `"data owner"`, `Incident commander`); an id wins over a name."""
        key = role_key(typed)
        return self.role(key) or next((r for r in self.roles if role_key(r.name) == key), None)


def role_key(text: str) -> str:
    """A role's id or name as compared: lowercase, runs of spaces, `_` and `-` as one dash."""
    return re.sub(r"[\s_-]+", "-", text.strip().lower()).strip("-")


def _defaults() -> dict[str, Any]:
    text = resources.files("bot").joinpath("defaults.yml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    assert isinstance(data, dict)
    return data


def load_catalog(path: Path | None = None) -> Catalog:
    """Shipped defaults, with each top-level key of the team's YAML replacing the default one."""
    data = _defaults()
    if path is not None:
        try:
            custom = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"RETRO_CONFIG: cannot read {path}: {exc}") from None
        if not isinstance(custom, dict):
            raise ConfigError("RETRO_CONFIG: the file must hold a mapping of settings")
        data.update(custom)
    try:
        return Catalog.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        where = f"{loc}: " if loc else ""
        raise ConfigError(f"RETRO_CONFIG: {where}{err['msg'].removeprefix('Value error, ')}") from None
