"""The web view's lists over real HTTP: the incidents page (filters, search, pages, private incidents), the trends
page (medians per month, drawn and tabled, private incidents left out) and the pattern library."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import aiohttp
from sqlmodel import col, select

from bot.app.local import LocalStack
from bot.app.web import session
from bot.insights.recurrence import decide
from storage.loop_tables import IncidentLink
from storage.models import Incident
from tests.e2e.helpers import declare, run
from tests.e2e.web_client import get

SCRIPT = '<script>alert("x")</script> & <b>label</b> noise'


async def page(stack: LocalStack, user: str | None, path: str, **query: str) -> tuple[int, str]:
    """GET a page of the web view as someone (None: signed out); redirects are not followed."""
    answer = await get(stack, path, user, query=query)
    return answer.status, answer.text


async def moved(stack: LocalStack, named: str, **values: object) -> Incident:
    """Set an incident's columns directly (times and titles the test needs to know exactly)."""
    async with stack.deps.session() as s:
        row = (await s.exec(select(Incident).where(Incident.title == named))).one()
        for name, value in values.items():
            setattr(row, name, value)
        s.add(row)
        await s.commit()
        await s.refresh(row)
        return row


async def _world(stack: LocalStack) -> None:
    """Three public incidents that differ in every filter, and a private one only alice is in."""
    fraud, _ = await declare(stack, "Fraud scores drift", options="sev=2 type=data-drift model=fraud@4.2")
    await run(stack, "alice", f"#{fraud.channel_name}", "status mitigated")
    await declare(stack, "Latency spike in ranking", options="sev=3 type=infrastructure model=ranker")
    await moved(stack, "Latency spike in ranking", created_at=stack.deps.now() - timedelta(days=60))
    await declare(stack, "Label noise", options="sev=4 type=data-quality")
    await moved(stack, "Label noise", title=SCRIPT)
    await declare(stack, "Jailbreak of support bot", options="sev=1 type=adversarial")


TITLES = ("Fraud scores drift", "Latency spike in ranking", "label</b> noise", "Jailbreak of support bot")


def shown(body: str) -> set[str]:
    """Which of the world's incidents a page lists (by their titles)."""
    return {t for t in TITLES if t in body or t.replace("</b>", "&lt;/b&gt;") in body}


async def test_the_list_filters_searches_and_keeps_private_incidents_to_their_members(stack: LocalStack) -> None:
    await _world(stack)
    status, body = await page(stack, "erin", "/web/")
    assert status == 200
    assert shown(body) == {"Fraud scores drift", "Latency spike in ranking", "label</b> noise"}
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;label&lt;/b&gt; noise" in body
    assert "<script>" not in body and "<b>label" not in body
    status, mine = await page(stack, "alice", "/web/")
    assert status == 200 and "Jailbreak of support bot" in shown(mine)
    fraud = await moved(stack, "Fraud scores drift")
    assert f'href="/web/incidents/{fraud.id}"' in body
    narrowed = {"status": ({"status": "mitigated"}, {"Fraud scores drift"}),
                "severity": ({"severity": "3"}, {"Latency spike in ranking"}),
                "category": ({"category": "data-quality"}, {"label</b> noise"}),
                "model": ({"model": "ranker"}, {"Latency spike in ranking"}),
                "period": ({"period": "30d"}, {"Fraud scores drift", "label</b> noise"}),
                "search": ({"q": "fraud"}, {"Fraud scores drift"}),
                "search words": ({"q": "spike ranking"}, {"Latency spike in ranking"}),
                "together": ({"period": "30d", "severity": "2"}, {"Fraud scores drift"})}
    for name, (query, expected) in narrowed.items():
        status, body = await page(stack, "erin", "/web/", **query)
        assert status == 200, name
        assert shown(body) == expected, (name, shown(body))
    status, body = await page(stack, "alice", "/web/", category="adversarial")
    assert shown(body) == {"Jailbreak of support bot"}
    status, body = await page(stack, "erin", "/web/", category="adversarial")
    assert shown(body) == set() and "No incident matches" in body
    status, body = await page(stack, "alice", "/web/", q="jailbreak")  # search finds a member's private incident
    assert shown(body) == {"Jailbreak of support bot"}
    status, body = await page(stack, "erin", "/web/", q="jailbreak")  # and nobody else's
    assert shown(body) == set()
    status, body = await page(stack, "erin", "/web/", q="nothingmatchesthis")
    assert status == 200 and shown(body) == set() and "No incident matches" in body


