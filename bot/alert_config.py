"""The `alerts:` block of the team configuration: how alert notifications become incidents (routes, severities,
owners, the announcement channel, the generic webhook's field mapping)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

AlertAction = Literal["declare", "join", "record"]


def _user_id(users: list[str], key: str) -> list[str]:
    if bad := [u for u in users if not re.fullmatch(r"[UW][A-Z0-9]{2,}", u)]:
        raise ValueError(f"{key + ': ' if key else ''}{bad[0]!r} is not a Slack user id (U… or W…)")
    return users


class AlertRoute(BaseModel):
    """Alert groups whose labels match (exact values, `~regex` for a full regex match) get this action; the
    declaration's category and severity may be set here."""

    model_config = ConfigDict(extra="forbid")
    match: dict[str, str] = Field(default_factory=dict)
    action: AlertAction = "declare"
    category: str | None = None
    severity: int | None = None

    @field_validator("match")
    @classmethod
    def _patterns(cls, value: dict[str, str]) -> dict[str, str]:
        for label, want in value.items():
            if want.startswith("~"):
                try:
                    re.compile(want[1:])
                except re.error as exc:
                    raise ValueError(f"{label}: {want!r} is not a valid regular expression: {exc}") from None
        return value


class AlertOwners(BaseModel):
    """People invited into incidents declared from alerts, per model name and per category."""

    model_config = ConfigDict(extra="forbid")
    models: dict[str, list[str]] = Field(default_factory=dict)
    categories: dict[str, list[str]] = Field(default_factory=dict)

    @field_validator("models", "categories")
    @classmethod
    def _user_ids(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for key, users in value.items():
            _user_id(users, key)
        return value


class AlertWebhook(BaseModel):
    """Where the generic webhook finds each field in another monitor's JSON body: dotted paths (`$.a.b`, `a.0.b`);
    an unset field keeps the generic shape's own."""

    model_config = ConfigDict(extra="forbid")
    title: str | None = None
    status: str | None = None
    group_key: str | None = None
    labels: str | None = None
    annotations: str | None = None
    starts_at: str | None = None
    fingerprint: str | None = None


class AlertsConfig(BaseModel):
    """How alerts from Alertmanager and other monitors become incidents: routes, severities, owners, channel."""

    model_config = ConfigDict(extra="forbid")
    channel: str | None = None
    severity_label: str = "severity"
    severities: dict[str, int] = Field(default_factory=lambda: {"critical": 1, "warning": 3})
    default_severity: int | None = None
    owners: AlertOwners = Field(default_factory=AlertOwners)
    commander: str | None = None
    routes: list[AlertRoute] = Field(default_factory=list)
    default_action: AlertAction = "declare"
    webhook: AlertWebhook | None = None

    @field_validator("commander")
    @classmethod
    def _commander(cls, value: str | None) -> str | None:
        return _user_id([value], "")[0] if value is not None else None

    def severity_of(self, value: str) -> int | None:
        """The severity level an alert's severity label names (case aside), if the mapping has it."""
        wanted = value.strip().lower()
        return next((level for name, level in self.severities.items() if name.lower() == wanted), None)

    def problems(self, levels: set[int], categories: set[str]) -> list[str]:
        """Severities and categories this configuration names that the team's catalog does not have."""
        sevs = [("alerts.default_severity", self.default_severity),
                *((f"alerts.severities.{name}", level) for name, level in self.severities.items()),
                *((f"alerts.routes.{n}.severity", r.severity) for n, r in enumerate(self.routes))]
        cats = [*((f"alerts.routes.{n}.category", r.category) for n, r in enumerate(self.routes)),
                *((f"alerts.owners.categories.{cid}", cid) for cid in self.owners.categories)]
        found = [f"{where}: no severity {level} in severities" for where, level in sevs
                 if level is not None and level not in levels]
        found += [f"{where}: unknown category {cid!r}" for where, cid in cats
                  if cid is not None and cid not in categories]
        return found
