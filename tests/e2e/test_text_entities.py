"""Text as Slack delivers it (`&amp;` `&lt;` `&gt;`) is read once at the boundary: people see what they typed in
echoes, titles, channel names, `/retro timeline` and the postmortem, while the chain keeps Slack's text as sent."""

from __future__ import annotations

import re

from sqlmodel import col, select

from bot.app.local import LocalStack
from bot.record import chain
from sandbox.render import message_text
from storage.models import Evidence, Hypothesis, Incident, PostmortemDraft
from tests.e2e.helpers import declare, entries, run

TYPED = "p@k > 0.8 & recall"


def _seen(stack: LocalStack, channel: str) -> str:
    """What people read in a channel's messages (markup resolved, entities shown as characters)."""
    names = {u.id: u.name for u in stack.emulator.state.users.values()}
    return "\n".join(message_text(m, names) for m in stack.driver.messages(channel))


async def test_a_title_with_comparisons_echoes_as_typed_and_gets_a_clean_slug(stack: LocalStack) -> None:
    incident, result = await declare(stack, TYPED)
    assert incident.title == TYPED
    assert re.fullmatch(r"inc-\d{8}-p-k-0-8-recall", incident.channel_name), incident.channel_name
    seen = result.text() + _seen(stack, incident.channel_name)
    assert TYPED in seen
    assert "&gt;" not in seen and "&amp;" not in seen


async def test_a_title_with_a_link_and_a_mention_gets_a_slug_of_words(stack: LocalStack) -> None:
    incident, _ = await declare(stack, "drift seen by @bob on https://grafana.example.com/d/1?a=1&b=2")
    assert re.fullmatch(r"inc-\d{8}-drift-seen-by-bob-on-grafana-example-com", incident.channel_name), \
        incident.channel_name
    bob = stack.driver.user("bob").id.lower()
    assert bob not in incident.channel_name and "https" not in incident.channel_name


async def test_a_message_is_recorded_as_sent_and_read_as_typed(stack: LocalStack) -> None:
    incident, _ = await declare(stack, "Recall regression")
    ch = incident.channel_name
    ts = await stack.driver.post("bob", ch, f"{TYPED} < 0.5")
    await stack.driver.edit("bob", ch, ts, f"{TYPED} <= 0.5")
    await stack.driver.pin("bob", ch, ts)
    await stack.settle()
    assert incident.id is not None
    recorded = {e.kind: e.text for e in await entries(stack, incident.id)}
    assert recorded["message"] == "p@k &gt; 0.8 &amp; recall &lt; 0.5"
    assert recorded["message_edited"] == "p@k &gt; 0.8 &amp; recall &lt;= 0.5"

    shown = (await run(stack, "alice", ch, "timeline all")).text()
    assert f"{TYPED} < 0.5" in shown and f"{TYPED} <= 0.5" in shown
    assert "&gt;" not in shown and "&lt;" not in shown and "&amp;" not in shown

    await run(stack, "alice", ch, "postmortem")
    async with stack.deps.session() as s:
        markdown = (await s.exec(select(PostmortemDraft.markdown)
                                 .where(PostmortemDraft.incident_id == incident.id))).one()
        fresh = await s.get(Incident, incident.id)
        assert fresh is not None and (await chain.verify_incident(s, fresh)).ok
    # The draft escapes `<` for Markdown with a backslash (it would open HTML); `>` and `&` mid-line are text.
    assert f"{TYPED} \\< 0.5" in markdown and f"{TYPED} \\<= 0.5" in markdown
    assert "&gt;" not in markdown and "&amp;" not in markdown


async def test_notes_hypotheses_and_evidence_notes_keep_what_was_typed(stack: LocalStack) -> None:
    incident, _ = await declare(stack, "Precision drop")
    ch = incident.channel_name
    noted = await run(stack, "alice", ch, f"note {TYPED} since 10:00")
    proposed = await run(stack, "bob", ch, "hypothesis psi > 0.2 & drift on <feature>")
    planned = await run(stack, "bob", ch, 'test H1 compare p < 0.05 expect="psi > 0.2"')
    await run(stack, "bob", ch, "evidence dashboard grafana/recall shows recall > 0.9 & rising")
    added = await run(stack, "bob", ch, "evidence")
    for result, typed in ((noted, f"{TYPED} since 10:00"), (proposed, "psi > 0.2 & drift on <feature>"),
                          (added, "shows recall > 0.9 & rising")):
        assert typed in result.text() + _seen(stack, ch), typed
    seen = noted.text() + proposed.text() + planned.text() + added.text() + _seen(stack, ch)
    assert "&gt;" not in seen and "&lt;" not in seen and "&amp;" not in seen
    assert incident.id is not None
    async with stack.deps.session() as s:
        h = (await s.exec(select(Hypothesis).where(Hypothesis.incident_id == incident.id)
                          .order_by(col(Hypothesis.number)))).one()
        e = (await s.exec(select(Evidence).where(Evidence.incident_id == incident.id))).one()
    assert e.note == "shows recall > 0.9 & rising"
    assert (h.statement, h.test_plan, h.expected) == ("psi > 0.2 & drift on <feature>", "compare p < 0.05",
                                                      "psi > 0.2")
    recorded = [e.text for e in await entries(stack, incident.id) if e.kind in ("note", "hypothesis_proposed")]
    assert recorded == [f"{TYPED} since 10:00", "psi > 0.2 & drift on <feature>"]
