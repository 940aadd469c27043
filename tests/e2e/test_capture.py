"""The scripted live incident of the capture issue, end to end through the sandbox over signed HTTP."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass, field

from sqlalchemy import text as sql
from sqlmodel import select

from bot.app.local import LocalStack
from bot.ids import ActionId
from bot.record import chain
from storage.models import Evidence, Incident, RoleAssignment, TimelineEntry, TriageVersion
from tests.e2e.helpers import answer, declare, entries, incident_named, run, texts


async def test_declaration_creates_channel_card_thread_and_notice(stack: LocalStack) -> None:
    emu, drv = stack.emulator, stack.driver
    calls_before = len(emu.calls)
    incident, result = await declare(stack, "Fraud model precision drop", options="sev=2 type=data-drift "
                                                                                  "model=fraud@3")
    slack_calls = [c.method for c in emu.calls[calls_before:] if c.method != "auth.test"]
    assert len(slack_calls) <= 8, slack_calls
    assert re.fullmatch(r"inc-\d{8}-fraud-model-precision-drop", incident.channel_name)
    channel = drv.channel_by_name(incident.channel_name)
    assert channel is not None and not channel.is_private
    alice = drv.user("alice").id
    assert alice in channel.members
    assert "SEV2" in channel.topic.value and "data-drift" in channel.topic.value
    card = next(m for m in drv.bot_messages(incident.channel_name) if m["ts"] == incident.card_ts)
    assert card.get("pinned_to") or emu.state.message(channel.id, incident.card_ts).pinned_to
    card_text = str(card["blocks"])
    for button in ("Assign roles", "Triage", "Add evidence", "Postmortem"):
        assert button in card_text
    thread = drv.thread(incident.channel_name, incident.card_ts or "")
    assert any("Roles for this incident" in str(m.get("blocks")) for m in thread[1:])
    assert incident.models == ["fraud@3"] and incident.severity == 2 and incident.category == "data-drift"
    assert f"<#{channel.id}>" in texts(drv.messages("#general"))
    assert "Declared" in result.text()
    asked = await run(stack, "alice", "#general", "start Fraud model precision drop")  # did you mean it?
    assert f"Did you mean #{incident.channel_name}" in asked.text()
    await answer(stack, "alice", "#general", ActionId.CONFIRM_COMMAND)
    again = await incident_named(stack, f"{incident.channel_name}-2")
    assert again.title == incident.title


async def test_private_declaration_posts_no_public_notice(stack: LocalStack) -> None:
    incident, _ = await declare(stack, "Prompt injection on support bot", options="sev=1 type=adversarial")
    channel = stack.driver.channel_by_name(incident.channel_name)
    assert channel is not None and channel.is_private and incident.private
    assert incident.channel_id not in texts(stack.driver.messages("#general"))


async def test_bad_declarations_are_refused_with_the_valid_list(stack: LocalStack) -> None:
    bad_sev = await run(stack, "alice", "#general", "start Drift sev=7")
    assert "Unknown severity `7`" in bad_sev.text() and "1 (SEV1)" in bad_sev.text()
    assert "Usage: `/retro start" in bad_sev.text()
    bad_type = await run(stack, "alice", "#general", "start Drift type=weather")
    assert "Unknown category `weather`" in bad_type.text() and "training-serving-skew" in bad_type.text()
    bad_opt = await run(stack, "alice", "#general", "start Drift colour=red")
    assert "`colour=`" in bad_opt.text()
    async with stack.deps.session() as s:
        assert (await s.exec(select(Incident))).first() is None


async def test_start_without_title_opens_the_declare_modal(stack: LocalStack) -> None:
    await run(stack, "carol", "#general", "start")
    views = stack.driver.views_open_for("carol")
    assert views and views[-1]["callback_id"] == "retro_declare"
    status, _ = await stack.driver.submit_view("carol", values={
        "title": "Stale features in ranking", "severity": "3", "category": "data-quality",
        "models": "ranker@12", "description": "feature store lag"})
    assert status == 200
    await stack.settle()
    incident = await incident_named(stack, [c.name for c in stack.emulator.state.channels.values()
                                            if c.name.endswith("stale-features-in-ranking")][0])
    assert incident.category == "data-quality" and incident.models == ["ranker@12"]
    assert incident.description == "feature store lag"


async def test_commands_outside_an_incident_list_the_open_ones(stack: LocalStack) -> None:
    incident, _ = await declare(stack, "Latency spike")
    result = await run(stack, "bob", "#general", "note something")
    assert "inside an incident channel" in result.text() and incident.channel_name in result.text()
    listing = await run(stack, "bob", "#general", "list")
    assert "Latency spike" in listing.text() and "commander" in listing.text()


@dataclass
class Story:
    """The scripted incident so far: what each step hands on to the next."""

    stack: LocalStack
    incident: Incident
    bob: str
    carol: str
    stamps: list[str] = field(default_factory=list)  # the 16 observations, in order
    reply: str = ""  # the thread reply to the first observation
    file_id: str = ""
    rows: list[TimelineEntry] = field(default_factory=list)

    @property
    def channel(self) -> str:
        """The incident channel's name."""
        return self.incident.channel_name

    @property
    def id(self) -> int:
        """The incident's id."""
        assert self.incident.id is not None
        return self.incident.id