async def test_bad_filter_values_are_set_aside_with_a_note(stack: LocalStack) -> None:
    await _world(stack)
    status, body = await page(stack, "erin", "/web/", status="bogus", severity="99", category="<nope>",
                              period="1y", page="-3", model="zzz", q="x")
    assert status == 200
    assert shown(body) == {"Fraud scores drift", "Latency spike in ranking", "label</b> noise"}
    for said in ("Status “bogus”", "Severity “99”", "Category “&lt;nope&gt;”", "Period “1y”", "not a page",
                 "the model “zzz”", "two letters or more"):
        assert said in body, said
    status, body = await page(stack, "erin", "/web/", page="7")
    assert status == 200 and "only 1 page(s)" in body and "Fraud scores drift" in body
    status, body = await page(stack, "erin", "/web/stats", period="7y", category="nope")
    assert status == 200 and "Period “7y”" in body and "Category “nope”" in body
    status, body = await page(stack, "erin", "/web/stats", period="all")
    assert status == 200 and "<strong>3 incident(s)</strong> declared in all time" in body


async def test_the_list_pages_fifty_at_a_time(stack: LocalStack) -> None:
    await declare(stack, "Seed incident", options="sev=3 type=infrastructure")
    seed = await moved(stack, "Seed incident")
    base = stack.deps.now() - timedelta(days=1)
    async with stack.deps.session() as s:
        for n in range(1, 56):
            s.add(Incident(team_id=seed.team_id, channel_id=f"C{n:08d}", channel_name=f"bulk-{n:02d}",
                           title=f"Bulk incident {n:02d}", severity=3, category="infrastructure",
                           declared_by=seed.declared_by, created_at=base - timedelta(minutes=n)))
        await s.commit()
    _, first = await page(stack, "erin", "/web/")
    _, second = await page(stack, "erin", "/web/", page="2")
    assert "Bulk incident 01" in first and "Bulk incident 49" in first and "Bulk incident 50" not in first
    assert "Bulk incident 50" in second and "Bulk incident 55" in second and "Seed incident" not in second
    assert "page 2 of 2" in second and 'href="/web/?page=2"' in first and 'rel="prev"' in second


async def test_signed_out_requests_go_to_sign_in_and_show_nothing(stack: LocalStack) -> None:
    await _world(stack)
    for path in ("/web/", "/web/stats", "/web/patterns"):
        status, body = await page(stack, None, path)
        assert status == 302, path
        assert not shown(body), path
        async with aiohttp.ClientSession() as http, http.get(
                f"{stack.base_url}{path}", allow_redirects=False,
                headers={"Cookie": f"{session.COOKIE}=forged.value"}) as resp:
            assert resp.status == 302 and resp.headers["Location"].startswith("/web/signin?next=")
            assert not shown(await resp.text())


def _last_month(now: datetime) -> datetime:
    """Noon on the 10th of last month: inside the last 90 days, one calendar month."""
    return (now.replace(day=1) - timedelta(days=1)).replace(day=10, hour=12, minute=0, second=0, microsecond=0)


async def test_trends_chart_the_medians_of_what_the_viewer_may_see(stack: LocalStack) -> None:
    # Three public incidents mitigated 1h, 2h and 6h after detection (resolved at 2h, 4h, 10h), and a private one
    # mitigated after 30h: its members see a median of 4h, everyone else 2h and a note that one was left out.
    at = _last_month(stack.deps.now())
    month = f"{at:%Y-%m}"
    for n, (mitigate, resolve) in enumerate(((1, 2), (2, 4), (6, 10), (30, 40))):
        title = f"Drift {n}"
        await declare(stack, title, options="sev=1 type=adversarial" if n == 3 else "sev=2 type=data-drift "
                                            f"model=fraud@{n}")
        await moved(stack, title, created_at=at, detected_at=at, mitigated_at=at + timedelta(hours=mitigate),
                    resolved_at=at + timedelta(hours=resolve))
    status, body = await page(stack, "erin", "/web/stats")
    assert status == 200
    rows = re.findall(r"<tr><th scope=\"row\">" + month + r"</th>(.*?)</tr>", body)
    assert rows, body
    times = rows[0]
    assert "<td>3</td>" in times and "2h 00m (3)" in times and "4h 00m (3)" in times
    assert "1 private incident(s) of this period" in body
    assert body.count('role="img"') >= 3 and "Time to mitigate, " + month + ": 2 h" in body
    assert "Jailbreak" not in body and "Drift 3" not in body
    status, mine = await page(stack, "alice", "/web/stats")
    times = re.findall(r"<tr><th scope=\"row\">" + month + r"</th>(.*?)</tr>", mine)[0]
    assert "<td>4</td>" in times and "4h 00m (4)" in times and "private incident(s) of this period" not in mine
    _, narrowed = await page(stack, "alice", "/web/stats", category="adversarial")
    assert "<strong>1 incident(s)</strong>" in narrowed and "1d 6h (1)" in narrowed
    _, empty = await page(stack, "erin", "/web/stats", category="config-error")
    assert "Nothing to chart" in empty


