"""Messages at their fullest: the card, the roles thread, the postmortem summary, stats and the ledger reach Slack
(the sandbox refuses a message over its caps) with nothing left out."""

from __future__ import annotations

import re
from typing import Any

from bot.app.local import LocalStack
from bot.blocks.postmortem import MAX_FINDINGS
from bot.ids import ActionId
from bot.incident import evidence, hypotheses, incidents, roles
from bot.incident.hypotheses import MAX_PLAN, MAX_STATEMENT
from bot.postmortem.measures import SPANS
from tests.e2e.helpers import declare, run
from tests.e2e.worst_world import TITLE, filled, fullest_catalog, models_text, numbers
from tests.reminder_world import ALICE, BOB, CAROL, DAVE


def _message(stack: LocalStack, channel: str, ts: str | None) -> dict[str, Any]:
    (found,) = [m for m in stack.driver.messages(channel) if m["ts"] == ts]
    return found


def _role_lines(card: dict[str, Any]) -> list[str]:
    return [line for b in card["blocks"] if b["type"] == "section" and "text" in b
            for line in b["text"]["text"].split("\n") if line.startswith("*Role")]


async def test_the_fullest_card_and_roles_thread_list_every_role(stack: LocalStack) -> None:
    catalog = stack.deps.catalog = fullest_catalog()
    models = models_text()
    incident, _ = await declare(stack, TITLE, options=f"sev=1 type=cat-099 model={models}")
    ch = f"#{incident.channel_name}"
    card = _message(stack, ch, incident.card_ts)
    assert sorted(numbers(r"\*Role(\d\d) ", card["blocks"])) == list(range(len(catalog.roles)))
    assert all(model in str(card["blocks"]) for model in models.split(","))
    assert "Kind099" in str(card["blocks"]) and "Level1 criteria" in str(card["blocks"])
    prompt = _message(stack, ch, incident.roles_ts)
    pickers = {b["accessory"]["action_id"] for b in prompt["blocks"] if "accessory" in b}
    assert pickers == {f"{ActionId.ROLE_SELECT}:{r.id}" for r in catalog.roles}
    assert sorted(numbers(r"Duty(\d\d)", prompt["blocks"])) == list(range(len(catalog.roles)))

    people = [BOB, CAROL, DAVE]
    async with stack.deps.session() as session:
        for n in range(1, len(catalog.roles) - 1):
            await roles.assign(session, catalog=catalog, incident=incident, role=f"role-{n:02d}",
                               user=people[n % 3], actor=ALICE, now=stack.deps.now())
    last = f"role-{len(catalog.roles) - 1:02d}"
    await run(stack, "alice", ch, f"role {last} @dave")  # the card and the prompt are updated in place
    lines = _role_lines(_message(stack, ch, incident.card_ts))
    assert len(lines) == len(catalog.roles) and all(re.search(r"<@U\w+>$", line) for line in lines), lines
    prompt = _message(stack, ch, incident.roles_ts)
    assert str(prompt["blocks"]).count("held by <@U") == len(catalog.roles)
    assert "_unfilled_" not in str(prompt["blocks"])


async def test_the_fullest_postmortem_summary_fits_and_points_at_the_rest(stack: LocalStack) -> None:
    stack.deps.catalog = fullest_catalog()
    incident, _ = await declare(stack, TITLE, options="sev=1 type=cat-000")
    ch = f"#{incident.channel_name}"
    blame = ["human error", "carol's fault", "should have", "careless", "to blame", "someone forgot"]
    for n, phrase in enumerate(blame * 2):
        await run(stack, "alice", ch, f"note Step {n} & <{n}> was {phrase} " + "then the backfill stalled " * 12)
    async with stack.deps.session() as session:
        item = evidence.validate("log", filled("https://logs.example/run", 2000), filled("note", 3000), {},
                                 now=stack.deps.now())
        row = await evidence.add(session, incident=incident, item=item, actor=BOB, now=stack.deps.now())
        h = await hypotheses.propose(session, incident=incident, statement=filled("Cause", MAX_STATEMENT),
                                     actor=BOB, now=stack.deps.now())
        await hypotheses.record_verdict(session, incident=incident, number=h.number, verdict="confirmed",
                                        evidence=[row.number], note=filled("Because", MAX_PLAN), actor=ALICE,
                                        now=stack.deps.now())
    result = await run(stack, "alice", ch, "postmortem")
    await stack.settle()
    assert "warning" not in result.text()
    (summary,) = [m for m in stack.driver.bot_messages(ch, include_threads=False)
                  if "Postmortem draft v1" in str(m.get("text"))]
    said = str(summary["blocks"])
    assert all(span.label in said for span in SPANS) and "Root cause:* Cause" in said
    found = int(re.findall(r"Blameless check: (\d+) phrasing", said)[0])
    assert found > MAX_FINDINGS and f"…and {found - MAX_FINDINGS} more in the draft" in said
    assert said.count("> ") >= MAX_FINDINGS
    files = [f["name"] for m in stack.driver.thread(ch, summary["ts"])[1:] for f in m.get("files") or []]
    assert f"{incident.channel_name}-postmortem.md" in files


