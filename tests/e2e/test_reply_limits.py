"""Replies past what a response_url takes still reach the person: Slack's 5 answers per response_url."""

from __future__ import annotations

import socket

from bot.app.local import local_stack
from tests.e2e.helpers import declare


def closed_port() -> int:
    """A loopback port nothing listens on (the registry is away: each collection fails fast)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_a_declaration_with_four_models_gets_every_reply(database_url: str) -> None:
    """Declared reply, channel notice and four "Collecting…" replies: 6 answers, one more than a response_url takes."""
    env = {"mlflow_tracking_uri": f"http://127.0.0.1:{closed_port()}"}
    async with local_stack(database_url=database_url, env=env) as stack:
        incident, result = await declare(stack, "Four models degrade",
                                         options="sev=2 type=model-regression model=a@1,b@1,c@1,d@1")
        await stack.settle()
        await result.replies()
        said = result.text()
        assert f"Declared <#{incident.channel_id}>" in said or f"Declared #{incident.channel_id}" in said, said
        for model in "abcd":
            assert f"Collecting model {model} version 1 from MLflow" in said, said
        hook = stack.emulator.state.hooks[result.hook_id]
        assert hook.uses == 5  # the url was used up; the rest went through chat.postEphemeral
        assert any(r["via"] == "chat.postEphemeral" and "Collecting" in r["text"] for r in result.collected())
