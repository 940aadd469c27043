"""`/retro hypothesis | hypotheses | test | confirm | refute | inconclusive`: the hypothesis ledger."""

from __future__ import annotations

import re
from datetime import datetime

from bot.blocks.ledger import ledger_blocks, proposed_text, test_text, verdict_text
from bot.blocks.pattern_cards import used_text
from bot.incident import hypotheses
from bot.insights import pattern_use
from bot.slack import channels
from handlers.context import Ctx
from handlers.parsing import Parsed, numbered, occurred, page_number, tokenize

_WORD = re.compile(r"\S+")
_EVIDENCE = re.compile(r"E\d{1,6}", re.IGNORECASE)
TEST_OPTIONS = ("expect", "criteria")


async def hypothesis(ctx: Ctx, cmd: Parsed) -> None:
    """`/retro hypothesis <statement> [at=<when>]` (the statement is kept exactly as typed, `=` and all, but for
    `at=`)."""
    cmd, at = occurred(cmd, now=ctx.deps.now(), tz=ctx.deps.catalog.tz)
    if "from" in cmd.options:
        await _from_pattern(ctx, cmd, at)
        return
    if not cmd.rest.strip():
        raise cmd.fail("A hypothesis needs a statement.")
    incident = await ctx.incident()
    async with ctx.deps.session() as session:
        row = await hypotheses.propose(session, incident=incident, statement=cmd.rest, actor=ctx.user_id,
                                       now=ctx.deps.now(), at=at)
    await channels.post(ctx.client, ctx.deps, incident, text=proposed_text(row) + _happened(ctx, at))


async def _from_pattern(ctx: Ctx, cmd: Parsed, at: datetime | None) -> None:
    """`/retro hypothesis from=P<n> [statement]`: the card's cause (or the statement typed) and its test plan."""
    number = numbered(cmd.options["from"], "P", cmd.usage)
    incident = await ctx.incident()
    async with ctx.deps.session() as session:
        row, card = await pattern_use.start_hypothesis(session, incident=incident, number=number, actor=ctx.user_id,
                                                       statement=cmd.without("from").rest.strip(),
                                                       now=ctx.deps.now(), at=at)
    await channels.post(ctx.client, ctx.deps, incident, text=used_text(row, card, ctx.user_id) + _happened(ctx, at))


async def ledger(ctx: Ctx, cmd: Parsed) -> None:
    """`/retro hypotheses [page=N]`: the ledger, side by side."""
    cmd.allow_options("page")
    page = page_number(cmd)
    incident = await ctx.incident()
    async with ctx.deps.session() as session:
        rows = await hypotheses.listing(session, incident.id or 0)
        history = await hypotheses.histories(session, incident.id or 0)
    await ctx.reply(f"{len(rows)} hypothes{'i' if len(rows) == 1 else 'e'}s",
                    ledger_blocks(incident, rows, page=page, history=history))


def _happened(ctx: Ctx, at: datetime | None) -> str:
    said = ctx.happened(at)
    return f"\n_{said[:1].upper()}{said[1:]}._" if said else ""


def split_test(cmd: Parsed) -> tuple[int, str, dict[str, str]]:
    """H<n>, the plan (other words, in order, `k=v` included) and the expect/criteria options."""
    tokens = tokenize(cmd.rest)
    if not tokens:
        raise cmd.fail("Name the hypothesis, like H1.")
    number = numbered(tokens[0].text, "H", cmd.usage)
    plan: list[str] = []
    options: dict[str, str] = {}
    for tok in tokens[1:]:
        key, sep, value = tok.text.partition("=")
        if sep and key.lower() in TEST_OPTIONS:
            options[key.lower()] = value
        else:
            plan.append(tok.text)
    return number, " ".join(plan), options


async def test(ctx: Ctx, cmd: Parsed) -> None:
    """`/retro test H<n> <plan> expect="…" [criteria="…"]`."""
    number, plan, options = split_test(cmd)
    if not plan:
        raise cmd.fail("Describe how the hypothesis will be tested.")
    if not options.get("expect", "").strip():
        raise cmd.fail('Say what outcome you expect with expect="…".')
    incident = await ctx.incident()
    async with ctx.deps.session() as session:
        row = await hypotheses.plan_test(session, incident=incident, number=number, plan=plan,
                                         expected=options["expect"], criteria=options.get("criteria"),
                                         actor=ctx.user_id, now=ctx.deps.now())
    await channels.post(ctx.client, ctx.deps, incident, text=test_text(row, ctx.user_id))


def split_verdict(cmd: Parsed) -> tuple[int, list[int], str]:
    """H<n>, the E<n> ids right after it (spaces or commas) and the note, kept as typed."""
    words = list(_WORD.finditer(cmd.rest))
    if not words:
        raise cmd.fail("Name the hypothesis, like H1.")
    number = numbered(words[0].group(), "H", cmd.usage)
    evidence: list[int] = []
    note_at = len(cmd.rest)
    for word in words[1:]:
        parts = [p for p in word.group().split(",") if p]
        if not parts or not all(_EVIDENCE.fullmatch(p) for p in parts):
            note_at = word.start()
            break
        evidence.extend(int(p[1:]) for p in parts)
    return number, evidence, cmd.rest[note_at:].strip()


async def verdict(ctx: Ctx, cmd: Parsed) -> None:
    """`/retro confirm|refute|inconclusive H<n> [E<n> …] [note] [at=<when>]`."""
    cmd, at = occurred(cmd, now=ctx.deps.now(), tz=ctx.deps.catalog.tz)
    number, evidence, note = split_verdict(cmd)
    incident = await ctx.incident()
    async with ctx.deps.session() as session:
        result = await hypotheses.record_verdict(session, incident=incident, number=number, verdict={
            "confirm": "confirmed", "refute": "refuted", "inconclusive": "inconclusive"}[cmd.name],
            evidence=evidence, note=note, actor=ctx.user_id, now=ctx.deps.now(), at=at)
    await channels.post(ctx.client, ctx.deps, incident, text=verdict_text(
        result.hypothesis, result.previous, result.insight_stamped, result.replaced) + _happened(ctx, at))
