"""Messages about evidence: what was recorded, what a collector kept or could not collect, a data check's summary."""

from __future__ import annotations

from typing import Any

from bot.blocks.kit import echo
from bot.collectors.datacheck import Snapshot
from bot.collectors.record import Outcome
from storage.models import Evidence


def collecting_text(what: str) -> str:
    """Said to the caller while a collector works."""
    return f":hourglass_flowing_sand: Collecting {echo(what, 300)}…"


def _kept(row: Evidence) -> str:
    art = row.custody.get("artifact") or {}
    where = "in the database" if art.get("stored") == "database" else "in the artifact store"
    name = echo(str(art.get("name") or "artifact"), 200)  # from an outside server: shown as text, never as markup
    return f"{name} ({art.get('size', 0)} bytes, sha256 `{str(art.get('sha256', ''))[:16]}…`) kept {where}"


def outcome_text(out: Outcome, what: str) -> str:
    """After a collection: what was kept, or what failed and that the attempt is on record."""
    row = out.item
    if out.collected is None:
        return (f":warning: Could not collect {echo(what, 300)}: {echo(out.error, 900)}\n"
                f"Recorded *E{row.number}* as a failed attempt at {row.added_at:%H:%M} UTC.")
    return (f"Collected *E{row.number}* ({row.kind}) {echo(what, 300)}: {echo(out.collected.summary, 900)}\n"
            f"{_kept(row)} · evidence sha256 `{row.sha256[:16]}…`")


def chart_comment(row: Evidence, summary: str, caption: str | None) -> str:
    """The comment of a collected chart shared in the incident channel."""
    return f"*E{row.number}* `{echo(row.ref, 500)}` — {echo(summary, 500)}" + (
        f"\n{echo(caption, 2000)}" if caption else "")


def chart_failed_text(number: int, error: str) -> str:
    """The chart is kept but Slack refused the upload."""
    return f":warning: The chart of E{number} is stored, but posting it failed ({error})."


def recorded_text(row: Evidence, file_sha256: str | None) -> str:
    """A link or a hashed Slack file recorded as evidence."""
    extra = f" · file sha256 `{file_sha256[:16]}…`" if file_sha256 else ""
    return f"Recorded *E{row.number}* ({row.kind}) {echo(row.ref, 500)} · sha256 `{row.sha256[:16]}…`{extra}"


def comparing_text(baseline: str, current: str) -> str:
    """Said to the caller while a data check runs."""
    return f":hourglass_flowing_sand: Comparing {echo(baseline, 200)} with {echo(current, 200)}…"


def datacheck_queued_text(place: int) -> str:
    """Said to the caller when every data-check worker is busy: the check waits its turn."""
    ahead = "" if place == 1 else f", {place - 1} check(s) ahead of it"
    return (f":hourglass: Every data-check worker is busy: your check is queued, number {place} in line{ahead}. "
            "It starts by itself when a worker is free.")


def datacheck_failed_text(row: Evidence, error: str) -> str:
    """A data check that could not run, kept as a failed attempt."""
    return (f":warning: The data check failed: {echo(error, 900)}\n"
            f"Recorded *E{row.number}* as a failed attempt.")


def datacheck_stored_text(row: Evidence) -> str:
    """Told to the caller once the report is kept."""
    return (f"Data check stored as *E{row.number}* (report JSON + Markdown, sha256 "
            f"`{str(row.custody['artifact']['sha256'])[:16]}…`).")


def datacheck_summary(row: Evidence, base: Snapshot, cur: Snapshot, meta: dict[str, Any]) -> str:
    """The channel message: inputs, the verdict line, one line per flagged feature."""
    head = (f":bar_chart: *E{row.number}* data check of `{echo(cur.name, 120)}` ({echo(cur.ref, 60)}) against "
            f"baseline `{echo(base.name, 120)}` ({echo(base.ref, 60)}): {echo(row.note, 300)}")
    lines = []
    for f in meta.get("flagged", [])[:10]:
        bits = [f"{k.upper()} {f[k]}" for k in ("psi", "ks") if f.get(k) is not None]
        lines.append(f"• `{echo(f['column'], 80)}` {', '.join(f['flags'])}: {', '.join(bits)} · nulls "
                     f"{f['null_rate']}")
    return "\n".join([head, *lines])
