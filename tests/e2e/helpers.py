"""Small helpers for scenarios over the local stack."""

from __future__ import annotations

from typing import Any

from sqlmodel import select

from bot.app.local import LocalStack
from bot.followup import action_items
from bot.record import chain
from sandbox import CommandResult
from storage.models import Incident, TimelineEntry


async def run(stack: LocalStack, user: str, channel: str, text: str) -> CommandResult:
    """Run `/retro <text>` and wait for its replies."""
    result = await stack.driver.command(user, channel, text)
    assert result.ok, (text, result.status, result.ack_error)
    await stack.settle()
    return result


async def incident_named(stack: LocalStack, channel_name: str) -> Incident:
    """The incident row behind a channel name."""
    async with stack.deps.session() as s:
        row = (await s.exec(select(Incident).where(Incident.channel_name == channel_name))).one()
        await s.refresh(row)
        return row


async def entries(stack: LocalStack, incident_id: int) -> list[TimelineEntry]:
    """The incident's chain in order."""
    async with stack.deps.session() as s:
        return await chain.entries_of(s, incident_id)


async def declare(stack: LocalStack, title: str, *, user: str = "alice", options: str = "sev=2 type=data-drift",
                  channel: str = "#general") -> tuple[Incident, CommandResult]:
    """Declare through /retro start and return the new incident."""
    before = {c.id for c in stack.emulator.state.channels.values()}
    result = await run(stack, user, channel, f"start {title} {options}".strip())
    created = [c for c in stack.emulator.state.channels.values() if c.id not in before]
    assert len(created) == 1, result.text()
    return await incident_named(stack, created[0].name), result


def texts(messages: list[dict[str, Any]]) -> str:
    """All message texts of a channel, joined."""
    return "\n".join(str(m.get("text") or "") for m in messages)


async def many_open_items(stack: LocalStack, incident: Incident, count: int, *, owner: str, actor: str) -> None:
    """`count` open action items Task001… with long titles, half due in 3 days and half in 9 (written directly)."""
    async with stack.deps.session() as session:
        for n in range(1, count + 1):
            item = action_items.validate(stack.deps.catalog, title=f"Task{n:03d} " + "backfill the labels " * 8,
                                         owner=owner, due="+3d" if n % 2 else "+9d", kind=None, hypothesis=None,
                                         now=stack.deps.now())
            await action_items.create(session, catalog=stack.deps.catalog, incident=incident, item=item,
                                      actor=actor, now=stack.deps.now())


async def answer(stack: LocalStack, user: str, channel: str, action_id: str) -> dict[str, Any]:
    """Click `action_id` on the latest question Retro asked `user` in `channel` (an ephemeral message with that
    button), then wait for what follows; returns the question as it was shown."""
    ch = channel.lstrip("#")
    asked = [e for e in stack.driver.ephemerals(user, ch) if action_id in str(e.get("blocks"))]
    assert asked, f"no question with {action_id} for {user} in {channel}"
    question = asked[-1]
    status = await stack.driver.click(user, action_id=action_id, channel=ch, message_ts=str(question["ts"]))
    assert status == 200, status
    await stack.settle()
    return question
