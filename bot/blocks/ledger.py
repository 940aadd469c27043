"""The hypothesis ledger, the action-item list and the channel notices of ledger changes."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    DatePickerElement,
    DividerBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    SectionBlock,
    StaticSelectElement,
    UserSelectElement,
)
from slack_sdk.models.views import View

from bot.blocks.kit import Blocks, clip, context, echo, line_sections, paged, render, user, when
from bot.blocks.modals import ModalMeta
from bot.ids import CallbackId, Field
from storage.models import ActionItem, Hypothesis, HypothesisVerdict, Incident

VERDICT_EMOJI = {"open": ":grey_question:", "confirmed": ":white_check_mark:", "refuted": ":x:",
                 "inconclusive": ":heavy_minus_sign:"}
STATUS_EMOJI = {"open": ":white_circle:", "done": ":white_check_mark:", "dropped": ":no_entry_sign:"}
FIELD_MAX = 2000


def evidence_refs(numbers: list[int]) -> str:
    """`E2, E5`, or an em dash."""
    return ", ".join(f"E{n}" for n in numbers) or "—"


def due_phrase(due: date, today: date) -> str:
    """`due in 3 days (2026-05-10)`, `due today`, `2 days overdue (due 2026-05-01)`."""
    days = (due - today).days
    if days > 1:
        return f"due in {days} days ({due.isoformat()})"
    if days == 1:
        return f"due tomorrow ({due.isoformat()})"
    if days == 0:
        return f"due today ({due.isoformat()})"
    return f"*{-days} day{'s' if days < -1 else ''} overdue* (due {due.isoformat()})"


def earlier_verdict(v: HypothesisVerdict, note_max: int = 200) -> str:
    """A verdict a later one replaced: what, who, when it was reached, the evidence and the note."""
    note = f": {echo(v.note, note_max)}" if v.note else ""
    return (f"{VERDICT_EMOJI.get(v.verdict, '')} {v.verdict} by {user(v.decided_by)} {when(v.decided_at)} · "
            f"evidence {evidence_refs(v.evidence)}{note}")


def hypothesis_fields(h: Hypothesis, earlier: list[HypothesisVerdict] | None = None) -> list[MarkdownTextObject]:
    """Statement, test, expected outcome and verdict with its evidence (and the verdicts it replaced, latest
    first), as four side-by-side fields."""
    expected = echo(h.expected, 900) if h.expected else "_not set_"
    if h.criteria:
        expected += f"\n_Success criteria:_ {echo(h.criteria, 900)}"
    verdict = f"{VERDICT_EMOJI.get(h.verdict, '')} *{h.verdict}*"
    if h.verdict != "open":
        verdict += f" · evidence {evidence_refs(h.verdict_evidence)}\nby {user(h.verdict_by)}"
        if h.verdict_note:
            verdict += f": {echo(h.verdict_note, 600 if earlier else 1500)}"
    if earlier:
        verdict += f"\n_Changed {len(earlier)}×; before:_ " + "\n".join(
            f"_was_ {earlier_verdict(v, 150)}" for v in reversed(earlier))
    return [
        MarkdownTextObject(text=clip(f"*Statement*\n{echo(h.statement, 1900)}", FIELD_MAX)),
        MarkdownTextObject(text=clip(f"*Test*\n{echo(h.test_plan, 1900) if h.test_plan else '_no plan yet_'}",
                                     FIELD_MAX)),
        MarkdownTextObject(text=clip(f"*Expected*\n{expected}", FIELD_MAX)),
        MarkdownTextObject(text=clip(f"*Verdict*\n{verdict}", FIELD_MAX)),
    ]


def ledger_blocks(incident: Incident, items: list[Hypothesis], *, page: int = 1,
                  history: dict[int, list[HypothesisVerdict]] | None = None) -> Blocks:
    """`/retro hypotheses [page=N]`: each hypothesis with its test, expectation and verdict side by side, and the
    verdicts a later one replaced (`history`: every verdict by H number, the final one last)."""
    earlier = {n: rows[:-1] for n, rows in (history or {}).items()}
    if not items:
        return render([SectionBlock(text=MarkdownTextObject(
            text="No hypotheses yet. Propose one with `/retro hypothesis <statement>`."))])
    tally = {v: sum(1 for h in items if h.verdict == v) for v in VERDICT_EMOJI}
    summary = " · ".join(f"{VERDICT_EMOJI[v]} {n} {v}" for v, n in tally.items() if n)
    blocks: list[Block] = [HeaderBlock(text=clip(f"Hypotheses ({len(items)})", 150)),
                           context(f"#{incident.channel_name} · {summary}")]
    groups: list[list[Block]] = [[
        DividerBlock(),
        SectionBlock(text=MarkdownTextObject(
            text=f"*H{h.number}* {VERDICT_EMOJI.get(h.verdict, '')} proposed by {user(h.proposed_by)} "
                 f"· {h.proposed_at:%Y-%m-%d %H:%M} UTC")),
        SectionBlock(fields=hypothesis_fields(h, earlier.get(h.number)))] for h in items]
    return render(paged(blocks, groups, page=page, command="/retro hypotheses"))


def action_line(a: ActionItem, today: date, *, incident: Incident | None = None, state: str | None = None) -> str:
    """One action item as a line of mrkdwn (with a mitigation's verification `state` when given)."""
    where = f"<#{incident.channel_id}> " if incident is not None else ""
    head = f"{STATUS_EMOJI.get(a.status, '')} {where}*A{a.number}* `{a.kind}` {echo(a.title, 300)}"
    tail = f" · {user(a.owner)}"
    if a.status == "open":
        tail += f" · {due_phrase(a.due, today)}"
    else:
        tail += f" · {a.status}" + (f" {a.closed_at:%Y-%m-%d}" if a.closed_at else "")
        if a.close_note:
            tail += f": {echo(a.close_note, 200)}"
    if a.hypothesis:
        tail += f" · H{a.hypothesis}"
    if state:
        tail += f" · {state}"
    if a.after_close:
        tail += " · _added after the incident was closed_"
    return clip(head + tail, 700)


def action_list(incident: Incident, items: list[ActionItem], today: date, *, page: int = 1,
                states: Mapping[int, str] | None = None) -> Blocks:
    """`/retro actions [page=N]`: open items first (earliest due first), then the closed ones; mitigations say
    where their verification stands (`states`, by A number)."""
    if not items:
        return render([SectionBlock(text=MarkdownTextObject(
            text="No action items yet. Add one with `/retro action <title> owner=@user due=+1w`."))])
    ordered = sorted(items, key=lambda a: (a.status != "open", a.due if a.status == "open" else date.max, a.number))
    open_count = sum(1 for a in items if a.status == "open")
    blocks: list[Block] = [context(f"*Action items* of #{incident.channel_name}: {open_count} open, "
                                   f"{len(items) - open_count} closed")]
    sections = line_sections([action_line(a, today, state=(states or {}).get(a.number)) for a in ordered])
    return render(paged(blocks, [[section] for section in sections], page=page, command="/retro actions"))


def proposed_text(h: Hypothesis) -> str:
    """Posted in the channel when a hypothesis is proposed."""
    return f":bulb: *H{h.number}* proposed by {user(h.proposed_by)}: {echo(h.statement, 2500)}"


def test_text(h: Hypothesis, actor: str) -> str:
    """Posted when a test plan is recorded."""
    text = (f":test_tube: {user(actor)} will test *H{h.number}*: {echo(h.test_plan, 1200)}\n"
            f"_Expected:_ {echo(h.expected, 800)}")
    if h.criteria:
        text += f"\n_Success criteria:_ {echo(h.criteria, 800)}"
    return text


def verdict_text(h: Hypothesis, previous: str, insight: bool, replaced: HypothesisVerdict | None = None) -> str:
    """Posted when a verdict is recorded; one that replaces an earlier verdict says which, and that it is kept."""
    was = f" (was {previous})" if previous not in ("open", h.verdict) else ""
    text = (f"{VERDICT_EMOJI.get(h.verdict, '')} *H{h.number}* {h.verdict}{was} by {user(h.verdict_by)} "
            f"· evidence {evidence_refs(h.verdict_evidence)}: {echo(h.statement, 600)}")
    if h.verdict_note:
        text += f"\n_Note:_ {echo(h.verdict_note, 1200)}"
    if replaced is not None:
        text += (f"\n:arrows_counterclockwise: Replaces the earlier verdict, {earlier_verdict(replaced, 600)} — "
                 f"kept in H{h.number}'s history (`/retro hypotheses`).")
    if insight:
        text += "\n:bulb: First confirmed cause: time to insight recorded."
    return text


def action_added_text(a: ActionItem, today: date) -> str:
    """Posted when an action item is created."""
    link = f" (tests H{a.hypothesis})" if a.hypothesis else ""
    late = "\n_Added after the incident was closed: it is kept and reminded like any other, and marked as late._" \
        if a.after_close else ""
    return (f":ballot_box_with_check: *A{a.number}* `{a.kind}` {echo(a.title, 1500)}{link} — owner {user(a.owner)}, "
            f"{due_phrase(a.due, today)}{late}")


def action_changed_text(a: ActionItem, what: str, actor: str) -> str:
    """Posted when an action item is done, dropped, reassigned or gets a new due date (`what` is bot-worded)."""
    emoji = STATUS_EMOJI[a.status] if a.status != "open" else ":pencil2:"
    return f"{emoji} *A{a.number}* {echo(a.title, 600)}: {what} by {user(actor)}."


def action_modal(meta: ModalMeta, kinds: tuple[str, ...], default_due: date) -> dict[str, Any]:
    """The card's Add action item modal: title, owner, due date, kind and the hypothesis it follows from."""
    kind_options = [Option(value=k, label=k) for k in kinds]
    blocks: list[Block] = [
        InputBlock(block_id=Field.TITLE, label="What should be done", element=PlainTextInputElement(
            action_id=Field.TITLE, max_length=300, placeholder="Alert on feature null rate above 5%")),
        InputBlock(block_id=Field.OWNER, label="Owner", element=UserSelectElement(action_id=Field.OWNER)),
        InputBlock(block_id=Field.DUE, label="Due", element=DatePickerElement(
            action_id=Field.DUE, initial_date=default_due.isoformat())),
        InputBlock(block_id=Field.ACTION_KIND, label="Kind", element=StaticSelectElement(
            action_id=Field.ACTION_KIND, options=kind_options, initial_option=kind_options[-1])),
        InputBlock(block_id=Field.HYPOTHESIS, label="Follows from hypothesis (e.g. H2)", optional=True,
                   element=PlainTextInputElement(action_id=Field.HYPOTHESIS, max_length=10)),
    ]
    view = View(type="modal", callback_id=CallbackId.ACTION, title="Add action item", submit="Add", close="Cancel",
                blocks=blocks, private_metadata=meta.dump())
    data: dict[str, Any] = view.to_dict()
    return data
