"""The alert endpoints over HTTP: off without a token, bearer checked, bodies capped and parsed, answered after the
notice is committed, the same body twice recorded once."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from cryptography.fernet import Fernet
from sqlmodel import select

from bot.app.local import LocalStack, local_stack
from storage.alert_tables import AlertGroupRow, AlertNotice
from storage.models import Workspace
from tests.alert_payloads import am_alert, am_notification, body

TOKEN = "alert-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
async def alerting(database_url: str) -> AsyncIterator[LocalStack]:
    """The local stack with the alert endpoints on and no runner (nothing is processed)."""
    async with local_stack(database_url=database_url, alerts=False,
                           env={"retro_alert_token": TOKEN, "retro_alert_max_bytes": 64 * 1024}) as s:
        yield s


async def send(stack: LocalStack, path: str, data: bytes, headers: dict[str, str] | None = None
               ) -> tuple[int, Any, dict[str, str]]:
    """POST raw bytes; the status, the JSON answer (or None) and the headers."""
    async with aiohttp.ClientSession() as http, http.post(
            stack.base_url + path, data=data, headers={"Content-Type": "application/json", **(headers or {})}) as r:
        text = await r.text()
        return r.status, (json.loads(text) if text.startswith("{") else None), dict(r.headers)


async def notices(stack: LocalStack) -> list[AlertNotice]:
    """Every recorded notice."""
    async with stack.deps.session() as s:
        return list((await s.exec(select(AlertNotice))).all())


async def test_without_a_token_the_endpoints_do_not_exist(database_url: str) -> None:
    async with local_stack(database_url=database_url) as stack:
        assert stack.alerts is None
        status, _, _ = await send(stack, "/alerts/alertmanager", body(am_notification()), AUTH)
        assert status == 404
        assert (await send(stack, "/alerts/webhook", b"{}", AUTH))[0] == 404


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN},
                                     {"Authorization": f"Basic {TOKEN}"}, {"Authorization": f"Bearer {TOKEN}x"}])
async def test_a_missing_or_wrong_token_is_401(alerting: LocalStack, headers: dict[str, str]) -> None:
    status, answer, head = await send(alerting, "/alerts/alertmanager", body(am_notification()), headers)
    assert status == 401 and head.get("WWW-Authenticate") == "Bearer"
    assert answer == {"ok": False, "error": "a valid bearer token is required"}
    assert await notices(alerting) == []
    assert alerting.deps.metrics.registry.get_sample_value(
        "retro_alerts_total", {"source": "alertmanager", "outcome": "refused"}) == 1


async def test_a_malformed_body_is_400_with_its_reason(alerting: LocalStack) -> None:
    status, answer, _ = await send(alerting, "/alerts/alertmanager", body({"receiver": "retro"}), AUTH)
    assert status == 400 and answer == {"ok": False, "error": "`groupKey` is missing"}
    status, answer, _ = await send(alerting, "/alerts/webhook", b"not json", AUTH)
    assert status == 400 and "not valid JSON" in answer["error"]
    status, answer, _ = await send(alerting, "/alerts/webhook", body({"status": "firing"}), AUTH)
    assert status == 400 and "has no title" in answer["error"]
    assert await notices(alerting) == []
    assert alerting.deps.metrics.registry.get_sample_value(
        "retro_alerts_total", {"source": "webhook", "outcome": "malformed"}) == 2


async def test_a_body_over_the_cap_is_413(alerting: LocalStack) -> None:
    big = am_notification(*(am_alert(fingerprint=f"{i:016x}", filler="x" * 200) for i in range(300)))
    raw = body(big)
    assert len(raw) > 64 * 1024
    status, answer, _ = await send(alerting, "/alerts/alertmanager", raw, AUTH)
    assert status == 413 and answer == {"ok": False, "error": f"the body is over {64 * 1024} bytes"}
    async with aiohttp.ClientSession() as http:  # no Content-Length: the cap holds on the stream too
        async def chunks() -> AsyncIterator[bytes]:
            for i in range(0, len(raw), 8192):
                yield raw[i:i + 8192]

        async with http.post(alerting.base_url + "/alerts/alertmanager", data=chunks(), headers=AUTH) as r:
            assert r.status == 413
    assert await notices(alerting) == []


async def test_an_accepted_notification_is_committed_before_the_answer_and_a_resend_is_a_duplicate(
        alerting: LocalStack) -> None:
    raw = body(am_notification())
    status, answer, _ = await send(alerting, "/alerts/alertmanager", raw, AUTH)
    assert status == 200 and answer["ok"] is True and answer["duplicate"] is False
    (stored,) = await notices(alerting)
    assert stored.id == answer["notice"] and stored.status == "pending"
    assert stored.team_id == alerting.emulator.workspace.team_id
    assert stored.batch["group_key"] == am_notification()["groupKey"]
    status, again, _ = await send(alerting, "/alerts/alertmanager", raw, AUTH)
    assert status == 200 and again == {"ok": True, "notice": stored.id, "duplicate": True}
    assert len(await notices(alerting)) == 1
    status, generic, _ = await send(alerting, "/alerts/webhook", body({"title": "Churn drift"}), AUTH)
    assert status == 200 and generic["duplicate"] is False
    async with alerting.deps.session() as s:
        groups = {g.source for g in (await s.exec(select(AlertGroupRow))).all()}
    assert groups == {"alertmanager", "webhook"}
    sample = alerting.deps.metrics.registry.get_sample_value
    assert sample("retro_alerts_total", {"source": "alertmanager", "outcome": "accepted"}) == 1
    assert sample("retro_alerts_total", {"source": "alertmanager", "outcome": "duplicate"}) == 1


async def test_a_team_retro_is_not_installed_in_is_503(database_url: str) -> None:
    async with local_stack(database_url=database_url, alerts=False,
                           env={"retro_alert_token": TOKEN, "retro_alert_team": "T0NOWHERE"}) as stack:
        status, answer, _ = await send(stack, "/alerts/alertmanager", body(am_notification()), AUTH)
        assert status == 503 and "RETRO_ALERT_TEAM names T0NOWHERE" in answer["error"]
        assert await notices(stack) == []


async def test_without_a_team_alerts_go_to_the_only_install_and_several_installs_are_503(database_url: str) -> None:
    env = {"retro_alert_token": TOKEN, "retro_encryption_key": Fernet.generate_key().decode()}
    async with local_stack(database_url=database_url, alerts=False, oauth=True, env=env) as stack:
        status, answer, _ = await send(stack, "/alerts/alertmanager", body(am_notification()), AUTH)
        assert status == 503 and answer["error"].startswith("no workspace has Retro installed")
        async with stack.deps.session() as s:
            s.add(Workspace(team_id="T0ONE", installed_at=stack.deps.now()))
            await s.commit()
        status, answer, _ = await send(stack, "/alerts/alertmanager", body(am_notification()), AUTH)
        assert status == 200 and [n.team_id for n in await notices(stack)] == ["T0ONE"]
        async with stack.deps.session() as s:
            s.add(Workspace(team_id="T0TWO", installed_at=stack.deps.now()))
            await s.commit()
        status, answer, _ = await send(stack, "/alerts/webhook", body({"title": "x"}), AUTH)
        assert status == 503 and "several workspaces have Retro installed: set RETRO_ALERT_TEAM" in answer["error"]
