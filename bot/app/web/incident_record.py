"""What the incident page reads of the record: the entries its story needs (never the whole chain of a long
incident), one page of the timeline, the digests chained for evidence, the postmortem's versions and people's names.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Text, or_, type_coerce
from sqlalchemy import cast as sql_cast
from sqlalchemy import select as sa_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.incident.names import mentioned, names
from bot.postmortem.doc_types import Entry
from bot.postmortem.document import fast_iso, sorted_keys
from bot.postmortem.draft import latest_people
from bot.postmortem.story import STORY_KINDS
from storage.models import Incident, PostmortemDraft, TimelineEntry

PAGE_SIZE = 100
# Kinds the story reads besides its own: marks that make a message key, and the edits and deletions of messages.
MARKS = ("key_event_marked",)
CHANGES = ("message_edited", "message_deleted")
_COLUMNS = ("actor", "at", "data", "hash", "key_event", "kind", "occurred_at", "prev_hash", "refers_to", "seq",
            "slack_ts", "text", "text_sha256", "thread_ts")


@dataclass(frozen=True)
class DraftVersion:
    """A stored postmortem draft, without its text."""

    version: int
    sha256: str
    drafted_by: str
    drafted_at: datetime


def _statement(*where: Any) -> Any:
    columns = [type_coerce(col(TimelineEntry.data), Text) if key == "data" else col(getattr(TimelineEntry, key))
               for key in _COLUMNS]
    return sa_select(*columns).where(*where).order_by(col(TimelineEntry.seq))


def _entry(row: Any) -> Entry:
    """A row of `_COLUMNS` as the incident document holds an entry."""
    values = dict(zip(_COLUMNS, row, strict=True))
    raw = values["data"]
    data = {} if raw in (None, "{}") else sorted_keys(json.loads(raw) if isinstance(raw, str) else raw)
    entry: dict[str, Any] = {"actor": values["actor"], "at": fast_iso(values["at"]), "data": data,
                             "hash": values["hash"], "key_event": values["key_event"], "kind": values["kind"]}
    if values["occurred_at"] is not None:
        entry["occurred_at"] = fast_iso(values["occurred_at"])
    entry.update({k: values[k] for k in ("prev_hash", "refers_to", "seq", "slack_ts", "text", "text_sha256",
                                         "thread_ts")})
    return cast(Entry, entry)


async def _read(session: AsyncSession, *where: Any) -> list[Entry]:
    return [_entry(row) for row in (await session.exec(_statement(*where))).all()]


def _of(incident: Incident) -> list[Any]:
    return [col(TimelineEntry.incident_id) == incident.id, col(TimelineEntry.seq) <= incident.entry_count]


async def story_entries(session: AsyncSession, incident: Incident) -> list[Entry]:
    """The entries the key timeline, the severity path and the picture are drawn from: the story's kinds, key
    messages (flagged, or marked since) with their edits and deletions, and the posts that show who Retro posts as.
    Everything else of the chain only fills the full timeline, which is read a page at a time."""
    first = await _read(session, *_of(incident), or_(col(TimelineEntry.kind).in_((*STORY_KINDS, *MARKS)),
                                                     col(TimelineEntry.key_event).is_(True)))
    marked = {e["refers_to"] for e in first if e["kind"] in MARKS and e["refers_to"] is not None}
    key = marked | {e["seq"] for e in first if e["key_event"] and e["kind"] not in MARKS}
    found = {e["seq"]: e for e in first}
    wanted = sorted(marked - set(found))
    for start in range(0, len(wanted), 500):
        for e in await _read(session, *_of(incident), col(TimelineEntry.seq).in_(wanted[start:start + 500])):
            found[e["seq"]] = e
    keyed = sorted(key)
    for start in range(0, len(keyed), 500):
        for e in await _read(session, *_of(incident), col(TimelineEntry.kind).in_(CHANGES),
                             col(TimelineEntry.refers_to).in_(keyed[start:start + 500])):
            found[e["seq"]] = e
    for e in await _read(session, *_of(incident), col(TimelineEntry.kind) == "bot_message",
                         sql_cast(col(TimelineEntry.data), Text).contains('"retro"')):
        found.setdefault(e["seq"], e)
    return [found[seq] for seq in sorted(found)]


def page_count(incident: Incident) -> int:
    """How many pages the full timeline takes."""
    return max(1, -(-incident.entry_count // PAGE_SIZE))


async def entry_page(session: AsyncSession, incident: Incident, page: int) -> list[Entry]:
    """One page of the chain, in chain order (seqs run 1, 2, 3…, so a page is a range of them)."""
    low = (page - 1) * PAGE_SIZE
    return await _read(session, *_of(incident), col(TimelineEntry.seq) > low,
                       col(TimelineEntry.seq) <= low + PAGE_SIZE)


async def chained_evidence(session: AsyncSession, incident: Incident) -> dict[int, str]:
    """The SHA-256 chained for each evidence item when it was added (E number -> digest)."""
    out: dict[int, str] = {}
    for e in await _read(session, *_of(incident), col(TimelineEntry.kind) == "evidence_added"):
        number, digest = e["data"].get("number"), e["data"].get("sha256")
        if isinstance(number, int) and isinstance(digest, str):
            out.setdefault(number, digest)
    return out


async def draft_versions(session: AsyncSession, incident_id: int) -> list[DraftVersion]:
    """The stored postmortem drafts, newest first."""
    rows = await session.exec(select(PostmortemDraft.version, PostmortemDraft.sha256, PostmortemDraft.drafted_by,
                                     PostmortemDraft.drafted_at)
                              .where(PostmortemDraft.incident_id == incident_id)
                              .order_by(col(PostmortemDraft.version).desc()))
    return [DraftVersion(*row) for row in rows.all()]


async def draft_text(session: AsyncSession, incident_id: int, version: int) -> PostmortemDraft | None:
    """One stored draft, with its Markdown."""
    return (await session.exec(select(PostmortemDraft).where(PostmortemDraft.incident_id == incident_id,
                                                             PostmortemDraft.version == version))).first()


async def people(session: AsyncSession, incident: Incident, uids: set[str], entries: list[Entry]) -> dict[str, str]:
    """Display names for these people and those the entries name: the ones Retro keeps for the workspace, else
    those of the latest draft."""
    wanted = uids | {e["actor"] for e in entries if e["actor"]} | mentioned(e["text"] for e in entries)
    kept = await names(session, incident.team_id, wanted)
    drafted = await latest_people(session, incident.id or 0)
    return {uid: kept.get(uid) or drafted[uid] for uid in sorted(wanted) if uid in kept or uid in drafted}