async def test_the_pattern_library_lists_saved_cards(stack: LocalStack) -> None:
    incident, _ = await declare(stack, "Fraud scores drift after the pipeline change",
                                options="sev=2 type=data-drift model=fraud@4.2")
    ch = f"#{incident.channel_name}"
    _, empty = await page(stack, "erin", "/web/patterns")
    assert "No pattern yet" in empty
    await run(stack, "bob", ch, "hypothesis The feature store served a <stale> snapshot")
    await run(stack, "bob", ch, "evidence log s3://logs/features/2026-03-01 snapshot age 26h")
    await run(stack, "bob", ch, 'test H1 replay one hour of traffic expect="scores back to the reference"')
    await run(stack, "bob", ch, "confirm H1 E1 the replay matched")
    await run(stack, "alice", ch, "action Add a snapshot freshness guard owner=@bob due=+7d kind=guardrail "
                                  "hypothesis=H1")
    await run(stack, "bob", ch, 'pattern save H1 name="Stale feature snapshot"')
    status, body = await page(stack, "erin", "/web/patterns")
    assert status == 200
    for said in ("P1 · Stale feature snapshot", "Data drift", "fraud", "served a &lt;stale&gt; snapshot",
                 "replay one hour of traffic", "scores back to the reference", "Add a snapshot freshness guard",
                 "Not validated yet", f'href="/web/incidents/{incident.id}"'):
        assert said in body, said
    async with stack.deps.session() as s:  # made private since: the card stays, its source is not named
        row = (await s.exec(select(Incident).where(col(Incident.id) == incident.id))).one()
        row.private, row.channel_id = True, "C0GONE"
        s.add(row)
        await s.commit()
    _, body = await page(stack, "erin", "/web/patterns")
    assert "Stale feature snapshot" in body and f"/web/incidents/{incident.id}" not in body
    assert "Fraud scores drift after" not in body


async def test_trends_count_closed_and_verified_actions_and_link_recurrences(stack: LocalStack) -> None:
    first, _ = await declare(stack, "Fraud scores drift", options="sev=2 type=data-drift model=fraud@4.2")
    ch = f"#{first.channel_name}"
    await run(stack, "bob", ch, "evidence log s3://logs/features/2026-03-01 snapshot age 26h")
    await run(stack, "alice", ch, "action Add a snapshot freshness guard owner=@bob due=+7d kind=guardrail")
    await run(stack, "alice", ch, "action Write the runbook owner=@bob due=+7d")
    await run(stack, "bob", ch, "done A1")
    for stage in stack.deps.catalog.verify.stages:
        await run(stack, "bob", ch, f"check A1 stage={stage} result=pass evidence=E1 {stage} report clean")
    second, _ = await declare(stack, "Fraud scores drifting again", options="sev=3 type=data-drift model=fraud@4.3")
    async with stack.deps.session() as s:
        link = (await s.exec(select(IncidentLink).where(IncidentLink.incident_id == second.id))).one()
        await decide(s, link_id=link.id or 0, team_id=second.team_id, channel_id=second.channel_id, confirmed=True,
                     actor="U0DAVE", now=stack.deps.now())
    status, body = await page(stack, "erin", "/web/stats")
    assert status == 200
    month = f"{stack.deps.now():%Y-%m}"
    assert (f'<tr><th scope="row">{month}</th><td>2</td><td>1</td><td>50%</td><td>1</td><td>100%</td></tr>'
            in body), body
    assert "Closure rate, " + month + ": 50%" in body and "Verification rate, " + month + ": 100%" in body
    recurrences = body[body.index("<caption>Confirmed recurrences</caption>"):]
    assert (f'<a href="/web/incidents/{second.id}">Fraud scores drifting again</a>' in recurrences
            and f'<a href="/web/incidents/{first.id}">Fraud scores drift</a>' in recurrences)
    assert "1 of 2 incident(s) were confirmed as recurrences" in body
    assert '<tr><th scope="row">fraud</th><td>2</td><td>1</td></tr>' in body
    assert '<tr><th scope="row">fraud</th><td>2</td><td>1</td><td>50%</td></tr>' in body  # the recurrence rate
    assert "Recurrence rate by model. fraud 50%" in body
