"""Recurrence end to end: the offer posted when an incident is declared, its Confirm / Not related buttons, the
chain, the postmortem, and `/retro stats` (a confirmed recurrence changes the share of verified fixes that held)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from sqlmodel import col, select

from bot.app.local import LocalStack, local_stack
from bot.ids import ActionId
from bot.postmortem import document, draft
from bot.record import chain
from storage.loop_tables import IncidentLink
from storage.models import Incident, PostmortemDraft
from tests.conftest import FakeClock
from tests.e2e.helpers import declare, entries, run


@pytest.fixture
async def clocked(database_url: str, clock: FakeClock) -> AsyncIterator[LocalStack]:
    """The local stack on a clock the test moves (Slack's request signatures still use real time)."""
    async with local_stack(database_url=database_url, clock=clock) as s:
        yield s


def _offer(stack: LocalStack, incident: Incident) -> dict[str, Any]:
    (found,) = [m for m in stack.driver.bot_messages(incident.channel_name) if "Possible recurrence" in str(m)]
    return found


def _buttons(message: dict[str, Any]) -> list[str]:
    return [el["text"]["text"] for b in message.get("blocks") or [] for el in b.get("elements") or []
            if el.get("type") == "button"]


async def _links(stack: LocalStack, incident: Incident) -> list[IncidentLink]:
    async with stack.deps.session() as s:
        return list((await s.exec(select(IncidentLink).where(IncidentLink.incident_id == incident.id)
                                  .order_by(col(IncidentLink.id)))).all())


async def _click(stack: LocalStack, user: str, incident: Incident, action_id: str, message: dict[str, Any],
                 link: IncidentLink) -> None:
    status = await stack.driver.click(user, action_id=action_id, channel=incident.channel_name,
                                      message_ts=str(message["ts"]), block_id=f"recurrence:{link.id}")
    assert status == 200
    await stack.settle()


async def _rendered(stack: LocalStack, incident: Incident) -> str:
    async with stack.deps.session() as s:
        doc = await document.build(s, incident, catalog=stack.deps.catalog)
    return draft.render(stack.deps.templates, doc)


async def test_an_incident_on_the_same_model_is_offered_and_confirmed(stack: LocalStack) -> None:
    first, _ = await declare(stack, "Fraud precision drop", options="sev=2 type=data-drift model=fraud@4.2")
    other, _ = await declare(stack, "Checkout latency spike", options="sev=3 type=infrastructure")
    assert not [m for m in stack.driver.bot_messages(first.channel_name) if "Possible recurrence" in str(m)]
    later, _ = await declare(stack, "Fraud scores skewed after deploy", options="sev=2 type=data-quality model=fraud@5")

    offer = _offer(stack, later)
    assert f"Possible recurrence of #{first.channel_name}" in str(offer["blocks"]) and "same model (fraud)" in str(
        offer["blocks"])
    assert other.channel_name not in str(offer["blocks"])
    assert _buttons(offer) == ["Confirm recurrence", "Not related"]
    (link,) = await _links(stack, later)
    assert (link.earlier_id, link.reason, link.state) == (first.id, "model", "offered")

    await _click(stack, "alice", later, ActionId.RECURRENCE_CONFIRM, offer, link)
    (link,) = await _links(stack, later)
    alice = stack.driver.user("alice").id
    assert (link.state, link.decided_by) == ("confirmed", alice)
    answered = _offer(stack, later)
    assert _buttons(answered) == [] and f"Confirmed by <@{alice}> as a recurrence of #{first.channel_name}" in str(
        answered["blocks"])
    (entry,) = [e for e in await entries(stack, later.id or 0) if e.kind.startswith("recurrence_")]
    assert (entry.kind, entry.actor, entry.key_event) == ("recurrence_confirmed", alice, True)
    assert entry.data == {"earlier_id": first.id, "earlier": first.channel_name, "reason": "model"}
    async with stack.deps.session() as s:
        fresh = await s.get(Incident, later.id)
        assert fresh is not None and (await chain.verify_incident(s, fresh)).ok

    timeline = (await run(stack, "bob", f"#{later.channel_name}", "timeline")).text()
    assert f":repeat: a recurrence of #{first.channel_name} (same model)" in timeline
    await run(stack, "alice", f"#{later.channel_name}", "postmortem")
    async with stack.deps.session() as s:
        md = (await s.exec(select(PostmortemDraft.markdown).where(PostmortemDraft.incident_id == later.id))).one()
    assert "## Recurrence" in md and f"A recurrence of `#{first.channel_name}` Fraud precision drop" in md
    assert "same model), confirmed by" in md
    earlier_md = await _rendered(stack, first)
    assert f"Recurred as `#{later.channel_name}` Fraud scores skewed after deploy" in earlier_md
    assert "## Recurrence" not in await _rendered(stack, other)


async def test_a_matching_confirmed_cause_in_the_same_category_and_not_related(stack: LocalStack) -> None:
    cause, _ = await declare(stack, "Label join dropped rows", options="sev=2 type=data-quality")
    ch = f"#{cause.channel_name}"
    await run(stack, "alice", ch, "hypothesis Upstream schema change renamed the labels column")
    await run(stack, "alice", ch, "confirm H1 the renamed column explains every dropped row")
    unconfirmed, _ = await declare(stack, "Null labels in scoring", options="sev=2 type=data-quality")
    await run(stack, "alice", f"#{unconfirmed.channel_name}", "hypothesis The labels column arrives late")
    elsewhere, _ = await declare(stack, "Labels column renamed again", options="sev=2 type=data-drift")

    later, _ = await declare(stack, "Labels missing for yesterday", options="sev=3 type=data-quality")
    offer = _offer(stack, later)
    shown = str(offer["blocks"])
    assert f"#{cause.channel_name}" in shown and "shares label with this title" in shown
    assert f"#{unconfirmed.channel_name}" not in shown and f"#{elsewhere.channel_name}" not in shown
    (link,) = await _links(stack, later)
    assert link.reason == "category"

    await _click(stack, "bob", later, ActionId.RECURRENCE_DISMISS, offer, link)
    (link,) = await _links(stack, later)
    assert link.state == "dismissed"
    assert "Marked not related by" in str(_offer(stack, later)["blocks"])
    kinds = [e.kind for e in await entries(stack, later.id or 0)]
    assert "recurrence_dismissed" in kinds and "recurrence_confirmed" not in kinds
    assert "## Recurrence" not in await _rendered(stack, later)


async def test_an_incident_declared_from_an_alert_is_offered_too(database_url: str) -> None:
    labels = {"alertname": "PrecisionDrop", "model": "fraud-scorer", "severity": "critical"}
    alert = {"status": "firing", "labels": labels,
             "annotations": {"summary": "precision below 0.8"}, "startsAt": "2026-01-05T10:00:00Z",
             "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "", "fingerprint": "f1"}
    body = {"version": "4", "groupKey": '{}:{alertname="PrecisionDrop"}', "truncatedAlerts": 0, "status": "firing",
            "receiver": "retro", "groupLabels": {"alertname": "PrecisionDrop"}, "commonLabels": labels,
            "commonAnnotations": {}, "externalURL": "http://am.example", "alerts": [alert]}
    async with local_stack(database_url=database_url, env={"retro_alert_token": "recurrence-token"}) as stack:
        first, _ = await declare(stack, "Fraud precision drop", options="sev=2 type=data-drift model=fraud-scorer@4")
        async with aiohttp.ClientSession() as http, http.post(
                f"{stack.base_url}/alerts/alertmanager", data=json.dumps(body),
                headers={"Authorization": "Bearer recurrence-token", "Content-Type": "application/json"}) as resp:
            assert resp.status == 200, await resp.text()
        assert stack.alerts is not None
        await stack.alerts.sweep()
        await stack.settle()
        async with stack.deps.session() as s:
            declared = (await s.exec(select(Incident).where(col(Incident.id) != first.id))).one()
        assert declared.declared_by == stack.driver.ws.bot_user_id
        offer = _offer(stack, declared)
        assert f"Possible recurrence of #{first.channel_name}" in str(offer["blocks"])
        assert [(x.earlier_id, x.reason) for x in await _links(stack, declared)] == [(first.id, "model")]


async def _verify(stack: LocalStack, ch: str) -> None:
    for stage in stack.deps.catalog.verify.stages:
        await run(stack, "alice", ch, f"check A1 stage={stage} result=pass evidence=E1 canary report")


async def test_a_confirmed_recurrence_changes_the_held_figure(clocked: LocalStack, clock: FakeClock) -> None:
    stack = clocked
    first, _ = await declare(stack, "Fraud precision drop", options="sev=2 type=data-drift model=fraud")
    ch = f"#{first.channel_name}"
    await run(stack, "alice", ch, "evidence other canary-report-17 every stage green")
    await run(stack, "alice", ch, "action Retrain on fresh labels owner=@alice due=+1w kind=fix")
    clock.advance(days=2)
    await _verify(stack, ch)
    clock.advance(days=18)
    later, _ = await declare(stack, "Fraud recall down again", options="sev=2 type=data-drift model=fraud")
    clock.advance(days=15)

    before = (await run(stack, "bob", "#general", "stats")).text()
    assert "*Verified corrective actions:* 1 · held (no confirmed recurrence) over 30 days: 100% (1 of 1) · " \
           "90 days: not measurable yet, 1 pending" in before
    assert "*Median time from action item to verified:* 2d 0h" in before
    assert "*Confirmed recurrences:* 0 of 2 incident(s)" in before

    (link,) = await _links(stack, later)
    await _click(stack, "bob", later, ActionId.RECURRENCE_CONFIRM, _offer(stack, later), link)
    after = (await run(stack, "bob", "#general", "stats")).text()
    assert "held (no confirmed recurrence) over 30 days: 0% (0 of 1) · 90 days: 0% (0 of 1)" in after
    assert "*Confirmed recurrences:* 1 of 2 incident(s)" in after
    assert "*Recurrence by model:* fraud 1/2" in after and "*Recurrence by category:* Data drift 1/2" in after