async def declared(stack: LocalStack) -> Story:
    """Step 1: alice declares the incident from #general."""
    incident, _ = await declare(stack, "Fraud precision drop", options="sev=2 type=model-regression")
    assert incident.id is not None
    return Story(stack, incident, bob=stack.driver.user("bob").id, carol=stack.driver.user("carol").id)


async def roles_are_assigned_by_the_commander_only(story: Story) -> None:
    """Step 2: roles in the thread, refused for a non-commander, accepted for the commander."""
    stack, drv, ch, roles_ts = story.stack, story.stack.driver, story.channel, story.incident.roles_ts
    await drv.join("bob", ch)
    await drv.click("bob", action_id=f"{ActionId.ROLE_SELECT}:scribe", block_id="role:scribe", channel=ch,
                    message_ts=roles_ts, selected_user=story.bob)
    await stack.settle()
    alice = drv.user("alice").id  # the domain names the commander; the reply shows a mention of them
    assert any(f"Only the incident commander (<@{alice}>) can assign roles." in str(e.get("text"))
               for e in drv.ephemerals("bob"))
    await drv.click("alice", action_id=f"{ActionId.ROLE_SELECT}:scribe", block_id="role:scribe", channel=ch,
                    message_ts=roles_ts, selected_user=story.bob)
    await stack.settle()
    await run(stack, "alice", ch, f"role ml-owner <@{story.carol}|carol>")
    channel = drv.channel_by_name(ch)
    assert channel is not None and story.carol in channel.members
    thread_text = str(drv.thread(ch, story.incident.card_ts or ""))
    assert "is now *Scribe*" in thread_text and "is now *ML owner*" in thread_text


async def triage_is_submitted_then_edited(story: Story) -> None:
    """Step 3: alice submits the triage form, bob edits it."""
    stack, drv, ch = story.stack, story.stack.driver, story.channel
    await run(stack, "alice", ch, "triage")
    assert drv.views_open_for("alice")[-1]["callback_id"] == "retro_triage"
    await drv.submit_view("alice", values={"what_happened": "precision fell from 0.91 to 0.62",
                                           "impact_start": "2026-05-01T13:40:00Z",
                                           "detection": "PagerDuty alert on precision", "affected": "fraud@3",
                                           "customer_impact": "false declines"})
    await stack.settle()
    await run(stack, "bob", ch, "triage")
    await drv.submit_view("bob", values={"what_happened": "precision fell from 0.91 to 0.62 after deploy"})
    await stack.settle()


async def the_channel_talks(story: Story) -> None:
    """Step 4: 16 messages from 4 people, a thread reply, an edit, a deletion, a shared file and a 📌."""
    stack, drv, ch = story.stack, story.stack.driver, story.channel
    users = ["alice", "bob", "carol", "dave"]
    for u in users[2:]:
        await drv.join(u, ch)
    story.stamps = [await drv.post(users[i % 4], ch, f"observation {i}: p@k looks off") for i in range(16)]
    story.reply = await drv.post("bob", ch, "replying in thread", thread_ts=story.stamps[0])
    await drv.edit("carol", ch, story.stamps[2], "observation 2 (corrected): recall stable")
    await drv.delete("dave", ch, story.stamps[3])
    story.file_id = await drv.share_file("dave", ch, "confusion.csv", b"tp,fp\n10,90\n")
    await drv.react("alice", ch, story.stamps[5], "pushpin")
    await stack.settle()


async def evidence_of_four_kinds_is_added(story: Story) -> None:
    """Step 5: a log, a model, a feature flag and the shared file become evidence E1-E4."""
    stack, ch = story.stack, story.channel
    await run(stack, "alice", ch, "evidence log https://logs.example.com/q?id=9 spike at 14:10 from=-2h to=now")
    await run(stack, "carol", ch, "evidence model fraud@3 the deployed version")
    await run(stack, "bob", ch, "evidence feature-flag new_scorer:on flipped at 13:55")
    shared = await run(stack, "dave", ch, f"evidence file {story.file_id} confusion matrix export")
    assert "file sha256" in shared.text()
    listing = await run(stack, "alice", ch, "evidence")
    assert all(f"E{n}" in listing.text() for n in (1, 2, 3, 4))


async def status_severity_and_a_note_change(story: Story) -> None:
    """Step 6: mitigated, SEV1, a refused step back without a reason, resolved, and a note pinging everyone."""
    stack, ch = story.stack, story.channel
    await run(stack, "alice", ch, "status mitigated rolled back to fraud@2")
    await run(stack, "alice", ch, "sev 1 more merchants affected")
    back = await run(stack, "alice", ch, "status investigating")
    assert "needs a reason" in back.text()
    await run(stack, "alice", ch, "status resolved")
    await run(stack, "alice", ch, "note rollback confirmed by <!channel> dashboards")
    await stack.settle()


