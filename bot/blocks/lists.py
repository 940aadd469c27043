"""Listings: open incidents, the timeline (paginated), evidence."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.blocks.kit import SECTION_MAX, Blocks, chunk_lines, clip, context, echo, line_sections, paged, render, user
from bot.catalog import Catalog
from bot.ids import ActionId
from storage.models import Evidence, Incident, TimelineEntry

UTC_ZONE = ZoneInfo("UTC")
PAGE_SIZE = 40
# Text per page: the sections' lines stay well within a message's total-text budget, leaving room for the rest.
PAGE_CHARS = 9_000


def _age(since: datetime, now: datetime) -> str:
    minutes = int((now - since).total_seconds() // 60)
    if minutes < 60:
        return f"{minutes}m"
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes < 48 * 60 else f"{minutes // 1440}d"


def incident_list(items: list[tuple[Incident, str | None]], catalog: Catalog, now: datetime, *,
                  page: int = 1) -> Blocks:
    """Open incidents with severity, age and commander, a page at a time (every one is on some page)."""
    if not items:
        return render([SectionBlock(text=MarkdownTextObject(text="No open incidents. :sunny:"))])
    groups: list[list[Block]] = []
    for inc, commander in items:
        sev = catalog.severity(inc.severity)
        groups.append([SectionBlock(text=MarkdownTextObject(text=clip(
            f"*{sev.name if sev else inc.severity}* <#{inc.channel_id}> — {echo(inc.title, 150)}\n"
            f"{inc.status} · {inc.category} · open {_age(inc.created_at, now)} · commander {user(commander)}",
            3000)))])
    return render(paged([HeaderBlock(text=f"Open incidents ({len(items)})")], groups, page=page,
                        command="/retro list"))


def _what(e: TimelineEntry) -> str:
    """What an entry says, by kind (user text is echoed separately and neutralised)."""
    d = e.data
    n = d.get("number")
    late = " _(added after close)_" if d.get("after_close") else ""
    was = f"(was {d.get('previous')}) " if d.get("previous") not in (None, "open", d.get("verdict")) else ""
    evidence = d.get("evidence")
    cited: list[Any] = evidence if isinstance(evidence, list) else []  # a verdict's; a chart's is one number
    fixed = {
        "message": "", "bot_message": "(bot) ", "note": f":pushpin: note{late}: ",
        "declared": ":rotating_light: declared: ",
        "message_edited": "edited a message: ", "message_deleted": "deleted a message",
        "key_event_marked": ":pushpin: marked a message as key event",
        "status_changed": f"status {d.get('from')} → {d.get('to')} ",
        "severity_changed": f"severity SEV{d.get('from')} → SEV{d.get('to')} ",
        "role_assigned": f"{d.get('role')} → {user(d.get('user'))}",
        "triage_submitted": f"triage template v{d.get('version')} submitted",
        "hypothesis_proposed": f"H{n} proposed: ", "hypothesis_test_planned": f"H{n} test plan: ",
        "hypothesis_verdict": f"H{n} {d.get('verdict')} {was}" + " ".join(f"E{x}" for x in cited) + " ",
        "action_added": f"A{n} added{late}: ", "action_done": f"A{n} done ", "action_dropped": f"A{n} dropped: ",
        "action_reassigned": f"A{n} → {user(d.get('owner'))}", "action_escalated": f"A{n} overdue, escalated",
        "action_due_changed": f"A{n} due {d.get('due')}", "action_snoozed": f"A{n} snoozed",
        "action_check": f"A{n} {d.get('stage')} {'re-check' if d.get('scheduled') else 'check'}: {d.get('outcome')}",
        "action_verified": f"A{n} verified", "action_regressed": f"A{n} regressed",
        "action_verify_set": f"A{n} rollback / re-check noted",
        "recurrence_confirmed": ":repeat: a recurrence of ", "recurrence_dismissed": "not a recurrence of ",
        "reminder_failed": "a reminder could not be delivered ",
        "chart_posted": f"chart of E{d.get('evidence')} posted",
        "file_hashed": f"file {echo(str((d.get('file') or {}).get('name') or ''), 80)} sha256 "
                       f"`{str(d.get('sha256') or d.get('error') or '')[:16]}`",
        "postmortem_drafted": f"postmortem draft v{d.get('version')}",
        "retention_purged": f"retention purged the text of {d.get('entries')} messages",
    }
    if e.kind == "evidence_added":
        failed = " — collection failed" if d.get("status") == "failed" else ""
        return f"evidence E{n} ({d.get('kind')}) {echo(str(d.get('ref', '')), 200)}{failed} "
    return fixed.get(e.kind, f"{e.kind} ")


def _when(e: TimelineEntry, tz: ZoneInfo) -> str:
    """When the entry's event happened in the team's time, and when it was recorded if that differs (`at=`); with
    the day when the two days differ."""
    recorded = e.at.astimezone(tz)
    if e.occurred_at is None:
        return f"{recorded:%H:%M:%S}"
    happened = e.occurred_at.astimezone(tz)
    day = "" if happened.date() == recorded.date() else f"{happened:%b %d} "
    return f"{day}{happened:%H:%M:%S} _(recorded {recorded:%H:%M})_"


def entry_line(e: TimelineEntry, tz: ZoneInfo = UTC_ZONE, names: Mapping[str, str] | None = None) -> str:
    """One timeline entry as a line of mrkdwn, its times in `tz` (no internal sequence number): user text
    neutralised, the people it mentions by their names in `names`."""
    text = echo(e.text, 150 if e.kind == "declared" else 300, names) if e.text else ""
    files = " ".join(f":paperclip: {echo(str(f.get('name')), 80)}" for f in e.data.get("files", []))
    thread = " ↳" if e.thread_ts else ""
    return clip(f"{_when(e, tz)}{thread} {user(e.actor)}: {_what(e)}{text} {files}".rstrip(), 600)


def page_buttons(action_id: ActionId, key: str, page: int, pages: int) -> list[ActionsBlock]:
    """Previous/next buttons of a paged listing; each button's value is `<key>:<page>`."""
    buttons = []
    if page > 1:
        buttons.append(ButtonElement(text=f"Page {page - 1}", action_id=f"{action_id}:prev",
                                     value=f"{key}:{page - 1}"))
    if page < pages:
        buttons.append(ButtonElement(text=f"Page {page + 1}", action_id=f"{action_id}:next",
                                     value=f"{key}:{page + 1}"))
    return [ActionsBlock(elements=buttons)] if buttons else []


