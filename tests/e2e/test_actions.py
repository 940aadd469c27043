"""Action items end to end: commands, the owner's DM and its buttons, `/retro my`, the Home tab, the modal."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import col, select

from bot.app.local import LocalStack, local_stack
from bot.ids import ActionId
from bot.record import chain
from storage.models import ActionItem, Incident, Reminder
from tests.conftest import FakeClock
from tests.e2e.helpers import answer, declare, entries, incident_named, run, texts


@pytest.fixture
async def clocked(database_url: str, clock: FakeClock) -> AsyncIterator[LocalStack]:
    """The local stack on a clock the test moves (Slack's request signatures still use real time)."""
    async with local_stack(database_url=database_url, clock=clock) as s:
        yield s


async def _items(stack: LocalStack, incident: Incident) -> dict[int, ActionItem]:
    async with stack.deps.session() as s:
        rows = await s.exec(select(ActionItem).where(ActionItem.incident_id == incident.id)
                            .order_by(col(ActionItem.number)))
        return {a.number: a for a in rows.all()}


def _buttons(blocks: Any) -> list[str]:
    found: list[str] = []
    for block in blocks or []:
        for el in block.get("elements") or []:
            if el.get("type") == "button":
                found.append(el["text"]["text"])
    return found


def _uid(stack: LocalStack, name: str) -> str:
    return stack.driver.user(name).id


async def test_an_action_item_from_creation_to_done(clocked: LocalStack, clock: FakeClock) -> None:
    stack, drv = clocked, clocked.driver
    incident, _ = await declare(stack, "Fraud precision drop", options="sev=2 type=data-quality")
    ch = f"#{incident.channel_name}"
    await run(stack, "alice", ch, "hypothesis ETL change nulled a feature")
    today = clock().date()
    await run(stack, "alice", ch, "action Alert on feature null rate owner=@bob due=+1w kind=monitor hypothesis=H1")
    a1 = (await _items(stack, incident))[1]
    assert (a1.title, a1.owner, a1.due, a1.kind, a1.hypothesis) == (
        "Alert on feature null rate", _uid(stack, "bob"), today + timedelta(days=7), "monitor", 1)
    assert "*A1* `monitor` Alert on feature null rate (tests H1)" in texts(drv.bot_messages(incident.channel_name))
    (dm,) = drv.dms("bob")
    assert _buttons(dm["blocks"]) == ["Done", "Snooze 1 day", "Snooze 1 week", "Open incident"]
    assert "gave you an action item" in str(dm["blocks"]) and incident.channel_id in str(dm["blocks"])
    home = drv.home_view("bob")
    assert home is not None and "Alert on feature null rate" in str(home["blocks"])

    listing = await run(stack, "carol", ch, "actions")
    assert "1 open, 0 closed" in str(listing.collected()[0]["blocks"])
    await run(stack, "alice", ch, "due A1 +2w")
    await run(stack, "bob", ch, "reassign A1 @carol")
    assert len(drv.dms("carol")) == 1 and "Alert on feature null rate" not in str(drv.home_view("bob"))
    assert "Alert on feature null rate" in str(drv.home_view("carol"))
    await run(stack, "carol", ch, "done A1 monitor live in prod = yes")
    a1 = (await _items(stack, incident))[1]
    assert (a1.status, a1.close_note, a1.owner, a1.due) == ("done", "monitor live in prod = yes",
                                                            _uid(stack, "carol"), today + timedelta(days=14))
    assert "Nothing open" in str(drv.home_view("carol"))
    async with stack.deps.session() as s:
        pending = (await s.exec(select(Reminder).where(Reminder.action_id == a1.id,
                                                       col(Reminder.status) == "pending"))).all()
    assert pending == []
    kinds = [e.kind for e in await entries(stack, incident.id or 0)]
    for kind in ("action_added", "action_due_changed", "action_reassigned", "action_done"):
        assert kind in kinds
    mine = await run(stack, "carol", "#general", "my")
    assert "no open action items" in mine.text()


async def test_dm_buttons_done_and_snooze(clocked: LocalStack, clock: FakeClock) -> None:
    stack, drv = clocked, clocked.driver
    incident, _ = await declare(stack, "Ranking drift", options="sev=3 type=data-drift")
    ch = f"#{incident.channel_name}"
    await run(stack, "alice", ch, "action Backfill labels owner=@bob due=+3d")
    await run(stack, "alice", ch, "action Retrain with fresh window owner=@bob due=+10d kind=fix")
    items = await _items(stack, incident)
    first, second = drv.dms("bob")
    await drv.click("bob", action_id=ActionId.ACTION_SNOOZE_WEEK, channel="@bob", message_ts=first["ts"],
                    value=str(items[1].id))
    await stack.settle()
    snoozed = next(m for m in drv.dms("bob") if m["ts"] == first["ts"])
    assert "Next reminder" in str(snoozed["blocks"]) and "Done" in _buttons(snoozed["blocks"])
    async with stack.deps.session() as s:
        owner_rows = (await s.exec(select(Reminder).where(Reminder.action_id == items[1].id,
                                                          col(Reminder.status) == "pending",
                                                          col(Reminder.kind) != "escalation"))).all()
    assert [(r.kind, r.due_at) for r in owner_rows] == [("snoozed", clock() + timedelta(days=7))]
    await drv.click("bob", action_id=ActionId.ACTION_DONE, channel="@bob", message_ts=second["ts"],
                    value=str(items[2].id))
    await stack.settle()
    done = next(m for m in drv.dms("bob") if m["ts"] == second["ts"])
    assert "Done" in str(done["blocks"]) and _buttons(done["blocks"]) == []
    assert (await _items(stack, incident))[2].status == "done"
    await drv.click("bob", action_id=ActionId.ACTION_DONE, channel="@bob", message_ts=first["ts"],
                    value=str(items[1].id))
    await stack.settle()
    kinds = [e.kind for e in await entries(stack, incident.id or 0)]
    assert kinds.count("action_done") == 2 and "action_snoozed" in kinds
    posted = texts(drv.bot_messages(incident.channel_name))
    assert "snoozed" not in posted and posted.count(": done by") == 2


async def test_my_lists_every_incident_overdue_first_and_its_buttons_work(clocked: LocalStack,
                                                                          clock: FakeClock) -> None:
    stack, drv = clocked, clocked.driver
    one, _ = await declare(stack, "Fraud precision drop", options="sev=2 type=data-quality")
    two, _ = await declare(stack, "Ranking drift", options="sev=3 type=data-drift")
    await run(stack, "alice", f"#{one.channel_name}", "action Later task owner=@bob due=+20d")
    await run(stack, "alice", f"#{two.channel_name}", "action Urgent task owner=@bob due=+1d")
    await run(stack, "alice", f"#{two.channel_name}", "action Not bob's owner=@carol due=+1d")
    clock.advance(days=3)  # the urgent one is now two days overdue
    mine = await run(stack, "bob", "#general", "my")
    (reply,) = mine.collected()
    blocks = str(reply["blocks"])
    assert "2, 1 overdue" in blocks and "Not bob's" not in blocks
    assert blocks.index("Urgent task") < blocks.index("Later task") and "2 days overdue" in blocks
    urgent = next(a for a in (await _items(stack, two)).values() if a.title == "Urgent task")
    await drv.click("bob", action_id=ActionId.ACTION_DONE, channel="#general", message_ts=reply["ts"],
                    value=str(urgent.id))
    await stack.settle()
    assert (await _items(stack, two))[urgent.number].status == "done"


async def test_the_home_tab_shows_items_and_incidents_and_refreshes(clocked: LocalStack, clock: FakeClock) -> None:
    stack, drv = clocked, clocked.driver
    incident, _ = await declare(stack, "Fraud precision drop", options="sev=1 type=data-quality")
    ch = f"#{incident.channel_name}"
    await drv.open_home("dave")
    await stack.settle()
    home = str(drv.home_view("dave"))
    assert "Nothing open" in home and "not part of any open incident" in home
    await run(stack, "alice", ch, "role ml-owner @dave")
    await run(stack, "alice", ch, "action Pin the feature schema owner=@dave due=+5d kind=guardrail")
    await run(stack, "alice", ch, "action Add a canary owner=@dave due=+1d kind=test")
    clock.advance(days=2)
    await drv.open_home("dave")
    await stack.settle()
    view = drv.home_view("dave")
    assert view is not None
    blocks = str(view["blocks"])
    assert "Your action items (2) · 1 overdue" in blocks
    assert blocks.index("Add a canary") < blocks.index("Pin the feature schema")
    assert "SEV1" in blocks and incident.channel_id in blocks and "you are *ML owner*" in blocks
    canary = next(a for a in (await _items(stack, incident)).values() if a.title == "Add a canary")
    await drv.click("dave", action_id=ActionId.ACTION_DONE, home=True, value=str(canary.id))
    await stack.settle()
    assert "Add a canary" not in str(drv.home_view("dave")) and "Your action items (1)" in str(drv.home_view("dave"))
    await run(stack, "alice", ch, "status closed")  # A1 is still open: Retro asks first
    await answer(stack, "alice", ch, ActionId.CONFIRM_COMMAND)
    await drv.open_home("dave")
    await stack.settle()
    assert "not part of any open incident" in str(drv.home_view("dave"))
    # Changes after the incident closed are still chained to it.
    schema = next(a for a in (await _items(stack, incident)).values() if a.title == "Pin the feature schema")
    await drv.click("dave", action_id=ActionId.ACTION_SNOOZE_DAY, home=True, value=str(schema.id))
    await stack.settle()
    fresh = await incident_named(stack, incident.channel_name)
    assert fresh.status == "closed"
    chained = await entries(stack, incident.id or 0)
    assert chained[-1].kind in ("action_snoozed", "bot_message") and "action_snoozed" in [e.kind for e in chained]
    async with stack.deps.session() as s:
        assert (await chain.verify_incident(s, fresh)).ok


async def test_the_card_button_opens_the_modal_and_its_errors_show_in_place(clocked: LocalStack,
                                                                            clock: FakeClock) -> None:
    stack, drv = clocked, clocked.driver
    incident, _ = await declare(stack, "Fraud precision drop", options="sev=2 type=data-quality")
    await run(stack, "alice", f"#{incident.channel_name}", "hypothesis ETL change")
    await drv.click("alice", action_id=ActionId.ADD_ACTION, channel=incident.channel_name,
                    message_ts=incident.card_ts, value=str(incident.id))
    await stack.settle()
    (modal,) = drv.views_open_for("alice")
    assert modal["callback_id"] == "retro_action"
    good = {"title": "Freeze the ETL schema", "owner": "carol", "due": (clock() + timedelta(days=4)).date().isoformat(),
            "action_kind": "guardrail", "hypothesis": "H1"}
    for field, value, problem in (("due", "2020-01-01", "is in the past"), ("hypothesis", "H9", "No hypothesis H9"),
                                  ("hypothesis", "first", "like H2")):
        status, body = await drv.submit_view("alice", values={**good, field: value})
        assert status == 200 and body["response_action"] == "errors", (field, body)
        assert problem in body["errors"][field], body
    assert await _items(stack, incident) == {}
    status, body = await drv.submit_view("alice", values=good)
    assert status == 200 and not drv.views_open_for("alice")
    await stack.settle()
    (a1,) = (await _items(stack, incident)).values()
    assert (a1.title, a1.owner, a1.kind, a1.hypothesis) == ("Freeze the ETL schema", _uid(stack, "carol"),
                                                            "guardrail", 1)
    assert len(drv.dms("carol")) == 1


async def test_action_errors_are_clear(stack: LocalStack) -> None:
    incident, _ = await declare(stack, "Fraud precision drop", options="sev=2 type=data-quality")
    ch = f"#{incident.channel_name}"
    await run(stack, "alice", ch, "action Alert on null rate owner=@bob due=+1w")
    cases = {
        "action owner=@bob due=+1w": "An action item needs a title.",
        "action Fix it due=+1w": "An action item needs an owner: owner=@user.",
        "action Fix it owner=@bob": "An action item needs a due date",
        "action Fix it owner=bob due=+1w": "`bob` is not a user mention",
        "action Fix it owner=@bob due=someday": "`someday` is not a due date",
        "action Fix it owner=@bob due=2020-01-01": "The due date 2020-01-01 is in the past",
        "action Fix it owner=@bob due=+1w kind=wish": "Unknown kind `wish`. Kinds: guardrail, monitor, test, process, "
                                                      "fix.",
        "action Fix it owner=@bob due=+1w hypothesis=H4": "No hypothesis H4 in this incident (known: none yet).",
        "action Fix it owner=@bob due=+1w prio=high": "Unknown option `prio=`",
        "done A9": "No action item A9 in this incident (known: A1).",
        "done": "Name the action item, like A1.",
        "done 1": "`1` is not an id like A1.",
        "drop A1": "Dropping an action item needs a reason.",
        "reassign A1": "Name the new owner of A1: type @ and pick them.",
        "reassign A1 carol": "`carol` is not a user mention",
        "reassign A1 @bob": "A1 is already owned by",
        "due A1": "Give the new due date of A1.",
        "due A1 yesterday": "`yesterday` is not a due date",
        "my stuff": "`/retro my` takes no arguments.",
    }
    for command, message in cases.items():
        result = await run(stack, "alice", ch, command)
        assert message in result.text(), (command, result.text())
    assert "Usage: `/retro action <title> owner=@user" in (await run(stack, "alice", ch, "action Fix it")).text()
    nosy = await run(stack, "dave", ch, "done A1")
    assert "Only the owner" in nosy.text() and "can change it" in nosy.text()
    outside = await run(stack, "bob", "#general", "done A1")
    assert "works inside an incident channel" in outside.text()
    await run(stack, "bob", ch, "done A1")
    twice = await run(stack, "bob", ch, "drop A1 duplicate")
    assert "A1 is already done" in twice.text()
    (a1,) = (await _items(stack, incident)).values()
    assert a1.status == "done" and a1.owner == _uid(stack, "bob")
    assert [e.kind for e in await entries(stack, incident.id or 0)].count("action_added") == 1