async def the_chain_records_every_step(story: Story) -> None:
    """Step 7: the chain holds each step once, in order, edits and deletions pointing at their message."""
    story.rows = rows = await entries(story.stack, story.id)
    kinds = [e.kind for e in rows]
    assert kinds[:2] == ["declared", "role_assigned"]
    assert kinds.count("role_assigned") == 3 and kinds.count("triage_submitted") == 2
    assert kinds.count("message") >= 17 + 1  # 16 posts, the thread reply and the file share
    assert kinds.count("message_edited") == 1 and kinds.count("message_deleted") == 1
    assert kinds.count("evidence_added") == 4 and kinds.count("key_event_marked") == 1
    assert [e.data["to"] for e in rows if e.kind == "status_changed"] == ["mitigated", "resolved"]
    assert "file_hashed" in kinds and "note" in kinds and "severity_changed" in kinds
    by_ts = {e.slack_ts: e for e in rows if e.kind == "message"}
    assert by_ts[story.reply].thread_ts == story.stamps[0]
    edit = next(e for e in rows if e.kind == "message_edited")
    assert edit.refers_to == by_ts[story.stamps[2]].seq and by_ts[story.stamps[2]].text.startswith("observation 2:")
    assert next(e for e in rows if e.kind == "message_deleted").refers_to == by_ts[story.stamps[3]].seq
    assert [e.seq for e in rows] == list(range(1, len(rows) + 1))
    assert all(e.at <= f.at for e, f in zip(rows, rows[1:], strict=False))
    note = next(e for e in rows if e.kind == "note")
    assert note.text == "rollback confirmed by <!channel> dashboards"  # verbatim in the record
    drv = story.stack.driver
    bot_posts = " ".join(str(m.get("text")) + str(m.get("blocks")) for m in drv.bot_messages(story.channel))
    assert "<!channel>" not in bot_posts and "<!channel>" not in str(drv.ephemerals("alice"))


async def the_stored_incident_is_complete(story: Story) -> None:
    """Step 8: the incident row, triage versions, role history and evidence as stored; the chain verifies."""
    async with story.stack.deps.session() as s:
        inc = await s.get(Incident, story.id)
        assert inc is not None
        await s.refresh(inc)
        assert inc.status == "resolved" and inc.severity == 1
        assert inc.mitigated_at is not None and inc.resolved_at is not None and inc.mitigated_at <= inc.resolved_at
        triage = (await s.exec(select(TriageVersion).where(TriageVersion.incident_id == story.id))).all()
        assert [t.version for t in triage] == [1, 2]
        assert triage[0].fields["what_happened"] == "precision fell from 0.91 to 0.62"
        assert inc.impact_started_at is not None and inc.impact_started_at.isoformat().startswith("2026-05-01T13:40")
        history = (await s.exec(select(RoleAssignment).where(RoleAssignment.incident_id == story.id))).all()
        assert {(r.role, r.user_id) for r in history} >= {("scribe", story.bob), ("ml-owner", story.carol)}
        ev = (await s.exec(select(Evidence).where(Evidence.incident_id == story.id))).all()
        assert {e.kind for e in ev} == {"log", "model", "feature-flag", "file"}
        assert next(e for e in ev if e.kind == "file").file_sha256 is not None
        assert (await chain.verify_incident(s, inc)).ok


def retro_verify(story: Story) -> subprocess.CompletedProcess[str]:
    """`retro verify <channel>` in its own process, on the stack's database."""
    env = {"DATABASE_URL": story.stack.settings.database_url, "PATH": ""}
    return subprocess.run([sys.executable, "-m", "bot", "verify", story.channel], env=env, capture_output=True,
                          text=True, check=False)


async def verify_passes_then_names_a_tampered_entry(story: Story) -> None:
    """Step 9: the command line verifies the chain, then names the one row changed behind its back."""
    ok = retro_verify(story)
    assert ok.returncode == 0, ok.stderr
    assert f"OK #{story.channel}" in ok.stdout
    victim = story.rows[10]
    async with story.stack.deps.session() as s:
        await s.exec(sql("UPDATE timeline_entry SET text = 'nothing happened' WHERE id = :id").bindparams(
            id=victim.id))
        await s.commit()
    bad = retro_verify(story)
    assert bad.returncode == 1
    assert f"entry {victim.seq}:" in bad.stdout


async def test_the_scripted_incident(stack: LocalStack) -> None:
    """A whole incident through Slack; each step asserts what it did, so a failure names its step."""
    story = await declared(stack)
    await roles_are_assigned_by_the_commander_only(story)
    await triage_is_submitted_then_edited(story)
    await the_channel_talks(story)
    await evidence_of_four_kinds_is_added(story)
    await status_severity_and_a_note_change(story)
    await the_chain_records_every_step(story)
    await the_stored_incident_is_complete(story)
    await verify_passes_then_names_a_tampered_entry(story)
