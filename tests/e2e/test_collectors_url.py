"""URL snapshots through Slack: fetched only for allow-listed hosts, SSRF refused and recorded, links stay links."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from sqlmodel import select

from bot.app.local import LocalStack, local_stack
from sandbox import CommandResult
from storage.models import Evidence
from tests.e2e.helpers import declare, entries, run
from tests.local_web import serving

LOG = b"14:08 WARN feature store lag 45s\n14:10 ERROR scorer timeout\n"


@pytest.fixture
async def logs() -> AsyncIterator[tuple[str, list[str]]]:
    """A loopback log server; yields its URL and the paths it was asked for."""
    hits: list[str] = []

    async def handle(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(body=LOG, content_type="text/plain")

    async with serving(handle) as url:
        yield url, hits


async def settled(result: CommandResult, *needles: str) -> str:
    deadline = asyncio.get_running_loop().time() + 20
    while not any(n in result.text() for n in needles):
        assert asyncio.get_running_loop().time() < deadline, result.text()
        await asyncio.sleep(0.05)
    return result.text()


async def only_item(stack: LocalStack, incident_id: int) -> Evidence:
    async with stack.deps.session() as s:
        (row,) = (await s.exec(select(Evidence).where(Evidence.incident_id == incident_id))).all()
        return row


async def test_an_allowed_log_is_snapshotted_with_its_custody(database_url: str,
                                                              logs: tuple[str, list[str]]) -> None:
    url, hits = logs
    env = {"retro_fetch_allow": "127.0.0.1", "retro_fetch_allow_private": "true"}
    async with local_stack(database_url=database_url, env=env) as stack:
        incident, _ = await declare(stack, "Scorer timeouts")
        result = await run(stack, "alice", incident.channel_name, f"evidence log {url}/scorer.log timeouts at 14:10")
        text = await settled(result, "Collected *E1*")
        assert "Collecting a snapshot of" in text and "bytes of text/plain from 127.0.0.1" in text
        e1 = await only_item(stack, incident.id or 0)
        assert e1.status == "ok" and e1.artifact == LOG and e1.media_type == "text/plain"
        assert e1.note == "timeouts at 14:10" and e1.ref == f"<{url}/scorer.log>"
        c = e1.custody
        assert c["collector"]["name"] == "url" and c["source_url"] == f"{url}/scorer.log"
        assert c["artifact"]["sha256"] == hashlib.sha256(LOG).hexdigest() and c["artifact"]["name"] == "scorer.txt"
        assert c["request"] == {"method": "GET", "url": f"{url}/scorer.log"}
        assert c["requested_by"] == stack.driver.user("alice").id and c["retrieved_at"] >= c["requested_at"]
        assert hits == ["/scorer.log"]


async def test_an_ssrf_attempt_is_refused_and_recorded_as_a_failed_attempt(database_url: str,
                                                                            logs: tuple[str, list[str]]) -> None:
    url, hits = logs
    async with local_stack(database_url=database_url, env={"retro_fetch_allow": "127.0.0.1,169.254.169.254"}) as stack:
        incident, _ = await declare(stack, "Dashboard unreachable")
        ch = incident.channel_name
        first = await run(stack, "bob", ch, f"evidence dashboard {url}/d/latency")
        text = await settled(first, "failed attempt")
        assert "it is a loopback address" in text and "Recorded *E1* as a failed attempt" in text
        meta = await run(stack, "bob", ch, "evidence config http://169.254.169.254/latest/meta-data/iam")
        assert "cloud metadata address" in await settled(meta, "failed attempt")
        assert hits == []
        rows = [e for e in await entries(stack, incident.id or 0) if e.kind == "evidence_added"]
        assert [r.data["status"] for r in rows] == ["failed", "failed"]
        assert "loopback" in rows[0].data["error"] and rows[0].data["collector"] == "url"


async def test_links_stay_links_when_nothing_is_allow_listed(database_url: str,
                                                             logs: tuple[str, list[str]]) -> None:
    url, hits = logs
    async with local_stack(database_url=database_url) as stack:
        incident, _ = await declare(stack, "Config drift")
        result = await run(stack, "carol", incident.channel_name, f"evidence config {url}/flags.yaml")
        assert "Recorded *E1* (config)" in result.text() and "Collecting" not in result.text()
        e1 = await only_item(stack, incident.id or 0)
        assert e1.status == "ok" and e1.artifact is None and e1.custody == {}
        assert hits == []