async def test_stats_over_every_category_lists_the_busiest_and_says_how_to_see_the_rest(stack: LocalStack) -> None:
    catalog = stack.deps.catalog = fullest_catalog()
    async with stack.deps.session() as session:
        for n in range(len(catalog.categories) + 10):
            decl = incidents.validate_declaration(catalog, title=f"Incident {n}", severity="3",
                                                  category=f"cat-{n % len(catalog.categories):03d}")
            await incidents.create(session, team_id="T0SANDBOX", decl=decl, declared_by=ALICE,
                                   declared_in="C0GENERAL", channel_id=f"C0STAT{n:04d}", channel_name=f"inc-stat-{n}",
                                   now=stack.deps.now())
    result = await run(stack, "alice", "#general", "stats")
    (reply,) = result.collected()
    shown = numbers(r"• Kind(\d{3})", reply["blocks"])
    assert len(shown) == 40 and set(range(10)) <= set(shown)  # the busiest first
    rest = len(catalog.categories) - len(shown)
    assert f"…and {rest} more categories" in str(reply["blocks"]) and "/retro stats category=" in str(reply["blocks"])
    hidden = next(n for n in range(len(catalog.categories)) if n not in shown)
    one = await run(stack, "alice", "#general", f"stats category=cat-{hidden:03d}")
    (answer,) = one.collected()
    assert f"Kind{hidden:03d}" in str(answer["blocks"]) and "*1 incident(s)*" in str(answer["blocks"])


async def test_the_ledger_of_the_longest_hypotheses_lists_every_one(stack: LocalStack) -> None:
    incident, _ = await declare(stack, "Ranking drift")
    ch = f"#{incident.channel_name}"
    proposed = await run(stack, "alice", ch, "hypothesis " + filled("Said", MAX_STATEMENT))
    assert "H1" in proposed.text() or "H1" in str(stack.driver.bot_messages(ch))
    async with stack.deps.session() as session:
        for n in range(2, 13):
            h = await hypotheses.propose(session, incident=incident, statement=filled(f"Claim{n:02d}", MAX_STATEMENT),
                                         actor=ALICE, now=stack.deps.now())
            await hypotheses.plan_test(session, incident=incident, number=h.number, plan=filled("Plan", MAX_PLAN),
                                       expected=filled("Expect", MAX_PLAN), criteria=filled("When", MAX_PLAN),
                                       actor=ALICE, now=stack.deps.now())
            await hypotheses.record_verdict(session, incident=incident, number=h.number, verdict="refuted",
                                            evidence=[], note=filled("Note", MAX_PLAN), actor=ALICE,
                                            now=stack.deps.now())
    seen: set[int] = set()
    page, pages = 1, 1
    while page <= pages:
        result = await run(stack, "alice", ch, f"hypotheses page={page}")
        (reply,) = result.collected()
        seen |= set(numbers(r"\*H(\d+)\* ", reply["blocks"]))
        found = re.findall(r"Page \d+ of (\d+)", str(reply["blocks"]))
        pages = int(found[0]) if found else 1
        page += 1
    assert pages > 1 and seen == set(range(1, 13))
