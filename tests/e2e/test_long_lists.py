"""Long lists and big messages: every item reaches Slack, within its caps, on some message or page."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from bot.app.local import LocalStack
from bot.app.scheduler import ReminderScheduler
from bot.followup import action_items
from bot.ids import ActionId
from bot.incident import evidence, hypotheses
from tests.e2e.helpers import declare, entries, many_open_items, run
from tests.reminder_world import ALICE, BOB, T0, catalog_with


def _numbers(pattern: str, blocks: Any) -> list[int]:
    return [int(n) for n in re.findall(pattern, str(blocks))]


async def test_a_digest_of_200_open_items_arrives_complete(clocked: LocalStack) -> None:
    stack, drv = clocked, clocked.driver
    stack.deps.catalog = catalog_with(digest={"channel": "ml-followups"})
    stack.emulator.create_channel("ml-followups", creator="alice")
    incident, _ = await declare(stack, "Fraud precision drop", options="sev=3 type=data-quality")
    await many_open_items(stack, incident, 200, owner=BOB, actor=ALICE)
    stack.deps.now = lambda: T0 + timedelta(days=7)  # type: ignore[method-assign]
    report = await ReminderScheduler(stack.deps, stack.bolt.client).digest()
    await stack.settle()
    assert report.sent == 1
    posts = drv.bot_messages("#ml-followups")
    first, replies = posts[0], posts[1:]
    assert replies and all(m.get("thread_ts") == first["ts"] for m in replies)
    seen = sorted(n for m in posts for n in _numbers(r"Task(\d{3})", m["blocks"]))
    assert seen == list(range(1, 201))
    assert "200 open action items, 100 overdue" in str(first["blocks"])
    # In order, and at Slack's pace of about a post a second per channel: no part was refused on the way.
    parts = [int(n) for m in posts for n in re.findall(r"part (\d+) of", str(m["text"]))]
    assert len(posts) > 3 and parts == list(range(1, len(posts) + 1))
    posted = stack.emulator.calls_for("chat.postMessage")
    assert posted and not [c for c in posted if c.ratelimited]


async def test_evidence_of_200_items_is_listed_across_pages(stack: LocalStack) -> None:
    incident, _ = await declare(stack, "Feature store lag")
    async with stack.deps.session() as session:
        for n in range(1, 201):
            item = evidence.validate("log", f"https://logs.example/run/{n}", "worker stalled " * 40, {},
                                     now=stack.deps.now())
            await evidence.add(session, incident=incident, item=item, actor=ALICE, now=stack.deps.now())
    channel = f"#{incident.channel_name}"
    result = await run(stack, "alice", channel, "evidence")
    (reply,) = result.collected()
    seen: list[int] = []
    for _ in range(200):
        blocks = reply["blocks"]
        seen += _numbers(r"\*E(\d+)\*", blocks)
        buttons = [el for b in blocks if b["type"] == "actions" for el in b["elements"]
                   if el["action_id"].startswith(ActionId.EVIDENCE_PAGE) and el["action_id"].endswith(":next")]
        if not buttons:
            break
        await stack.driver.click("alice", channel=channel, message_ts=reply["ts"], action_id=buttons[0]["action_id"],
                                 value=buttons[0]["value"])
        await stack.settle()
        (reply,) = [e for e in stack.driver.ephemerals("alice") if e["ts"] == reply["ts"]]
    assert sorted(seen) == list(range(1, 201)) and len(seen) == 200
    again = await run(stack, "alice", channel, "evidence page=2")
    assert "page 2/" in again.text()


async def test_a_timeline_of_very_long_entries_shows_every_entry(stack: LocalStack) -> None:
    incident, _ = await declare(stack, "Ranking model regression")
    channel = f"#{incident.channel_name}"
    for n in range(25):  # an edit's line is the longest an entry gets: "edited a message: " and 300 characters
        ts = await stack.driver.post("alice", channel, f"step {n} " + "the scorer timed out again " * 40)
        await stack.driver.edit("alice", channel, ts, f"step {n} " + "the scorer timed out twice " * 40)
    await stack.settle()
    chain = await entries(stack, incident.id or 0)
    lines: list[str] = []
    page, pages = 1, 1
    while page <= pages:
        result = await run(stack, "alice", channel, f"timeline all page={page}")
        (reply,) = result.collected()
        pages = int(re.findall(r"page \d+/(\d+)", str(reply["blocks"]))[0])
        lines += [line for b in reply["blocks"] if b["type"] == "section" for line in b["text"]["text"].split("\n")]
        page += 1
    # One line per entry (replies show no sequence numbers), each step's message and its edit among them.
    assert pages > 1 and len(lines) == len(chain)
    assert [int(m) for line in lines for m in re.findall(r"edited a message: step (\d+) ", line)] == list(range(25))


async def _all_pages(stack: LocalStack, channel: str, command: str, pattern: str) -> list[int]:
    """Numbers matching `pattern` on every page of a listing, following its `page=N` hints."""
    seen: list[int] = []
    page, pages = 1, 1
    while page <= pages:
        result = await run(stack, "alice", channel, f"{command} page={page}" if page > 1 else command)
        (reply,) = result.collected()
        seen += _numbers(pattern, reply["blocks"])
        found = re.findall(r"Page \d+ of (\d+)", str(reply["blocks"]))
        pages = int(found[0]) if found else 1
        page += 1
    return seen


async def test_actions_my_items_and_the_ledger_list_every_item(stack: LocalStack) -> None:
    incident, _ = await declare(stack, "Churn model stale features")
    channel = f"#{incident.channel_name}"
    now = stack.deps.now()
    async with stack.deps.session() as session:
        for n in range(1, 81):
            item = action_items.validate(stack.deps.catalog, title=f"Task{n:03d} " + "rebuild the feature view " * 11,
                                         owner=ALICE, due="+5d", kind=None, hypothesis=None, now=now)
            await action_items.create(session, catalog=stack.deps.catalog, incident=incident, item=item,
                                      actor=ALICE, now=now)
        for n in range(1, 21):
            h = await hypotheses.propose(session, incident=incident, statement=f"Claim{n:02d} " + "stale join " * 150,
                                         actor=ALICE, now=now)
            await hypotheses.plan_test(session, incident=incident, number=h.number, plan="replay " * 250,
                                       expected="lower error " * 80, criteria=None, actor=ALICE, now=now)
    actions = await _all_pages(stack, channel, "actions", r"Task(\d{3})")
    assert sorted(actions) == list(range(1, 81)) and len(actions) == 80
    mine = await _all_pages(stack, channel, "my", r"Task(\d{3})")
    assert sorted(mine) == list(range(1, 81)) and len(mine) == 80
    claims = await _all_pages(stack, channel, "hypotheses", r"Claim(\d{2})")
    assert sorted(set(claims)) == list(range(1, 21))
    bad = await run(stack, "alice", channel, "actions page=zero")
    assert "`page=` takes a page number" in bad.text()


async def test_retro_list_shows_every_open_incident_across_pages(stack: LocalStack) -> None:
    from bot.incident import incidents

    async with stack.deps.session() as session:
        for n in range(1, 81):
            decl = incidents.validate_declaration(stack.deps.catalog, title=f"Drift in model Q{n:03d} " + "x" * 120,
                                                  severity="3", category="data-drift")
            await incidents.create(session, team_id="T0SANDBOX", decl=decl, declared_by=ALICE,
                                   declared_in="C0GENERAL", channel_id=f"C0LIST{n:04d}",
                                   channel_name=f"inc-list-{n}", now=stack.deps.now())
    seen: list[int] = []
    page, pages = 1, 1
    while page <= pages:
        result = await run(stack, "alice", "#general", f"list page={page}")
        (reply,) = result.collected()
        seen += _numbers(r"Q(\d{3})", reply["blocks"])
        found = re.search(r"Page \d+ of (\d+)", str(reply["blocks"]))
        pages = int(found.group(1)) if found else 1
        page += 1
    assert pages > 1 and sorted(seen) == list(range(1, 81))
    bad = await run(stack, "alice", "#general", "list page=zero")
    assert "`page=` takes a page number" in bad.text() and "Usage: `/retro list [page=N]`" in bad.text()
