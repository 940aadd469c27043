"""Views at their fullest: every modal with its longest content, and the Home of someone in everything, reach Slack
(the sandbox refuses a view over its caps) with nothing left out; what cannot fit is refused before it is kept."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlmodel import select

from bot.app.local import LocalStack
from bot.catalog import MAX_CATEGORIES, MAX_ROLES, load_catalog
from bot.errors import ConfigError, UsageError
from bot.followup import action_items
from bot.followup.action_items import MAX_TITLE
from bot.ids import ActionId
from bot.incident import incidents, roles
from bot.incident.incidents import MAX_MODELS_TEXT
from storage.models import ActionItem, Evidence
from tests.e2e.helpers import declare, incident_named, run
from tests.e2e.worst_world import TITLE, filled, fullest_catalog, models_text, numbers
from tests.reminder_world import ALICE, DAVE

TRIAGE_TEXTS = ("what_happened", "detection", "affected", "customer_impact", "containment")


def _element(view: dict[str, Any], block_id: str) -> dict[str, Any]:
    (block,) = [b for b in view["blocks"] if b.get("block_id") == block_id]
    element: dict[str, Any] = block["element"]
    return element


def test_a_catalog_or_declaration_past_what_slack_can_show_is_refused(tmp_path: Path) -> None:
    for key, count, said in (("categories", MAX_CATEGORIES + 1, "at most 100 categories"),
                             ("roles", MAX_ROLES + 1, "at most 25 roles")):
        items = [{"id": "commander" if n == 0 else f"x-{n}", "name": f"N{n}", "duties": "d"} for n in range(count)]
        path = tmp_path / f"{key}.yml"
        path.write_text(yaml.safe_dump({key: items}), encoding="utf-8")
        with pytest.raises(ConfigError, match=said):
            load_catalog(path)
    assert len(fullest_catalog().categories) == MAX_CATEGORIES  # the caps themselves load
    too_many = ",".join(f"m{n}@1" for n in range(MAX_MODELS_TEXT // 5 + 1))
    with pytest.raises(UsageError, match="model list is longer than 500"):
        incidents.validate_declaration(load_catalog(), title="Drift", severity="2", category="data-drift",
                                       models=tuple(too_many.split(",")))


async def test_the_declare_modal_offers_every_category_and_severity(stack: LocalStack) -> None:
    catalog = stack.deps.catalog = fullest_catalog()
    await run(stack, "alice", "#general", "start")
    (view,) = stack.driver.views_open_for("alice")
    categories = [o["value"] for o in _element(view, "category")["options"]]
    assert categories == [c.id for c in catalog.categories]
    assert [o["value"] for o in _element(view, "severity")["options"]] == [str(n) for n in range(1, 10)]
    assert sorted(numbers(r"Level(\d) criteria", view["blocks"])) == list(range(1, 10))
    models = models_text()
    status, body = await stack.driver.submit_view("alice", values={
        "title": TITLE, "severity": "9", "category": "cat-099", "models": models,
        "description": filled("Described", 3000)})
    assert (status, body) == (200, None)
    await stack.settle()
    created = [c.name for c in stack.emulator.state.channels.values() if c.name.startswith("inc-")]
    incident = await incident_named(stack, created[0])
    assert incident.category == "cat-099" and ",".join(incident.models) == models and incident.card_ts


async def test_the_triage_modal_takes_and_shows_its_longest_answers(stack: LocalStack) -> None:
    incident, _ = await declare(stack, "Feature store lag")
    ch = f"#{incident.channel_name}"
    await run(stack, "alice", ch, "triage")
    answers = {field: filled(field, 3000) for field in TRIAGE_TEXTS}
    status, body = await stack.driver.submit_view("alice", values=answers)
    assert (status, body) == (200, None)
    await stack.settle()
    await run(stack, "bob", ch, "triage")
    (view,) = stack.driver.views_open_for("bob")
    assert view["callback_id"] == "retro_triage"
    assert {field: _element(view, field).get("initial_value") for field in TRIAGE_TEXTS} == answers


async def test_the_evidence_and_action_modals_take_their_longest_input(stack: LocalStack) -> None:
    incident, _ = await declare(stack, "Label leakage")
    ch = incident.channel_name
    await stack.driver.click("alice", action_id=ActionId.ADD_EVIDENCE, channel=ch, message_ts=incident.card_ts,
                             value=str(incident.id))
    await stack.settle()
    ref, note = filled("https://logs.example/run", 2000), filled("Observed", 3000)
    status, _ = await stack.driver.submit_view("alice", values={"kind": "log", "ref": ref, "note": note})
    assert status == 200
    await stack.settle()
    async with stack.deps.session() as s:
        (kept,) = (await s.exec(select(Evidence).where(Evidence.incident_id == incident.id))).all()
    assert (kept.ref, kept.note) == (ref, note)
    assert any("Recorded *E1*" in str(e.get("text")) for e in stack.driver.ephemerals("alice"))

    await stack.driver.click("alice", action_id=ActionId.ADD_ACTION, channel=ch, message_ts=incident.card_ts,
                             value=str(incident.id))
    await stack.settle()
    title = filled("Guard", MAX_TITLE).strip()
    status, body = await stack.driver.submit_view("alice", values={
        "title": title, "owner": "carol", "due": stack.deps.now().date().isoformat(), "action_kind": "test"})
    assert (status, body) == (200, None)
    await stack.settle()
    async with stack.deps.session() as s:
        (item,) = (await s.exec(select(ActionItem).where(ActionItem.incident_id == incident.id))).all()
    assert item.title == " ".join(title.split())
    assert any("*A1*" in str(m.get("text")) for m in stack.driver.bot_messages(f"#{ch}"))


async def test_the_home_of_someone_in_everything_counts_what_it_cannot_show(stack: LocalStack) -> None:
    catalog, now = stack.deps.catalog, stack.deps.now()
    async with stack.deps.session() as session:
        made = []
        for n in range(40):
            decl = incidents.validate_declaration(catalog, title=f"Outage Q{n:03d} " + filled("of", 120),
                                                  severity="2", category="data-drift")
            made.append(await incidents.create(session, team_id="T0SANDBOX", decl=decl, declared_by=ALICE,
                                               declared_in="C0GENERAL", channel_id=f"C0HOME{n:04d}",
                                               channel_name=f"inc-home-{n}", now=now))
            await roles.assign(session, catalog=catalog, incident=made[-1], role="ml-owner", user=DAVE, actor=ALICE,
                               now=now)
        for n in range(1, 101):
            item = action_items.validate(catalog, title=f"Task{n:03d} " + filled("do", MAX_TITLE - 8), owner=DAVE,
                                         due="+3d", kind=None, hypothesis=None, now=now)
            await action_items.create(session, catalog=catalog, incident=made[n % 40], item=item, actor=ALICE,
                                      now=now)
    await stack.driver.open_home("dave")
    await stack.settle()
    view = stack.driver.home_view("dave")
    assert view is not None
    shown = str(view["blocks"])
    items, outages = numbers(r"\*A\d+\* `\w+` Task(\d{3})", shown), set(numbers(r"— Outage Q(\d{3})", shown))
    assert len(items) == 30 and "…and 70 more: `/retro my`" in shown
    assert len(outages) == 30 and "…and 10 more: `/retro list`" in shown
    listed: list[int] = []
    page, pages = 1, 1
    while page <= pages:
        (reply,) = (await run(stack, "dave", "#general", f"my page={page}")).collected()
        listed += numbers(r"Task(\d{3})", reply["blocks"])
        found = re.findall(r"Page \d+ of (\d+)", str(reply["blocks"]))
        pages, page = int(found[0]) if found else 1, page + 1
    assert sorted(listed) == list(range(1, 101))
    listed_incidents: set[int] = set()
    page, pages = 1, 1
    while page <= pages:
        (reply,) = (await run(stack, "dave", "#general", f"list page={page}")).collected()
        listed_incidents |= set(numbers(r"Outage Q(\d{3})", reply["blocks"]))
        found = re.findall(r"Page \d+ of (\d+)", str(reply["blocks"]))
        pages, page = int(found[0]) if found else 1, page + 1
    assert listed_incidents == set(range(40))
