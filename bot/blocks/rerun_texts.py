"""What Slack is told about analyses run again: each outcome, and the evidence item that keeps it."""

from __future__ import annotations

from bot.blocks.kit import echo
from bot.insights.rerun import DIFFERS, REPRODUCED, Rerun

_ICON = {REPRODUCED: ":white_check_mark:", DIFFERS: ":warning:"}


def rerun_text(r: Rerun, kept: int | None) -> str:
    """One analysis run again: the outcome, its digests or why, and where the outcome is kept."""
    icon = _ICON.get(r.outcome, ":grey_question:")
    where = f", kept as *E{kept}*" if kept is not None else ""
    head = f"{icon} *E{r.number}* ({r.kind}) run again: *{r.outcome}*{where}"
    if r.outcome == REPRODUCED:
        return f"{head} — same output, sha256 `{r.recorded_sha256[:16]}…`"
    lines = [f"• {echo(line, 300)}" for line in r.detail]
    if r.outcome == DIFFERS and r.new_sha256:
        lines.append(f"• output sha256 `{(r.new_sha256 or '')[:16]}…`, recorded `{r.recorded_sha256[:16]}…`")
    return "\n".join([head, *lines])


def rerun_started_text(numbers: list[int]) -> str:
    """Told to the caller before the analyses run."""
    return f"Running {', '.join(f'E{n}' for n in numbers)} again…"
