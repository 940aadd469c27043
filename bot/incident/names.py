"""People's display names by workspace, as Slack last gave them: a cache in the database, so that replies and exports
name people even without asking Slack (the record itself keeps user ids), and the mentions a text holds."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.core import conflict_insert, table_of
from storage.name_tables import PersonName

_T = table_of(PersonName)
# A mention as Slack writes it: `<@U123>`, `<@W123|name>` (the label only in slash-command text).
_MENTION = re.compile(r"<@([UW][A-Z0-9]{1,20})(?:\|[^<>]*)?>")
MAX_NAME = 200


def mentioned(texts: Iterable[str | None]) -> set[str]:
    """The user ids mentioned in these texts."""
    return {m.group(1) for text in texts if text for m in _MENTION.finditer(text)}


async def known(session: AsyncSession, team_id: str, uids: Iterable[str]) -> dict[str, PersonName]:
    """The names kept for these user ids in this workspace (with when Slack gave each)."""
    wanted = sorted(set(uids))
    if not wanted:
        return {}
    rows = await session.exec(select(PersonName).where(PersonName.team_id == team_id,
                                                       col(PersonName.user_id).in_(wanted)))
    return {row.user_id: row for row in rows.all()}


async def names(session: AsyncSession, team_id: str, uids: Iterable[str]) -> dict[str, str]:
    """User id -> display name, for the ids a name is kept for."""
    return {uid: row.name for uid, row in (await known(session, team_id, uids)).items()}


async def remember(session: AsyncSession, team_id: str, told: Mapping[str, str], now: datetime) -> None:
    """Keep what Slack said these people are called (newer names replace older ones); commits."""
    if not told:
        return
    rows = [{"team_id": team_id, "user_id": uid, "name": name[:MAX_NAME], "checked_at": now}
            for uid, name in sorted(told.items())]
    insert = conflict_insert(session.get_bind().dialect.name, _T)
    await session.exec(insert.values(rows).on_conflict_do_update(
        index_elements=["team_id", "user_id"], set_={"name": insert.excluded.name,
                                                     "checked_at": insert.excluded.checked_at}))
    await session.commit()
