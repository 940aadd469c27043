"""Files shared in an incident's channel, as its timeline recorded them: what a file named in a command (`/retro
evidence file <name>`, `/retro datacheck`) is looked up among."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import TimelineEntry

LISTED = 10  # how many of the channel's files a refusal lists


@dataclass(frozen=True)
class SharedFile:
    """A file a message of the channel shared: its Slack id, its name, who shared it and when."""

    id: str
    name: str
    by: str | None
    at: datetime


async def shared_files(session: AsyncSession, incident_id: int) -> list[SharedFile]:
    """Every file shared in the incident's channel, newest first (a file shared twice counts once, at its latest)."""
    rows = await session.exec(select(TimelineEntry).where(TimelineEntry.incident_id == incident_id,
                                                          col(TimelineEntry.kind).in_(("message", "bot_message")))
                              .order_by(col(TimelineEntry.seq).desc()))
    found: dict[str, SharedFile] = {}
    for entry in rows.all():
        for f in entry.data.get("files") or []:
            if isinstance(f, dict) and isinstance(f.get("id"), str) and f["id"] not in found:
                found[f["id"]] = SharedFile(f["id"], str(f.get("name") or f["id"]), entry.actor, entry.at)
    return list(found.values())


def find(files: list[SharedFile], ref: str) -> SharedFile | None:
    """The newest file with this name (exactly, else but for case), or with this id."""
    ref = ref.strip()
    return (next((f for f in files if f.name == ref), None)
            or next((f for f in files if f.name.casefold() == ref.casefold()), None)
            or next((f for f in files if f.id == ref), None))


def not_shared(ref: str, files: list[SharedFile]) -> str:
    """Why a name was refused, with the channel's latest files to pick from."""
    if not files:
        return f"No file named `{ref[:80]}` was shared in this channel, and no file has been shared here yet."
    listed = ", ".join(f"`{f.name[:80]}` ({f.id}, {f.at:%Y-%m-%d %H:%M} UTC)" for f in files[:LISTED])
    more = f" and {len(files) - LISTED} older" if len(files) > LISTED else ""
    return f"No file named `{ref[:80]}` was shared in this channel. Latest files here: {listed}{more}."
