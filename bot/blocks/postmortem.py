"""The postmortem draft's summary message: key numbers, gaps to fill and the blameless check's findings."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.blocks.kit import Blocks, clip, context, echo, render, web_button
from bot.ids import ActionId
from bot.postmortem.blameless import Finding
from bot.postmortem.doc_types import Doc
from bot.postmortem.document import LEGACY_FORMATS
from bot.postmortem.learning import lessons, trigger
from bot.postmortem.measures import humanise, incident_metrics
from bot.postmortem.review import KINDS as REVIEW_KINDS
from bot.postmortem.review import ReviewState, state_of

MAX_FINDINGS = 6


def draft_filename(channel_name: str) -> str:
    """The uploaded Markdown file's name."""
    return f"{channel_name}-postmortem.md"


def gaps(doc: Doc) -> list[str]:
    """What the draft still leaves as prompts, as short instructions."""
    out: list[str] = []
    triage = doc["triage"]
    if triage is None:
        out.append("Fill the triage template (`/retro triage`).")
    if doc["incident"]["impact_started_at"] is None:
        out.append("Record when the impact started (triage: “When it started”).")
    if not any(h["verdict"] == "confirmed" for h in doc["hypotheses"]):
        out.append("Confirm a hypothesis to state the root cause (`/retro confirm H<n> E<n>`).")
    if not doc["actions"]:
        out.append("Add action items (`/retro action <title> owner=@user due=+1w`).")
    if not doc["evidence"]:
        out.append("Attach evidence (`/retro evidence <kind> <ref>`).")
    if doc["format"] in LEGACY_FORMATS:
        return out
    if trigger(doc) is None:
        out.append("Say what set it off, apart from the root cause (`/retro trigger <what> [at=<when>]`).")
    for group in lessons(doc):
        if not group["rows"]:
            out.append(f"{group['label']}? `/retro lesson {group['kind']} <what>`")
    if not review_of(doc).reviewers:
        out.append("Ask for a review when the draft is ready (`/retro review request @reviewer … [owner=@owner]`).")
    return out


def review_of(doc: Doc) -> ReviewState:
    """The review state the document's chain records."""
    return state_of(((e["kind"], e["actor"], e["data"], e["text"], e["at"]) for e in doc["entries"]
                     if e["kind"] in REVIEW_KINDS), drafted=True)


def review_line(state: ReviewState, names: dict[str, str] | None = None) -> str:
    """The owner, the review status and each reviewer's word, as one mrkdwn line: people as mentions, or, given
    `names`, as plain `@name` text that pings nobody (the draft's summary)."""

    def person(uid: str) -> str:
        return f"<@{uid}>" if names is None else echo("@" + (names.get(uid) or uid), 100)

    owner = person(state.owner) if state.owner else "not named"
    words = []
    for r in state.reviewers:
        word = state.words.get(r)
        said = "waiting" if word is None else (f"approved v{word.version}" if word.verdict == "approved"
                                                 else f"asked for changes on v{word.version}")
        words.append(f"{person(r)} {said}")
    who = f" — {', '.join(words)}" if words else ""
    return f"*Postmortem owner:* {owner} · *Review:* {state.status}{who}"


def _finding(f: Finding) -> str:
    # Each finding stays under ~1,100 characters so the whole message keeps clear of Slack's size limits.
    reframed = f"\n*Could read:* {echo(f.reframed, 350)}" if f.reframed else ""
    return clip(f"> {echo(f.sentence, 350)}\n_{echo(f.why, 150)}_ {echo(f.suggestion, 250)}{reframed}", 3000)


