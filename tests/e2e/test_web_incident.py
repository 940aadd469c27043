"""The incident page of the web view, over real HTTP against the local stack: what it shows, who may see it, what
it refuses to run, and the live check of evidence digests."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote
from zoneinfo import ZoneInfo

from PIL import Image
from sqlalchemy import update
from sqlmodel import col

from bot.app.local import LocalStack
from bot.collectors import artifacts
from bot.incident import evidence, names
from bot.postmortem import export
from bot.record import chain
from bot.slack.people import display_names
from storage.models import Evidence, Incident, PostmortemDraft
from tests.e2e.helpers import declare, run
from tests.e2e.web_client import get, page_of
from tests.reminder_world import catalog_with

ROUTES = ("", "/postmortem", "/bundle.zip", "/incident.ipynb", "/timeline.svg", "/evidence/1/chart.png")


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (24, 12), (200, 40, 40)).save(out, format="PNG")
    return out.getvalue()


async def _collected_chart(stack: LocalStack, incident: Incident, user: str) -> bytes:
    """Evidence a collector kept with a PNG chart (stored as the bot stores one); returns the PNG."""
    data, now = _png(), stack.deps.now()
    stored = artifacts.store(stack.settings, data, media_type="image/png", name="prometheus-range.png")
    custody = {"collector": {"name": "prometheus", "version": "1"},
               "artifact": stored.record(name="prometheus-range.png", media_type="image/png")}
    item = evidence.validate("metric", "https://prometheus.example.com/graph?g0.expr=p99", "p99 over the hour", {},
                             now=now)
    async with stack.deps.session() as s:
        await evidence.add(s, incident=incident, item=item, actor=stack.driver.user(user).id, now=now,
                           custody=custody, media_type="image/png", artifact=stored.inline,
                           artifact_path=stored.path)
    return data


async def _scenario(stack: LocalStack) -> tuple[Incident, bytes]:
    incident, _ = await declare(stack, "Fraud precision drop", options="sev=2 type=data-quality model=fraud@4")
    ch = f"#{incident.channel_name}"
    await run(stack, "alice", ch, "note Precision fell from 0.92 to 0.71 at 09:40")
    await run(stack, "bob", ch, "evidence log s3://logs/etl/2026-03-12 null rate 14%")
    await run(stack, "bob", ch, "hypothesis Feature null rate spiked after the ETL change")
    await run(stack, "bob", ch, 'test H1 replay Tuesday with the old ETL expect="precision back to 0.92"')
    await run(stack, "bob", ch, "confirm H1 E1 the replay matched production")
    await run(stack, "alice", ch, "action Backfill the fraud features owner=@bob due=+3d")
    said = await stack.driver.post("bob", incident.channel_name, "Rolled the ETL back to Monday's build")
    await stack.driver.pin("alice", incident.channel_name, said)  # a key event marked after the fact
    await stack.driver.edit("bob", incident.channel_name, said, "Rolled the ETL back to Friday's build")
    await stack.driver.post("dave", incident.channel_name, "chatter that is no key event")
    png = await _collected_chart(stack, incident, "carol")
    await run(stack, "alice", ch, "postmortem")
    await stack.settle()
    return incident, png


async def test_the_page_shows_every_section_and_its_files(stack: LocalStack) -> None:
    incident, png = await _scenario(stack)
    page = await get(stack, page_of(incident), "alice")
    assert page.status == 200, page.text
    html = page.text
    assert "Fraud precision drop" in html and f"#{incident.channel_name}" in html and "fraud@4" in html
    severity = stack.deps.catalog.severity(2)
    category = stack.deps.catalog.category("data-quality")
    assert severity is not None and category is not None
    assert severity.name in html and category.name in html
    for heading in ("Key times", "Timeline picture", "Status history", "Roles", "Key events", "Evidence",
                    "Hypotheses", "Actions", "Postmortem", "Full timeline"):
        assert f">{heading}</h2>" in html, heading
    assert "Time to detect" in html and "Time to resolve" in html and "Time to insight" in html
    assert '<svg class="picture"' in html and '<g class="event"' in html and "<title>" in html
    assert '<script src="/web/static/picture.js" defer></script>' in html and "<script>" not in html
    assert "Feature null rate spiked after the ETL change" in html and "replay Tuesday with the old ETL" in html
    assert "precision back to 0.92" in html and ">confirmed</span>" in html and 'href="#E1">E1</a>' in html
    assert "Backfill the fraud features" in html and '<span class="badge warn">unverified</span>' in html
    assert "Precision fell from 0.92 to 0.71" in html and "Incident commander" in html
    key_events = html.split('id="key">')[1].split("</section>")[0]
    assert "Rolled the ETL back to Friday&#39;s build" in key_events and "Monday" not in key_events
    assert "chatter that is no key event" not in key_events and "chatter that is no key event" in html
    assert html.count(">verifies</span>") == 2 and "does not verify" not in html
    assert f'src="/web/incidents/{incident.id}/evidence/2/chart.png?k=0"' in html
    assert "/postmortem?version=1" in html
    for name in ("bundle.zip", "incident.ipynb", "timeline.svg"):
        assert f'href="/web/incidents/{incident.id}/{name}"' in html
    assert page.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert page.headers["Referrer-Policy"] == "no-referrer"

    chart = await get(stack, page_of(incident, "/evidence/2/chart.png"), "alice")
    assert (chart.status, chart.headers["Content-Type"], chart.body) == (200, "image/png", png)
    assert (await get(stack, page_of(incident, "/evidence/1/chart.png"), "alice")).status == 404
    svg = await get(stack, page_of(incident, "/timeline.svg"), "alice")
    assert svg.status == 200 and svg.headers["Content-Type"].startswith("image/svg+xml") and "<svg" in svg.text
    notebook = await get(stack, page_of(incident, "/incident.ipynb"), "alice")
    assert notebook.status == 200 and '"nbformat"' in notebook.text and "Fraud precision drop" in notebook.text
    postmortem = await get(stack, page_of(incident, "/postmortem"), "alice")
    assert postmortem.status == 200 and "<h1>" in postmortem.text and "Fraud precision drop" in postmortem.text
    stored = await get(stack, page_of(incident, "/postmortem?version=1"), "alice")
    assert stored.status == 200 and "Draft v1" in stored.text
    assert (await get(stack, page_of(incident, "/postmortem?version=9"), "alice")).status == 404


async def test_the_full_timeline_comes_a_hundred_entries_a_page(stack: LocalStack) -> None:
    incident, _ = await declare(stack, "Latency drift", options="sev=3 type=infrastructure")
    alice, at = stack.driver.user("alice").id, stack.deps.now()
    async with stack.deps.session() as s:
        for n in range(150):
            await chain.append(s, incident_id=incident.id or 0, kind="message", at=at, actor=alice,
                               text=f"probe number {n:03d} checked")
        await s.commit()
    stack.deps.catalog = catalog_with(timezone="Europe/Berlin")
    berlin = at.astimezone(ZoneInfo("Europe/Berlin")).strftime("%Y-%m-%d %H:%M %Z")
    first = (await get(stack, page_of(incident), "alice")).text
    assert "probe number 000" in first and "probe number 149" not in first and "Page 1 of 2" in first
    second = (await get(stack, page_of(incident, "?page=2"), "alice")).text
    assert "probe number 149" in second and "probe number 000 checked</td>" not in second
    rows = re.findall(r"<tr><td>(\d+)</td>", second)
    assert rows[0] == "101" and len(rows) == int(incident.entry_count) + 150 - 100
    slack_name = (await display_names(stack.bolt.client, [alice]))[alice]  # no name kept: Slack is asked
    assert f"<td>{berlin}</td><td>{slack_name}</td><td>message</td>" in second and f"<td>{alice}</td>" not in second
    async with stack.deps.session() as s:
        await names.remember(s, incident.team_id, {alice: "Alice Liddell"}, stack.deps.now())
    named = (await get(stack, page_of(incident, "?page=2"), "alice")).text
    assert f"<td>{berlin}</td><td>Alice Liddell</td><td>message</td>" in named and f"<td>{alice}</td>" not in named


async def test_a_private_incident_is_seen_only_by_members_of_its_channel(stack: LocalStack) -> None:
    incident, _ = await declare(stack, "Jailbreak of support bot", options="sev=1 type=adversarial")
    assert incident.private
    for tail in ROUTES[:5]:
        outsider = await get(stack, page_of(incident, tail), "erin")
        assert outsider.status == 404, tail
        assert "Jailbreak" not in outsider.text and "Not found" in outsider.text
    assert (await get(stack, page_of(incident), "alice")).status == 200
    await stack.driver.invite("alice", incident.channel_name, "erin")
    await stack.settle()
    assert (await get(stack, page_of(incident), "erin")).status == 200
    missing = await get(stack, "/web/incidents/99999", "alice")
    assert missing.status == 404 and missing.text.count("Not found") >= 1


async def test_the_badge_says_does_not_verify_once_evidence_is_tampered_with(stack: LocalStack) -> None:
    incident, _ = await declare(stack, "Ranking quality drop", options="sev=2 type=data-drift")
    await run(stack, "alice", f"#{incident.channel_name}", "evidence log s3://logs/rank/2026-03-12 ndcg fell")
    assert ">verifies</span>" in (await get(stack, page_of(incident), "alice")).text
    async with stack.deps.session() as s:
        await s.exec(update(Evidence).where(col(Evidence.incident_id) == incident.id)
                     .values(note="ndcg was fine all along"))
        await s.commit()
    html = (await get(stack, page_of(incident), "alice")).text
    assert "does not verify" in html and ">verifies</span>" not in html
    assert "no longer matches its SHA-256" in html


async def test_user_text_is_escaped_and_postmortem_links_cannot_run(stack: LocalStack) -> None:
    incident, _ = await declare(stack, "<script>alert(1)</script> drift", options="sev=2 type=data-drift")
    await run(stack, "alice", f"#{incident.channel_name}", "note <img src=x onerror=alert(2)> seen in logs")
    html = (await get(stack, page_of(incident), "alice")).text
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(2)&gt;" in html
    async with stack.deps.session() as s:
        s.add(PostmortemDraft(team_id=incident.team_id, incident_id=incident.id or 0, version=7, sha256="0" * 64,
                              markdown="# Review\n\n[x](javascript:alert(3)) and <script>alert(4)</script>\n\n"
                                       "[ok](https://example.com/runbook)\n",
                              drafted_by=stack.driver.user("alice").id,
                              drafted_at=stack.deps.now() + timedelta(minutes=1)))
        await s.commit()
    draft = (await get(stack, page_of(incident, "/postmortem?version=7"), "alice")).text
    assert 'href="javascript' not in draft and "[x](javascript:alert(3))" in draft
    assert "<script>alert(4)</script>" not in draft and "&lt;script&gt;alert(4)&lt;/script&gt;" in draft
    assert '<a href="https://example.com/runbook">ok</a>' in draft
    live = (await get(stack, page_of(incident, "/postmortem"), "alice")).text
    assert "<script>alert(1)</script>" not in live and "<img src=x" not in live


async def test_signed_out_requests_go_to_sign_in(stack: LocalStack) -> None:
    incident, _ = await declare(stack, "Fraud precision drop", options="sev=2 type=data-quality")
    for tail in ROUTES:
        answer = await get(stack, page_of(incident, tail))
        assert answer.status == 302, tail
        where = unquote(answer.headers["Location"])
        assert where == f"/web/signin?next=/web/incidents/{incident.id}{tail}", tail
        assert "Fraud precision" not in answer.text


async def test_the_bundle_downloads_zipped_and_verifies(stack: LocalStack, tmp_path: Path) -> None:
    incident, png = await _scenario(stack)
    answer = await get(stack, page_of(incident, "/bundle.zip"), "alice")
    assert answer.status == 200 and answer.headers["Content-Type"] == "application/zip"
    assert answer.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert answer.headers["Cache-Control"] == "no-store" and answer.headers["X-Content-Type-Options"] == "nosniff"
    assert f'filename="{incident.channel_name}-bundle.zip"' in answer.headers["Content-Disposition"]
    with zipfile.ZipFile(io.BytesIO(answer.body)) as zf:
        names = zf.namelist()
        zf.extractall(tmp_path)
    folder = tmp_path / f"{incident.channel_name}-bundle"
    assert f"{incident.channel_name}-bundle/{export.MANIFEST}" in names
    report = export.verify_bundle(folder)
    assert report.ok, report.checks
    assert png in [p.read_bytes() for p in folder.rglob("*.png")]  # the collected chart travels with it
    assert "Fraud precision drop" in (folder / export.POSTMORTEM).read_text(encoding="utf-8")
    # The page draws its picture from the entries the story needs only: the same picture as the bundle's.
    picture = await get(stack, page_of(incident, "/timeline.svg"), "alice")
    assert picture.body == (folder / export.PICTURE).read_bytes()
    assert "Friday&#x27;s build" in picture.text or "Friday's build" in picture.text


async def test_people_slack_cannot_name_are_asked_once_not_on_every_view(stack: LocalStack) -> None:
    incident, _ = await declare(stack, "Latency drift", options="sev=3 type=infrastructure")
    async with stack.deps.session() as s:
        for n in range(3):
            await chain.append(s, incident_id=incident.id or 0, kind="message", at=stack.deps.now(),
                               actor=f"U0GONE{n}", text=f"left the company before this ran ({n})")
        await s.commit()
    before = len(stack.emulator.calls_for("users.info"))
    first = await get(stack, page_of(incident), "alice")
    assert first.status == 200 and "<td>U0GONE1</td>" in first.text  # the id stands in for a name Slack lacks
    asked = len(stack.emulator.calls_for("users.info")) - before
    assert asked >= 3
    for _ in range(3):
        assert (await get(stack, page_of(incident), "alice")).status == 200
    assert len(stack.emulator.calls_for("users.info")) - before == asked  # not asked again within the hour
