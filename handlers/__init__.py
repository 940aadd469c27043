"""Thin Slack adapters; `register_all` wires every area into a Bolt app."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.deps import Deps
from handlers import action_items, actions, commands, errors, events, middleware, postmortem_cmds, views


def register_all(app: AsyncApp, deps: Deps) -> None:
    """Register middleware, the error handler and every listener."""
    middleware.register(app, deps)
    errors.register(app, deps)
    commands.register(app, deps)
    events.register(app, deps)
    actions.register(app, deps)
    views.register(app, deps)
    postmortem_cmds.register(app, deps)
    action_items.register(app, deps)