def _timeline_chunks(entries: list[TimelineEntry], tz: ZoneInfo,
                     names: Mapping[str, str] | None = None) -> list[list[str]]:
    """The timeline's lines cut into pages: every entry is on exactly one page, each page within Slack's caps."""
    return chunk_lines([entry_line(e, tz, names) for e in entries], max_chars=PAGE_CHARS, max_lines=PAGE_SIZE)


def timeline_page(incident: Incident, entries: list[TimelineEntry], *, page: int, show_all: bool,
                  tz: ZoneInfo = UTC_ZONE, names: Mapping[str, str] | None = None) -> Blocks:
    """One page of the timeline, within Slack's limits, with page buttons; times in the team's timezone `tz`, the
    people messages mention by their display names (`names`)."""
    chunks = _timeline_chunks(entries, tz, names)
    pages = max(1, len(chunks))
    page = min(max(1, page), pages)
    label = "Full timeline" if show_all else "Key events"
    blocks: list[Block] = [context(f"*{label}* of #{incident.channel_name} — page {page}/{pages}, "
                                   f"{len(entries)} entries (times {tz.key})")]
    if chunks:
        blocks.extend(line_sections(chunks[page - 1]))
    else:
        blocks.append(SectionBlock(text=MarkdownTextObject(text="_Nothing recorded yet._")))
    blocks.extend(page_buttons(ActionId.TIMELINE_PAGE, f"{incident.id}:{int(show_all)}", page, pages))
    return render(blocks)


def _evidence_text(e: Evidence) -> str:
    digest = f"sha256 `{e.sha256[:16]}…`" + (f" · file sha256 `{e.file_sha256[:16]}…`" if e.file_sha256 else "")
    status = "" if e.status == "ok" else f" · *{e.status}*"
    return clip(f"*E{e.number}* `{e.kind}` {echo(e.ref, 500)}{status}\n{echo(e.note, 1000)}\n"
                f"{user(e.added_by)} · {e.added_at:%Y-%m-%d %H:%M} UTC · {digest}", SECTION_MAX)


def evidence_list(incident: Incident, items: list[Evidence], *, page: int = 1) -> Blocks:
    """One page of the evidence with digests, with page buttons: every item is on some page."""
    if not items:
        return render([SectionBlock(text=MarkdownTextObject(
            text="No evidence yet. Add some with `/retro evidence <kind> <ref> [note]`."))])
    chunks = chunk_lines([_evidence_text(e) for e in items], max_chars=PAGE_CHARS, max_lines=PAGE_SIZE)
    page = min(max(1, page), len(chunks))
    where = f" — page {page}/{len(chunks)} (`/retro evidence page=N`)" if len(chunks) > 1 else ""
    blocks: list[Block] = [context(f"*Evidence* of #{incident.channel_name} ({len(items)}){where}")]
    blocks.extend(SectionBlock(text=MarkdownTextObject(text=text)) for text in chunks[page - 1])
    blocks.extend(page_buttons(ActionId.EVIDENCE_PAGE, str(incident.id), page, len(chunks)))
    return render(blocks)
