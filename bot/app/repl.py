"""`retro sandbox`: the local Slack and the bot, driven from the terminal."""

from __future__ import annotations

from bot.app.local import local_stack
from bot.config import DEFAULT_DATABASE_URL, Settings
from sandbox import run_repl


async def run_sandbox(settings: Settings, *, user: str) -> None:
    """Start the stack (a temporary SQLite unless DATABASE_URL is set) and hand the terminal to the REPL."""
    url = None if settings.database_url == DEFAULT_DATABASE_URL else settings.database_url
    async with local_stack(database_url=url, scheduler=True) as stack:
        print(f"Retro sandbox: a local Slack at {stack.emulator.api_url}, the bot at {stack.events_url}")
        print("Type /retro help, plain messages, `as bob: …`, `#channel`, `click N`; `help` for more, `quit` to leave.")
        await run_repl(stack.emulator, stack.driver, default_user=user)
