"""Process audits through Slack: `/retro audit` names what an incident's retrospective left undone (a hypothesis
without a verdict, an artifact changed after it was collected, an unverified mitigation), keeps the report with its
digest, `/retro audits` lists it (and notices a stored report that was changed); the monthly audit is posted once to
the digest channel."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import web
from sqlalchemy import update
from sqlmodel import col, select

from bot.app.local import LocalStack, local_stack
from bot.app.scheduler import ReminderScheduler
from bot.canonical import canonical_json, sha256_hex
from storage.loop_tables import ProcessAudit
from storage.models import Evidence, Incident
from tests.conftest import FakeClock
from tests.e2e.helpers import declare, run
from tests.local_web import serving
from tests.reminder_world import T0, catalog_with

LOG = b"14:08 WARN feature store lag 45s\n14:10 ERROR scorer timeout\n"


@pytest.fixture
async def audited(database_url: str, t0: FakeClock) -> AsyncIterator[tuple[LocalStack, Incident]]:
    """A closed incident whose retrospective has gaps: H2 without a verdict, A1 (a monitor) never verified, no
    review asked for; E1 is a log snapshot collected from a loopback server."""

    async def handle(request: web.Request) -> web.Response:
        return web.Response(body=LOG, content_type="text/plain")

    env = {"retro_fetch_allow": "127.0.0.1", "retro_fetch_allow_private": "true"}
    async with serving(handle) as url, local_stack(database_url=database_url, clock=t0, env=env) as stack:
        stack.deps.catalog = catalog_with(verify={"close_requires_verified": "off"})
        incident, _ = await declare(stack, "Scorer timeouts", options="sev=2 type=data-drift")
        ch = incident.channel_name
        for text in (f"evidence log {url}/scorer.log timeouts at 14:10", "hypothesis The feature store lags",
                     "hypothesis The new scorer build is slower", "confirm H1 E1 lag matches the timeouts",
                     "action Alert on feature store lag owner=@bob due=+3d kind=monitor", "done A1 alert added",
                     "status resolved lag gone", "postmortem", "status closed"):
            await run(stack, "alice", ch, text)
        async with stack.deps.session() as s:
            row = (await s.exec(select(Incident).where(Incident.id == incident.id))).one()
            assert row.status == "closed"
            assert (await s.exec(select(Evidence).where(Evidence.incident_id == row.id))).one().artifact == LOG
        yield stack, row


async def _audits(stack: LocalStack) -> list[ProcessAudit]:
    async with stack.deps.session() as s:
        return list((await s.exec(select(ProcessAudit).order_by(col(ProcessAudit.id)))).all())


async def test_an_audit_names_a_missing_verdict_and_a_tampered_artifact(
        audited: tuple[LocalStack, Incident], t0: FakeClock) -> None:
    stack, incident = audited
    async with stack.deps.session() as s:  # someone edits the stored log after it was collected
        await s.exec(update(Evidence).where(col(Evidence.incident_id) == incident.id)
                     .values(artifact=LOG.replace(b"45s", b"4s")))
        await s.commit()
    t0.current += timedelta(days=1)
    for text in ("audit period=forever", "audit last quarter", "audit since=30d"):  # bad input: nothing kept
        assert "/retro audit [period=90d]" in (await run(stack, "carol", "#general", text)).text()
    assert await _audits(stack) == []
    reply = (await run(stack, "carol", "#general", "audit period=30d")).text()
    assert "Process audit 1 · incidents closed in the last 30d" in reply
    assert "• Every hypothesis has a verdict: *H2* has no verdict — _The new scorer build is slower_" in reply
    assert "• Evidence matches its digests: *E1* the stored artifact does not match its recorded SHA-256" in reply
    assert "• Every mitigation verified: *A1* is unverified — _Alert on feature store lag_" in reply
    assert "• Review approved: the review is not requested" in reply
    assert f"#{incident.channel_id} Scorer timeouts" in reply  # its channel's link, then its title
    assert "• Chain verifies: 1/1" in reply and "• Every hypothesis has a verdict: 0/1" in reply
    (audit,) = await _audits(stack)
    assert audit.run_by == stack.driver.user("carol").id and audit.report_sha256 == \
        sha256_hex(canonical_json(audit.report))
    checks = audit.report["incidents"][0]["checks"]
    assert checks["chain"]["ok"] and checks["postmortem"]["ok"] and not checks["artifacts"]["ok"]
    assert [g["item"] for g in checks["verdicts"]["gaps"]] == ["H2"] and checks["overdue"]["ok"]
    # chain, postmortem and overdue pass; artifacts, review, verdicts and mitigations do not
    assert audit.score == audit.report["score"] == "0.43" and audit.report["previous_sha256"] is None
    assert f"score 0.43 · report SHA-256 `{audit.report_sha256[:16]}…`" in reply

    second = (await run(stack, "carol", "#general", "audit")).text()
    assert "Process audit 2 · incidents closed in the last 90d" in second
    first, again = await _audits(stack)
    assert again.report["previous_sha256"] == first.report_sha256  # the audits chain
    async with stack.deps.session() as s:  # and a stored report changed afterwards shows
        changed = {**first.report, "score": "1.00"}
        await s.exec(update(ProcessAudit).where(col(ProcessAudit.id) == first.id).values(report=changed))
        await s.commit()
    listed = (await run(stack, "carol", "#general", "audits")).text()
    assert "Process audits (2)" in listed
    assert listed.index("*Audit 2*") < listed.index("*Audit 1*")
    assert ":white_check_mark: report intact" in listed.split("*Audit 1*")[0]
    assert ":x: report does not match its SHA-256" in listed.split("*Audit 1*")[1]


async def test_the_monthly_audit_is_posted_once_to_the_digest_channel(audited: tuple[LocalStack, Incident],
                                                                       t0: FakeClock) -> None:
    stack, incident = audited
    stack.deps.catalog = catalog_with(digest={"channel": "#ml-incidents"},
                                      verify={"close_requires_verified": "off"})
    target = stack.emulator.create_channel("ml-incidents", creator="alice")
    assert T0.month == 3
    t0.current = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
    scheduler = ReminderScheduler(stack.deps, stack.bolt.client)
    assert (await scheduler.audit_month()).sent == 1
    await stack.settle()
    (posted,) = stack.driver.bot_messages(target)
    text = str(posted.get("text")) + str(posted.get("blocks"))
    assert "Process audit 1 · incidents closed in March 2026" in text and "*H2* has no verdict" in text
    assert (posted.get("metadata") or {}).get("event_payload", {}).get("kind") == "audit"
    (audit,) = await _audits(stack)
    assert audit.run_by == "schedule" and audit.report["month"] == "2026-03"
    assert audit.period_start == datetime(2026, 3, 1, tzinfo=UTC)
    assert [i["id"] for i in audit.report["incidents"]] == [incident.id]
    t0.current += timedelta(hours=2)  # another replica, or a restart's catch-up: the month is not audited twice
    assert (await scheduler.audit_month()).sent == 0
    await stack.settle()
    assert len(stack.driver.bot_messages(target)) == 1 and len(await _audits(stack)) == 1
