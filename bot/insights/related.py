"""Earlier incidents like this one, as the postmortem lists them: what `/retro similar` finds, captured into the
incident document when it is built (so a bundle re-renders them without a database)."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.canonical import iso
from bot.catalog import Catalog
from bot.insights.search import similar
from bot.postmortem.doc_types import RelatedRecord
from storage.models import Incident


async def related_records(session: AsyncSession, incident: Incident, catalog: Catalog) -> list[RelatedRecord]:
    """Earlier public incidents on the same model (first) or in the same category, with their confirmed causes."""
    out: list[RelatedRecord] = []
    for s in await similar(session, incident):
        sev = catalog.severity(s.incident.severity)
        out.append({"causes": list(s.causes), "channel_name": s.incident.channel_name,
                    "created_at": str(iso(s.incident.created_at)), "same_category": s.same_category,
                    "severity": sev.name if sev else f"SEV{s.incident.severity}",
                    "shared_models": list(s.shared_models), "status": s.incident.status, "title": s.incident.title})
    return out
