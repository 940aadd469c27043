"""Words people read, through the sandbox: names not ids, a parser that helps, reasons in announcements, no
internal sequence numbers, readable channel names in any script."""

from __future__ import annotations

import json
import re
from pathlib import Path

from sqlmodel import select

from bot.app import offline
from bot.app.local import LocalStack
from bot.postmortem.draft import template_environment
from bot.postmortem.export import DOCUMENT, PICTURE, POSTMORTEM, render_bundle, verify_bundle
from storage.models import ActionItem, Evidence, Incident, RoleAssignment
from tests.conftest import FakeClock
from tests.e2e.helpers import declare, run, texts

# A user id shown as text: not inside Slack's `<@…>` mention markup, which Slack itself shows as the name.
BARE_ID = re.compile(r"(?<!<@)\bU0[A-Z]+\b")


def raw(result_json: object) -> str:
    """Everything a reply carried (text and blocks), exactly as Retro sent it."""
    return json.dumps(result_json, ensure_ascii=False)


async def test_replies_timeline_and_export_name_people_not_ids(stack: LocalStack, tmp_path: Path) -> None:
    incident, _ = await declare(stack, "Churn drift")
    erin = stack.driver.user("erin").id
    # Typed `@erin` reaches Retro as a mention without its name: `<@U…>`, nothing else.
    await stack.driver.post("bob", incident.channel_name, "@erin can you check the churn dashboard?")
    await run(stack, "alice", incident.channel_name, "note paged the data team")
    await stack.settle()
    timeline = await run(stack, "carol", incident.channel_name, "timeline all")
    shown = raw(timeline.collected())
    assert "@erin can you check the churn dashboard?" in shown
    assert BARE_ID.findall(shown) == [], shown

    # Exported without a draft ever made: the names Slack gave Retro are captured into the bundle's own data.
    folder = tmp_path / "bundle"
    assert await offline.export_incident(stack.settings, incident.channel_name, folder) == 0
    document = json.loads((folder / DOCUMENT).read_text())
    assert document["people"][erin] == "erin"
    markdown = (folder / POSTMORTEM).read_text()
    assert "@erin can you check" in markdown and erin not in markdown
    assert verify_bundle(folder).ok
    assert render_bundle(template_environment(), folder) == markdown  # from the bundle alone, byte for byte

    # Once the postmortem is drafted in Slack, everyone it names is named in the next export, picture included.
    await run(stack, "alice", incident.channel_name, "postmortem")
    assert await offline.export_incident(stack.settings, incident.channel_name, folder) == 0
    for name in (POSTMORTEM, PICTURE):
        assert BARE_ID.findall((folder / name).read_text()) == [], name
    assert "@alice" in (folder / POSTMORTEM).read_text()


async def test_replies_show_no_sequence_numbers(stack: LocalStack) -> None:
    incident, _ = await declare(stack, "Ranking latency")
    ts = await stack.driver.post("bob", incident.channel_name, "p99 is at 900ms")
    await stack.driver.react("alice", incident.channel_name, ts, "pushpin")
    note = await run(stack, "alice", incident.channel_name, "note rolled back the ranker")
    assert "Noted as key event: rolled back the ranker" in note.text() and not re.search(r"#\d", note.text())
    listing = await run(stack, "alice", incident.channel_name, "timeline all")
    assert "rolled back the ranker" in listing.text() and "marked a message as key event" in listing.text()
    assert not re.search(r"`#\d+`|#\d+\b", listing.text()), listing.text()


async def test_status_and_severity_announcements_show_the_reason(clocked: LocalStack) -> None:
    stack = clocked  # on the test's clock (08:00 UTC): `at=-10m` is 07:50 today, whenever the test runs
    incident, _ = await declare(stack, "Fraud precision drop")
    await run(stack, "alice", incident.channel_name, "sev 1 chargebacks are climbing")
    await run(stack, "alice", incident.channel_name, 'status mitigated reason="flag fraud_v4 turned off" at=-10m')
    said = texts(stack.driver.messages(incident.channel_name))
    assert "set the severity to SEV1: chargebacks are climbing" in said
    assert "set the status to *mitigated* (happened at 07:50 UTC): flag fraud_v4 turned off" in said, said
    both = await run(stack, "alice", incident.channel_name, 'status resolved done reason="twice"')
    assert "Give the reason once" in both.text() and "Usage: `/retro status" in both.text()
    typo = await run(stack, "alice", incident.channel_name, 'status resolved reson="typo"')
    assert "Did you mean `reason=`?" in typo.text()


async def test_quotes_inside_a_quoted_title_are_kept(clocked: LocalStack) -> None:
    incident, _ = await declare(clocked, '"Churn model\'s \\"v2\\" calibration"')
    assert incident.title == 'Churn model\'s "v2" calibration'
    assert incident.channel_name == "inc-20260302-churn-models-v2-calibration"


async def test_typos_of_subcommands_and_options_are_answered_with_the_one_meant(stack: LocalStack) -> None:
    incident, _ = await declare(stack, "Churn drift")
    typo = await run(stack, "alice", incident.channel_name, "stauts mitigated")
    assert "Unknown subcommand `stauts`. Did you mean `status`?" in typo.text()
    assert "Usage: `/retro status <investigating|mitigated|resolved|closed>" in typo.text()
    option = await run(stack, "alice", incident.channel_name, "timeline pgae=2")
    assert "Did you mean `page=`?" in option.text() and "Usage: `/retro timeline" in option.text()
    status = await run(stack, "alice", incident.channel_name, "status mitgated")
    assert "Unknown status `mitgated`. Did you mean `mitigated`?" in status.text()


