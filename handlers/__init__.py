"""Thin Slack adapters; `register_all` wires every area into a Bolt app."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.deps import Deps
from handlers import (
    action_buttons,
    buttons,
    commands,
    events,
    guard,
    middleware,
    postmortem_cmds,
    recurrence_buttons,
    submissions,
)


def register_all(app: AsyncApp, deps: Deps) -> None:
    """Register middleware, the error handler and every listener."""
    middleware.register(app, deps)
    guard.register(app, deps)
    commands.register(app, deps)
    events.register(app, deps)
    buttons.register(app, deps)
    submissions.register(app, deps)
    postmortem_cmds.register(app, deps)
    action_buttons.register(app, deps)
    recurrence_buttons.register(app, deps)
