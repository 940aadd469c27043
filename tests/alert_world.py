"""Alert intake below HTTP: deps on a migrated database, recorded notifications, and a handler that stands in for the
Slack side (it declares a bare incident for a group that has none, joins otherwise, and counts every call)."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.alerts import claims
from bot.alerts.alertmanager import parse_alertmanager
from bot.alerts.batch import AlertBatch
from bot.alerts.intake import record
from bot.app.wiring import build_deps
from bot.catalog import load_catalog
from bot.config import Settings
from bot.deps import Deps, utc_now
from bot.incident import incidents
from bot.slack.alert_flow import Handled
from storage.alert_tables import AlertGroupRow, AlertNotice
from tests.alert_payloads import am_alert, am_notification

TEAM = "T0ALERTS"


def make_deps(url: str, clock: Any = utc_now, **env: Any) -> Deps:
    """Deps on `url` with the given settings (no Slack)."""
    return build_deps(Settings.model_validate({"database_url": url, **env}), clock=clock)


def notification(group: int, seq: int, *, status: str = "firing") -> tuple[AlertBatch, bytes]:
    """Notification `seq` of alert group `group` (a new alert each time, so every body differs)."""
    key = f'{{}}:{{alertname="Drift{group}"}}'
    data = am_notification(am_alert(name=f"Drift{group}", status=status, fingerprint=f"{group:04x}{seq:012x}"),
                           status=status, group_key=key)
    raw = json.dumps(data).encode()
    return parse_alertmanager(raw), raw


async def post(deps: Deps, group: int, seq: int, **kw: Any) -> tuple[AlertNotice, bool]:
    """Record one notification as the HTTP handler does."""
    batch, raw = notification(group, seq, **kw)
    from bot.canonical import sha256_hex

    async with deps.session() as session:
        return await record(session, team_id=TEAM, batch=batch, raw_sha256=sha256_hex(raw), now=deps.now())


@dataclass
class CountingHandler:
    """The Slack side's stand-in: one bare incident per group without one; counts calls and overlaps."""

    calls: Counter[int] = field(default_factory=Counter)
    declared: Counter[int] = field(default_factory=Counter)
    overlaps: list[int] = field(default_factory=list)
    fail: dict[int, int] = field(default_factory=dict)  # notice id -> how many times to raise first
    delay: float = 0.0
    _active: set[int] = field(default_factory=set)

    async def __call__(self, client: Any, deps: Deps, group: AlertGroupRow, notice: AlertNotice,
                       batch: AlertBatch, *, worker: str) -> Handled:
        assert group.id is not None and notice.id is not None
        if group.id in self._active:
            self.overlaps.append(group.id)
        self._active.add(group.id)
        try:
            self.calls[notice.id] += 1
            if self.fail.get(notice.id, 0) > 0:
                self.fail[notice.id] -= 1
                raise RuntimeError("Slack said no")
            await asyncio.sleep(self.delay)
            if group.incident_id is not None:
                return Handled("joined", group.incident_id)
            incident_id = await self._declare(deps, group, batch, deps.now())
            async with deps.session() as session:
                assert await claims.set_group_incident(session, group.id, incident_id, worker=worker)
            self.declared[group.id] += 1
            return Handled("declared", incident_id)
        finally:
            self._active.discard(group.id)

    async def _declare(self, deps: Deps, group: AlertGroupRow, batch: AlertBatch, now: datetime) -> int:
        decl = incidents.validate_declaration(load_catalog(), title=batch.alerts[0].name, severity=2,
                                              category="data-drift")
        async with deps.session() as session:
            made = await incidents.create(session, team_id=TEAM, decl=decl, declared_by="U0BOT", declared_in="",
                                          channel_id=f"C{group.id:08d}", channel_name=f"inc-alert-{group.id}",
                                          now=now)
        assert made.id is not None
        return made.id