async def test_roles_are_named_by_their_display_names(stack: LocalStack) -> None:
    incident, _ = await declare(stack, "Churn drift")
    ch = incident.channel_name
    bob, carol, dave = (stack.driver.user(n).id for n in ("bob", "carol", "dave"))
    await run(stack, "alice", ch, f"role communications <@{bob}|bob>")
    await run(stack, "alice", ch, f"role data owner <@{carol}|carol>")
    await run(stack, "alice", ch, f'role "ML owner" <@{dave}|dave>')
    unknown = await run(stack, "alice", ch, f"role comunications <@{dave}|dave>")
    assert "Did you mean `communications`?" in unknown.text() and "Usage: `/retro role" in unknown.text()
    async with stack.deps.session() as s:
        held = {(r.role, r.user_id) for r in (await s.exec(select(RoleAssignment))).all()}
    assert {("comms", bob), ("data-owner", carol), ("ml-owner", dave)} <= held
    assert "is now *Communications*" in texts(stack.driver.messages(ch))


async def test_due_dates_in_words(clocked: LocalStack) -> None:
    stack = clocked  # Monday 2 March 2026, 08:00 UTC
    incident, _ = await declare(stack, "Churn drift")
    ch = incident.channel_name
    bob, carol, dave = (stack.driver.user(n).id for n in ("bob", "carol", "dave"))
    await run(stack, "alice", ch, f"action Recalibrate the scores owner=<@{bob}|bob> due=friday")
    await run(stack, "alice", ch, f'action Backfill labels owner=<@{carol}|carol> due="in 3 days"')
    await run(stack, "alice", ch, f"action Page the vendor owner=<@{dave}|dave> due=eod")
    await run(stack, "bob", ch, "due A1 next week")
    async with stack.deps.session() as s:
        due = {a.number: a.due.isoformat() for a in (await s.exec(select(ActionItem))).all()}
    assert due == {1: "2026-03-09", 2: "2026-03-05", 3: "2026-03-02"}
    vague = await run(stack, "bob", ch, "due A1 someday")
    assert "`someday` is not a due date" in vague.text() and "next week" in vague.text()
    assert "Usage: `/retro due A<n> <date>`" in vague.text()
    helped = await run(stack, "alice", ch, "help")
    assert "due=<date>" in helped.text() and "next week" in helped.text() and 'reason="…"' in helped.text()


async def test_flag_model_and_snapshot_stand_in_for_the_reference(stack: LocalStack) -> None:
    incident, _ = await declare(stack, "Churn drift")
    ch = incident.channel_name
    await run(stack, "alice", ch, "evidence feature-flag flag=churn_v2:on")
    await run(stack, "alice", ch, "evidence model=churn@3 the candidate we rolled back")
    missing = await run(stack, "alice", ch, "evidence feature-flag")
    assert "Give a reference for the feature-flag evidence (or `flag=`)" in missing.text()
    assert "Usage: `/retro evidence" in missing.text()
    async with stack.deps.session() as s:
        kept = (await s.exec(select(Evidence).where(Evidence.incident_id == incident.id))).all()
    assert [(e.kind, e.ref, e.note) for e in kept] == [("feature-flag", "churn_v2:on", ""),
                                                       ("model", "churn@3", "the candidate we rolled back")]
    assert kept[0].options["flag"] == "churn_v2:on" and kept[1].options["model"] == "churn@3"


async def test_titles_in_any_script_get_a_readable_channel_name(clocked: LocalStack) -> None:
    names = {}
    for title in ("推荐模型漂移", "Модель оттока: дрейф", "Modèle de dérive", "🔥🔥🔥", "¿?¡!"):
        incident, _ = await declare(clocked, title)
        names[title] = incident.channel_name
    assert names["推荐模型漂移"] == "inc-20260302-tuijianmoxingpiaoyi"
    assert names["Модель оттока: дрейф"] == "inc-20260302-model-ottoka-dreyf"
    assert names["Modèle de dérive"] == "inc-20260302-modele-de-derive"
    assert names["🔥🔥🔥"] == "inc-20260302-fire-fire-fire"
    assert re.fullmatch(r"inc-20260302-[0-9a-f]{6}", names["¿?¡!"])
    async with clocked.deps.session() as s:
        made = {i.channel_name for i in (await s.exec(select(Incident))).all()}
    assert made == set(names.values())
    assert all(clocked.driver.channel_by_name(n) is not None for n in made)  # Slack took every name


async def test_names_are_asked_of_slack_once_a_day(clocked: LocalStack, t0: FakeClock) -> None:
    incident, _ = await declare(clocked, "Churn drift")
    await clocked.driver.post("bob", incident.channel_name, "@erin please look")
    await clocked.settle()

    def asked() -> int:
        return sum(1 for c in clocked.emulator.calls if c.method == "users.info")

    first = await run(clocked, "carol", incident.channel_name, "timeline all")
    once = asked()
    again = await run(clocked, "carol", incident.channel_name, "timeline all")
    assert "@erin please look" in first.text() and "@erin please look" in raw(again.collected())
    assert once > 0 and asked() == once  # the second view used the names kept in the database
    t0.advance(days=2)
    await run(clocked, "carol", incident.channel_name, "timeline all")
    assert asked() > once
