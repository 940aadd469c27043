"""The incident's confirmed recurrences, as the incident document captures them (so a bundle re-renders them
without a database): earlier incidents it recurred, and later public incidents that recurred it."""

from __future__ import annotations

from typing import cast

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.canonical import iso
from bot.catalog import Catalog
from bot.postmortem.doc_types import Doc, RecurrenceRecord
from storage.loop_tables import IncidentLink
from storage.models import Incident


def _record(direction: str, link: IncidentLink, other: Incident, catalog: Catalog) -> RecurrenceRecord:
    sev = catalog.severity(other.severity)
    return {"channel_name": other.channel_name, "confirmed_at": str(iso(link.decided_at)),
            "confirmed_by": link.decided_by or "", "created_at": str(iso(other.created_at)), "direction": direction,
            "reason": link.reason, "severity": sev.name if sev else f"SEV{other.severity}", "status": other.status,
            "title": other.title}


async def recurrence_records(session: AsyncSession, incident_id: int, catalog: Catalog) -> list[RecurrenceRecord]:
    """Confirmed links both ways (`of` an earlier incident, `as` a later one), by when the other was declared;
    private incidents on the other side are left out."""
    found: list[tuple[str, IncidentLink, Incident]] = []
    for direction, mine, theirs in (("of", IncidentLink.incident_id, IncidentLink.earlier_id),
                                    ("as", IncidentLink.earlier_id, IncidentLink.incident_id)):
        rows = await session.exec(select(IncidentLink, Incident).join(Incident, col(Incident.id) == col(theirs))
                                  .where(col(mine) == incident_id, IncidentLink.state == "confirmed",
                                         col(Incident.private).is_(False)))
        found += [(direction, link, other) for link, other in rows.all()]
    found.sort(key=lambda f: (f[2].created_at, f[1].id or 0))
    return [_record(direction, link, other, catalog) for direction, link, other in found]


def with_recurrences(doc: Doc, records: list[RecurrenceRecord]) -> Doc:
    """The document with its confirmed recurrences, in canonical key order; without any, the document as it was (so
    it renders exactly as documents built before recurrences did)."""
    if not records:
        return doc
    return cast(Doc, dict(sorted({**doc, "recurrences": records}.items())))
