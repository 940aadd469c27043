"""What Retro says about verifying mitigations: a check's outcome, a verified or regressed item, the close gate."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from bot.blocks.kit import echo
from bot.followup.expectations import Expectation, MetricVerdict, spoken
from bot.followup.verification import FAILED, REGRESSED, VERIFIED, Recorded
from storage.loop_tables import ActionCheck, ActionVerification
from storage.models import ActionItem, Incident

STATE_ICON = {VERIFIED: ":white_check_mark:", FAILED: ":x:", REGRESSED: ":rotating_light:", "unverified": ":hourglass:"}


def metric_detail(verdict: MetricVerdict, expect: Expectation, query: str, window: str) -> str:
    """Every sample against the expectation, with min/max/last (plain text: kept as the check's summary, escaped
    where it is shown)."""
    q = "`" + query[:300].replace("`", "'") + "`"
    spread = f"min {_n(verdict.low)}, max {_n(verdict.high)}, last {_n(verdict.last)}"
    if verdict.outcome == "error":
        return f"{q} returned no samples over the last {window}, so `{expect}` could not be checked"
    if verdict.failing:
        return (f"{verdict.failing} of {verdict.samples} samples of {q} over {window} broke `{expect}` (first: "
                f"{(verdict.first_failure or '')[:200]}); {spread}")
    return f"every sample of {q} over {window} held `{expect}` ({verdict.samples} samples in {verdict.series} " \
           f"series; {spread})"


def _n(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.6g}"


def datacheck_detail(flagged: Sequence[str], error: str | None) -> str:
    """A data check's verdict: nothing flagged passes (plain text)."""
    if error:
        return f"the data check could not run: {error[:500]}"
    if not flagged:
        return "the data check flagged nothing"
    return "the data check flagged " + ", ".join(f"`{f[:60]}`" for f in flagged[:10]) + (
        f" and {len(flagged) - 10} more" if len(flagged) > 10 else "")


def manual_detail(outcome: str, evidence: int, note: str) -> str:
    """A person's verdict and the evidence it rests on (plain text)."""
    said = "passed" if outcome == "pass" else "failed"
    return f"reported {said} with *E{evidence}*" + (f": {note[:500]}" if note else "")


def check_text(action: ActionItem, recorded: Recorded, detail: str, *, stages: Sequence[str], by: str | None,
               recheck_at: datetime | None = None) -> str:
    """The channel message after a check: the outcome and its evidence, then where the item stands."""
    check, ver = recorded.check, recorded.verification
    who = f" (<@{by}>)" if by and not check.scheduled else " (scheduled re-check)" if check.scheduled else ""
    kept = f" Kept as *E{check.evidence_number}*." if check.evidence_number else ""
    if check.outcome == "error":
        head = f":warning: Could not check *A{action.number}* at *{check.stage}*{who}: {echo(detail, 2000)}.{kept}"
        return f"{head} A{action.number} stays {recorded.after}."
    icon = ":white_check_mark:" if check.outcome == "pass" else ":x:"
    word = "passed" if check.outcome == "pass" else "failed"
    lines = [f"{icon} *A{action.number}* {word} *{check.stage}* ({check.method}){who}: {echo(detail, 2000)}.{kept}"]
    if recorded.after == VERIFIED and recorded.before != VERIFIED:
        lines.append(f":trophy: *A{action.number} is verified*: {' → '.join(stages)} all passed.")
    elif recorded.after == REGRESSED and recorded.before != REGRESSED:
        lines.append(f":rotating_light: *A{action.number} regressed*: it was verified, and {check.stage} now fails.")
    elif check.outcome == "pass" and recorded.after != VERIFIED:
        waiting = _next(stages, check.stage)
        lines.append(f"Next stage for A{action.number}: *{waiting}*." if waiting else
                     f"A{action.number} is {recorded.after}: a stage still fails.")
    if check.outcome == "fail":
        lines.append(rollback_line(action, ver.rollback))
    if recheck_at is not None:
        lines.append(f"Metric checks run again on {recheck_at:%Y-%m-%d %H:%M} UTC.")
    return "\n".join(lines)


def _next(stages: Sequence[str], stage: str) -> str | None:
    at = list(stages).index(stage) if stage in stages else -1
    return stages[at + 1] if 0 <= at < len(stages) - 1 else None


def rollback_line(action: ActionItem, rollback: str | None) -> str:
    """What to roll back, as noted on the item (or how to note it)."""
    if rollback:
        return f":leftwards_arrow_with_hook: Rollback noted on A{action.number}: {echo(rollback, 1000)}"
    return (f"No rollback is noted on A{action.number}; note one with `/retro check A{action.number} "
            'rollback="…"`.')


def regressed_dm(action: ActionItem, incident: Incident, detail: str, rollback: str | None) -> str:
    """The DM to the owner and the commander when a scheduled re-check fails."""
    return (f":rotating_light: *A{action.number} regressed* in #{incident.channel_name}: "
            f"{echo(action.title, 150)}\nA scheduled re-check failed: {echo(detail, 2000)}\n"
            f"{rollback_line(action, rollback)}")


def settings_text(action: ActionItem, rollback: str | None, recheck: str | None, recheck_at: datetime | None) -> str:
    """After `rollback=` or `recheck=` was set on an item."""
    parts = []
    if rollback is not None:
        parts.append(f"rollback: {echo(rollback, 500)}")
    if recheck is not None:
        parts.append(f"metric checks run again every {recheck} once verified" + (
            f" (next on {recheck_at:%Y-%m-%d %H:%M} UTC)" if recheck_at else ""))
    return f"A{action.number} verification — " + "; ".join(parts) + "."


def unverified_lines(items: Sequence[tuple[ActionItem, str]]) -> list[str]:
    """One line per mitigation that is not verified (the close gate lists them)."""
    lines = [f"{STATE_ICON.get(state, '•')} A{a.number} {echo(a.title, 120)} — {state}" for a, state in items[:15]]
    if len(items) > 15:
        lines.append(f"…and {len(items) - 15} more: `/retro actions` lists every one.")
    return lines


def close_warning(incident: Incident, items: Sequence[tuple[ActionItem, str]]) -> list[str]:
    """Asked before closing while mitigations are not verified (the team's gate is `warn`)."""
    count = len(items)
    return [f":warning: *#{incident.channel_name} has {count} mitigation{'s' if count > 1 else ''} not verified.* "
            "Verify each with `/retro check A<n> stage=…`. Close the incident anyway?", *unverified_lines(items)]



def status_text(action: ActionItem, ver: ActionVerification | None, latest: Mapping[str, ActionCheck],
                stages: Sequence[str], recheck_at: datetime | None) -> str:
    """`/retro check A<n>`: the item's state, each stage's latest check, its rollback and next re-check."""
    state = ver.state if ver else "unverified"
    lines = [f"{STATE_ICON.get(state, '•')} A{action.number} is *{state}*."]
    for stage in stages:
        c = latest.get(stage)
        kept = f", E{c.evidence_number}" if c and c.evidence_number else ""
        lines.append(f"• {stage}: " + (f"{c.outcome} ({c.method}, {c.checked_at:%Y-%m-%d %H:%M} UTC{kept})" if c
                                       else "not checked yet"))
    if ver and ver.rollback:
        lines.append(f"Rollback: {echo(ver.rollback, 500)}")
    if ver and ver.recheck_seconds:
        lines.append(f"Metric checks run again every {spoken(timedelta(seconds=ver.recheck_seconds))} once verified"
                     + (f"; next on {recheck_at:%Y-%m-%d %H:%M} UTC." if recheck_at else "."))
    return "\n".join(lines)
