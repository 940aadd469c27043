"""The monthly process audit as posted to the digest channel: the recorded report, worded from its stored row."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, func, select

from bot.blocks.audit_report import audit_parts
from bot.deps import Deps
from storage.loop_tables import ProcessAudit
from storage.models import Reminder


async def monthly_parts(deps: Deps, row: Reminder) -> list[tuple[str, Any]]:
    """The messages of the audit a reminder of kind `audit` announces (the report as it was recorded)."""
    async with deps.session() as session:
        audit = await session.get(ProcessAudit, int(row.data["audit_id"]))
        if audit is None:
            raise LookupError(f"audit {row.data.get('audit_id')} of reminder {row.id} is gone")
        number = (await session.exec(select(func.count()).select_from(ProcessAudit).where(
            ProcessAudit.team_id == audit.team_id, col(ProcessAudit.id) <= audit.id))).one()
    return audit_parts(audit.report, number=int(number), sha256=audit.report_sha256)