def draft_summary(doc: Doc, *, version: int, sha256: str, findings: list[Finding],
                  web_base: str | None = None) -> Blocks:
    """The message posted in the incident channel with each draft (the full draft is attached in its thread)."""
    inc = doc["incident"]
    metrics = incident_metrics(doc)
    verdicts = ", ".join(f"{v['count']} {v['name']}" for v in metrics["hypotheses_by_verdict"]) or "none"
    open_actions = sum(1 for a in doc["actions"] if a["status"] == "open")
    confirmed = [h for h in doc["hypotheses"] if h["verdict"] == "confirmed"]
    spans = [MarkdownTextObject(text=f"*{s['label']}*\n" + (humanise(s["seconds"]) if s["seconds"] is not None
                                                             else f"missing ({s['missing']})"))
             for s in metrics["spans"]]
    blocks: list[Block] = [
        HeaderBlock(text=clip(f"Postmortem draft v{version}", 150)),
        SectionBlock(text=MarkdownTextObject(text=clip(
            f"*{echo(inc['title'], 300)}*\n{doc['labels']['severity']} · {echo(doc['labels']['category'], 100)} · "
            f"{inc['status']}", 3000))),
        *(SectionBlock(fields=spans[i:i + 10]) for i in range(0, len(spans), 10)),  # a section holds 10 fields
        SectionBlock(text=MarkdownTextObject(text=clip(
            f"*Root cause:* {echo(confirmed[0]['statement'], 600) if confirmed else '_not confirmed yet_'}\n"
            f"{metrics['entry_count']} timeline entries · {metrics['evidence_count']} evidence · "
            f"hypotheses: {verdicts} · {len(doc['actions'])} action item(s), {open_actions} open · "
            f"{metrics['participant_count']} participant(s)", 3000))),
    ]
    if doc["format"] not in LEGACY_FORMATS:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=clip(review_line(review_of(doc), doc["people"]),
                                                                    3000))))
    todo = gaps(doc)
    if todo:
        blocks.append(SectionBlock(text=MarkdownTextObject(
            text=clip("*To complete the draft:*\n" + "\n".join(f"• {t}" for t in todo), 3000))))
    blocks.append(DividerBlock())
    if findings:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=(
            f":mag: *Blameless check: {len(findings)} phrasing(s) to reconsider.* Postmortems work when they "
            "describe systems and decisions, not people."))))
        blocks += [SectionBlock(text=MarkdownTextObject(text=_finding(f))) for f in findings[:MAX_FINDINGS]]
        if len(findings) > MAX_FINDINGS:
            blocks.append(context(f"…and {len(findings) - MAX_FINDINGS} more in the draft."))
    else:
        blocks.append(SectionBlock(text=MarkdownTextObject(
            text=":white_check_mark: *Blameless check:* no blame phrasing found.")))
    blocks.append(context(
        f"Full draft `{draft_filename(inc['channel_name'])}` and the timeline picture are in the thread · "
        f"sha256 `{sha256[:16]}…` · rendered from {inc['entry_count']} entries, chain head `{inc['head_hash'][:16]}…`"))
    link = web_button(web_base, inc["id"], "/postmortem")
    blocks.append(ActionsBlock(elements=[ButtonElement(text="Draft again", action_id=ActionId.POSTMORTEM,
                                                       value=str(inc["id"])), *([link] if link else [])]))
    return render(blocks)


def summary_text(doc: Doc, version: int) -> str:
    """The notification text of the summary message."""
    return f"Postmortem draft v{version} for #{doc['incident']['channel_name']}"


def upload_comment(version: int, findings: list[Finding]) -> str:
    """The comment of the uploaded files."""
    note = f" · {len(findings)} blameless finding(s) listed above" if findings else ""
    return f"Postmortem draft v{version} (Markdown) and the incident timeline{note}."


def file_uploads(doc: Doc, markdown: str, png: bytes, version: int) -> list[dict[str, Any]]:
    """The files of a draft for files_upload_v2: the Markdown draft and the timeline picture."""
    name = doc["incident"]["channel_name"]
    return [
        {"content": markdown, "filename": draft_filename(name), "title": f"Postmortem draft v{version}"},
        {"file": png, "filename": f"{name}-timeline.png", "title": "Incident timeline",
         "alt_txt": f"Timeline of #{name}: milestones and key events"},
    ]
