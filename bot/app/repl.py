"""`retro sandbox`: the local Slack and the bot, driven from the terminal, kept in files named at start so that a
session can be resumed and its incidents exported afterwards."""

from __future__ import annotations

import contextlib
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import select

from bot.app.local import local_stack
from bot.app.offline import SANDBOX_DATABASE
from bot.config import DEFAULT_DATABASE_URL, Settings
from bot.errors import RetroError
from sandbox import SlackEmulator, run_repl
from sandbox.saved import STATE_FILE, SavedStateError, load, save
from storage.db import create_engine, session_factory
from storage.models import Incident

SANDBOX_TEAM = "T0SANDBOX"  # the workspace SlackEmulator seeds by default

# How long a typed line waits for the bot's work before the prompt comes back; longer work (a collector, a queued
# data check) is printed when it arrives.
SETTLE_SECONDS = 5.0
# What the sandbox's bot takes over from the environment: the team config, templates, the evidence collectors and
# data-check limits, bundle keys and the log level. Slack credentials, the database and the listening address stay
# the sandbox's own.
CARRIED_PREFIXES = ("mlflow_", "prometheus_", "retro_fetch_", "retro_datacheck_", "retro_drift_")
CARRIED = frozenset({"retro_config", "retro_templates_dir", "retro_artifact_inline_max", "retro_signing_key",
                     "retro_verify_keys", "log_level"})


def carried_settings(settings: Settings) -> dict[str, Any]:
    """The settings someone set for Retro that the sandbox's bot runs with too."""
    return {name: value for name, value in settings.model_dump(exclude_unset=True).items()
            if name in CARRIED or name.startswith(CARRIED_PREFIXES)}


@dataclass(frozen=True)
class SandboxFiles:
    """Where a sandbox keeps itself: Retro's SQLite database, the Slack beside it (`.slack`), collected artifacts
    (`.artifacts`)."""

    database: Path

    @property
    def slack(self) -> Path:
        """The folder of the saved Slack workspace."""
        return self.database.with_suffix(".slack")

    @property
    def artifacts(self) -> Path:
        """The folder of artifacts too large for the database."""
        return self.database.with_suffix(".artifacts")

    @property
    def url(self) -> str:
        """The database's URL."""
        return f"sqlite+aiosqlite:///{self.database.resolve()}"

    async def remove(self) -> None:
        """Start over: delete the database (with SQLite's side files), the Slack and the artifacts; refuses a file
        that is not a sandbox's own Retro database (`--database` may name any file)."""
        if self.database.is_file() and not await _only_sandbox_data(self.url):
            raise RetroError(f"{self.database} is not a sandbox's database (it holds other workspaces' incidents, "
                             "or no Retro data): --fresh deletes only the sandbox's own")
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{self.database}{suffix}").unlink(missing_ok=True)
        for folder in (self.slack, self.artifacts):
            shutil.rmtree(folder, ignore_errors=True)

    def resuming(self) -> bool:
        """True when both halves of an earlier session are here; refuses when only one is (they would disagree)."""
        has_db, has_slack = self.database.is_file(), (self.slack / STATE_FILE).is_file()
        if has_db != has_slack:
            kept, lost = (self.database, self.slack) if has_db else (self.slack, self.database)
            raise RetroError(f"{kept} was kept without {lost}, its other half: `retro sandbox --fresh` starts over "
                             f"(or --database names another file)")
        return has_db


async def _only_sandbox_data(url: str) -> bool:
    """Whether a database is Retro's and holds incidents of the sandbox's workspace only (or none)."""
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            other = (await session.exec(select(Incident.id).where(Incident.team_id != SANDBOX_TEAM).limit(1))).first()
    except SQLAlchemyError:
        return False
    finally:
        await engine.dispose()
    return other is None


def incident_channels(emulator: SlackEmulator) -> list[str]:
    """Names of the channels the app opened, oldest first."""
    ws = emulator.workspace
    return [c.name for c in sorted(ws.channels.values(), key=lambda c: (c.created, c.id))
            if c.creator == ws.bot_user_id and not c.is_im]


async def run_sandbox(settings: Settings, *, user: str, database: Path | None = None, fresh: bool = False,
                      stdin: TextIO | None = None, stdout: TextIO | None = None) -> None:
    """Start the stack on the sandbox's files (resuming an earlier session there) and hand the terminal to the REPL."""
    out = stdout or sys.stdout
    files = SandboxFiles(database or Path(SANDBOX_DATABASE))
    if fresh:
        await files.remove()
    resuming = files.resuming()
    try:
        async with local_stack(database_url=files.url, scheduler=True, artifacts_dir=files.artifacts,
                               env=carried_settings(settings),
                               prepare=(lambda emu: load(emu, files.slack)) if resuming else None) as stack:
            emulator = stack.emulator
            kept = "resumed from" if resuming else "kept in"
            out.write(f"Retro sandbox: a local Slack at {emulator.api_url}, the bot at {stack.events_url}\n"
                      f"Retro's data {kept} {files.database}, the sandbox's Slack in {files.slack}/ "
                      f"(`retro sandbox --fresh` starts over)\n")
            if settings.database_url != DEFAULT_DATABASE_URL:
                out.write("DATABASE_URL is for `retro serve`; the sandbox keeps its own database (--database FILE)\n")
            out.write("Type /retro help, plain messages, `as bob: …`, `#channel`, `click N`, `who`; `help` for more, "
                      "`quit` to leave.\n")
            save(emulator, files.slack)

            async def settle() -> None:
                with contextlib.suppress(TimeoutError):
                    await stack.settle(SETTLE_SECONDS)

            try:
                await run_repl(emulator, stack.driver, stdin=stdin or sys.stdin, stdout=out, default_user=user,
                               on_change=lambda: save(emulator, files.slack), settle=settle)
            finally:
                save(emulator, files.slack)
    except SavedStateError as exc:
        raise RetroError(f"{exc} (`retro sandbox --fresh` starts over)") from None
    save(emulator, files.slack)  # what arrived while the stack shut down
    channels = incident_channels(emulator)
    example = channels[-1] if channels else "inc-…"
    out.write(f"Kept in {files.database}. Afterwards: retro export {example} --database {files.database}; "
              f"retro verify {example} --database {files.database}\n")
