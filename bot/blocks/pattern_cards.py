"""Pattern cards: the library (`/retro patterns`), the suggestions posted when an incident is declared, what saving
and using a card say, and the App Home's section."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slack_sdk.models.blocks import Block, MarkdownTextObject, SectionBlock

from bot.blocks.kit import MESSAGE_TEXT_BUDGET, Blocks, clip, context, echo, paged, render, user
from bot.insights.patterns import Card
from storage.loop_tables import Pattern
from storage.models import Hypothesis

HOME_PATTERNS_MAX = 5
USE_HINT = "`/retro hypothesis from=P<n>` starts a hypothesis from a card, with the test that worked last time."


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=clip(text, 3000)))


def badge(c: Card) -> str:
    """Validated (since when) or not yet."""
    if c.validated_at is None:
        return ":white_circle: not validated yet"
    return f":white_check_mark: validated since {c.validated_at:%Y-%m-%d}"


def _tags(p: Pattern) -> str:
    models = f" · models {echo(', '.join(p.models), 200)}" if p.models else ""
    return f"`{echo(p.category, 64)}`{models}"


def _check_line(check: dict[str, Any]) -> str:
    mark = ":white_check_mark:" if check.get("outcome") == "pass" else ":x:"
    summary = f": {echo(str(check.get('summary') or ''), 300)}" if check.get("summary") else ""
    return f"{mark} {echo(str(check.get('stage')), 32)} ({echo(str(check.get('method')), 16)}){summary}"


def _fix_lines(p: Pattern) -> list[str]:
    """Each mitigation and the checks that verified it (the failed ones are left to the card's incident)."""
    lines = []
    for m in p.mitigations:
        rollback = f" · rollback: {echo(str(m['rollback']), 200)}" if m.get("rollback") else ""
        lines.append(f"• *A{m['number']}* `{echo(str(m['kind']), 16)}` {echo(str(m['title']), 300)}{rollback}")
        lines += [f"    {_check_line(c)}" for c in m.get("checks", []) if c.get("outcome") == "pass"][:4]
    return lines


def card_text(c: Card) -> str:
    """One card: name, tags, validation, the cause, how it was tested, and which checks verified the fix."""
    p = c.pattern
    cause = p.hypothesis
    tested = (f"*Tested by:* {echo(str(cause['test_plan']), 500)}"
              + (f" — _expected:_ {echo(str(cause['expected']), 300)}" if cause.get("expected") else "")
              if cause.get("test_plan") else "*Tested by:* _no test plan was recorded_")
    kinds = cause.get("evidence_kinds") or []
    evidence = f" (evidence: {echo(', '.join(kinds), 200)})" if kinds else ""
    fixes = _fix_lines(p) or ["• _no mitigation was saved with it_"]
    return "\n".join([f"*P{p.number}* {echo(p.name, 150)} · {_tags(p)} · {badge(c)}",
                      f"*Cause:* {echo(str(cause.get('statement') or ''), 800)}",
                      tested + evidence, "*Fix, and what verified it:*", *fixes,
                      f"_From #{echo(c.source, 80)}_"])


def library_blocks(found: Sequence[Card], total: int, *, page: int = 1) -> Blocks:
    """`/retro patterns`: the cards found, paged."""
    if not found:
        return render([_section(f"No pattern matches (the library holds {total})." if total else
                                "No pattern yet: `/retro pattern save H<n> [A<m> …] name=\"…\"` in an incident "
                                "saves a confirmed cause and its fix.")])
    head: list[Block] = [context(f"*Patterns* ({len(found)} of {total}) · {USE_HINT}")]
    return render(paged(head, [[_section(card_text(c))] for c in found], page=page, command="/retro patterns"))


def suggestion_blocks(found: Sequence[Card]) -> Blocks:
    """Posted in the new incident's thread: the cards that look like it."""
    head: list[Block] = [_section(":books: *Earlier incidents like this one left patterns* — how the cause was "
                                  "tested then, and which checks verified the fix:")]
    each = min(3000, (MESSAGE_TEXT_BUDGET - 600) // max(1, len(found)))  # up to ten cards share one message
    return render([*head, *(_section(clip(card_text(c), each)) for c in found), context(USE_HINT)])


def suggestion_text(found: Sequence[Card]) -> str:
    """The notification text of the suggestions."""
    return "Patterns that may fit: " + ", ".join(f"P{c.number} {echo(c.pattern.name, 80)}" for c in found)


def saved_text(p: Pattern, actor: str) -> str:
    """Posted in the incident's channel when a card is saved."""
    actions = ", ".join(f"A{m['number']}" for m in p.mitigations) or "no mitigation"
    return (f":books: {user(actor)} saved *H{p.hypothesis['number']}* and {actions} as pattern *P{p.number}* "
            f"{echo(p.name, 150)}. It is validated once one of its mitigations is verified and the cause does not "
            "come back; `/retro patterns` lists the library.")


def used_text(h: Hypothesis, c: Card, actor: str) -> str:
    """Posted when a hypothesis is started from a card."""
    plan = f"\n_Test from the card:_ {echo(h.test_plan, 800)}" if h.test_plan else ""
    return (f":bulb: *H{h.number}* proposed by {user(actor)} from pattern *P{c.number}* {echo(c.pattern.name, 150)} "
            f"({badge(c)}): {echo(h.statement, 2000)}{plan}")


def home_patterns(found: Sequence[Card]) -> list[Block]:
    """The App Home's pattern section: one block, the newest cards first."""
    if not found:
        return [_section("*Pattern library:* empty. `/retro pattern save H<n> name=\"…\"` in an incident saves a "
                         "confirmed cause and its fix.")]
    validated = sum(1 for c in found if c.validated_at is not None)
    lines = [f"*Pattern library:* {len(found)} card(s), {validated} validated · `/retro patterns` lists them"]
    lines += [f"• *P{c.number}* {echo(c.pattern.name, 150)} · {_tags(c.pattern)} · {badge(c)}"
              for c in sorted(found, key=lambda c: -c.number)[:HOME_PATTERNS_MAX]]
    return [_section("\n".join(lines))]
