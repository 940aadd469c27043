"""Process audits in Slack: the report of `/retro audit` and of the monthly post, and the list `/retro audits`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import Block, HeaderBlock, MarkdownTextObject, SectionBlock

from bot.blocks.kit import Blocks, clip, context, echo, line_sections, render, split_message, when
from bot.insights.audit_log import PAGE, SCHEDULE, Listed
from bot.insights.audits import CHECKS


def _where(inc: dict[str, Any]) -> str:
    """The incident as a channel link, with its title unless it is private (the report may be read by anyone)."""
    link = f"<#{inc['channel_id']}>" if inc.get("channel_id") else f"#{echo(str(inc['channel_name']), 80)}"
    return f"{link} (private incident)" if inc.get("private") else f"{link} {echo(str(inc['title']), 80)}"


def gap_line(gap: dict[str, str], *, private: bool = False, check: str = "") -> str:
    """One gap: the check it fails, the item, what is wrong, and the user text it concerns (escaped; left out for a
    private incident, whose statements and titles are for its members)."""
    item = f"*{gap['item']}* " if gap.get("item") else ""
    text = f" — _{echo(gap['text'], 100)}_" if gap.get("text") and not private else ""
    return f"• {check + ': ' if check else ''}{item}{gap['says'].rstrip('.')}{text}"


def _score(score: str | None) -> str:
    return score if score is not None else "n/a"


def audit_parts(report: dict[str, Any], *, number: int, sha256: str) -> list[tuple[str, Blocks]]:
    """The report, in as many messages as Slack's caps need: the totals per check, then each incident with gaps."""
    found = report["incidents"]
    label = (f"incidents closed in {report['period']['label']}" if report.get("month")
             else f"incidents closed in the last {report['period']['label']}")
    head = f"Process audit {number} · {label}"
    summary = (f"{len(found)} closed incident(s) · score {_score(report['score'])} · "
               f"report SHA-256 `{sha256[:16]}…`")
    blocks: list[Block] = [HeaderBlock(text=clip(head, 150)), context(summary)]
    if not found:
        blocks.append(SectionBlock(text=MarkdownTextObject(text="No incident was closed in this period.")))
    else:
        totals = [f"• {name}: {report['checks'][key][0]}/{report['checks'][key][1]}"
                  + ("" if report['checks'][key][1] else " (not applicable)") for key, name in CHECKS.items()]
        blocks.extend(line_sections(["*Checks passed, across incidents*", *totals]))
    clean = [inc for inc in found if not any(c["gaps"] for c in inc["checks"].values())]
    for inc in found:
        gaps = [(CHECKS[key], g) for key, c in inc["checks"].items() for g in c["gaps"]]
        if gaps:
            lines = [f"*{_where(inc)}* · score {_score(inc['score'])}",
                     *(gap_line(g, private=bool(inc.get("private")), check=name) for name, g in gaps)]
            blocks.extend(line_sections(lines))
    if clean:
        blocks.extend(line_sections(["*Every check passed:* " + ", ".join(_where(i) for i in clean)]))
    parts = split_message(blocks)
    text = f"{head}: score {_score(report['score'])}, {len(found)} closed incident(s)"
    if len(parts) == 1:
        return [(text, parts[0])]
    return [(f"{text} (part {n} of {len(parts)})", part) for n, part in enumerate(parts, start=1)]


def _who(run_by: str) -> str:
    return "the monthly schedule" if run_by == SCHEDULE else f"<@{run_by}>"


def audits_list(found: list[Listed], total: int, *, page: int) -> Blocks:
    """Past audits, newest first: when, by whom, the period, the score, and whether the report is intact."""
    if not found:
        return render([SectionBlock(text=MarkdownTextObject(
            text="No process audit has been run yet: `/retro audit` runs one." if page == 1
            else f"There are only {total} audit(s) (page {page} is empty)."))])
    lines = []
    for listed in found:
        row = listed.row
        period = _period(row.report, row.period_start, row.period_end)
        kept = (":white_check_mark: report intact" if listed.intact
                else ":x: report does not match its SHA-256")
        lines.append(f"*Audit {listed.number}* · {when(row.run_at)} by {_who(row.run_by)} · {period} · "
                     f"{len(row.report.get('incidents') or [])} incident(s) · score {row.score} · {kept} · "
                     f"`{row.report_sha256[:16]}…`")
    blocks: list[Block] = [HeaderBlock(text=f"Process audits ({total})"), *line_sections(lines)]
    if total > page * PAGE:
        blocks.append(context(f"Older audits: `/retro audits page={page + 1}`"))
    return render(blocks)


def _period(report: dict[str, Any], since: datetime, until: datetime) -> str:
    if report.get("month"):
        return str(report["period"]["label"])
    return f"{since:%Y-%m-%d} to {until:%Y-%m-%d}"
