"""The app's own posts, pins and uploads come back as events: recorded once, and a deletion of one is recorded."""

from __future__ import annotations

from collections import Counter

from bot.app.local import LocalStack
from sandbox import actions
from tests.e2e.helpers import declare, entries, run


async def test_a_person_deleting_the_incident_card_is_recorded(stack: LocalStack) -> None:
    incident, _ = await declare(stack, "Ranking model stale features")
    assert incident.id is not None and incident.card_ts
    ws = stack.driver.ws
    card = ws.message(incident.channel_id, incident.card_ts)
    assert card.user == ws.bot_user_id
    actions.delete_message(ws, card)  # what a workspace admin deleting the card does
    await stack.settle()
    chain = await entries(stack, incident.id)
    (deleted,) = [e for e in chain if e.kind == "message_deleted"]
    (posted,) = [e for e in chain if e.kind == "bot_message" and e.slack_ts == incident.card_ts]
    assert deleted.slack_ts == incident.card_ts and deleted.refers_to == posted.seq
    assert deleted.actor == ws.bot_user_id  # the post's author, as Slack names it in previous_message


async def test_the_apps_own_posts_pins_and_edits_are_recorded_once(stack: LocalStack) -> None:
    incident, _ = await declare(stack, "Churn model calibration")
    assert incident.id is not None
    await run(stack, "alice", f"#{incident.channel_name}", "sev 1 wider impact")  # refreshes the card
    ws = stack.driver.ws
    own = [d for d in stack.emulator.deliveries
           if isinstance(d.payload.get("event"), dict) and d.payload["event"].get("channel") == incident.channel_id
           and (d.payload["event"].get("user") == ws.bot_user_id
                or (d.payload["event"].get("message") or {}).get("user") == ws.bot_user_id)]
    assert own and all(d.statuses == [200] for d in own)  # Slack sent them back, and they were answered
    chain = await entries(stack, incident.id)
    posts = Counter(e.slack_ts for e in chain if e.kind == "bot_message")
    assert posts[incident.card_ts] == 1 and set(posts.values()) == {1}
    assert not [e for e in chain if e.kind in ("message_edited", "key_event_marked")]
