"""Across incidents: `/retro stats`, `/retro search` and `/retro similar`."""

from __future__ import annotations

from slack_sdk.models.blocks import Block, HeaderBlock, MarkdownTextObject, SectionBlock

from bot.blocks.kit import Blocks, clip, context, echo, line_sections, paged, render
from bot.catalog import Catalog
from bot.insights.outcomes import Held, Outcomes, Rate
from bot.insights.search import Hit, Similar
from bot.insights.stats import Stats
from bot.postmortem.measures import humanise

RATES_MAX = 10  # models or categories named in a recurrence line, the most recurring first
STATS_CATEGORIES_MAX = 40  # the busiest categories, one line each; the rest are counted and one command away


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=clip(text, 3000)))


def _held(h: Held) -> str:
    share = f"{h.share:.0%} ({h.held} of {h.counted})" if h.share is not None else "not measurable yet"
    return f"{h.days} days: {share}" + (f", {h.pending} pending" if h.pending else "")


def _rates(rates: list[Rate]) -> str:
    shown = [f"{echo(r.name, 60)} {r.recurrences}/{r.incidents}" for r in rates[:RATES_MAX]]
    return ", ".join(shown) + (f" and {len(rates) - RATES_MAX} more" if len(rates) > RATES_MAX else "")


def outcome_lines(o: Outcomes, incidents: int) -> list[str]:
    """What happened after the incidents: verified fixes that held, recurrences, time to verify."""
    held = " · ".join(_held(h) for h in o.held) or "no horizon configured"
    lines = [f"*Verified corrective actions:* {o.verified} · held (no confirmed recurrence) over {held}",
             f"*Median time from action item to verified:* {humanise(o.to_verify_median)}"
             if o.to_verify_median is not None else "*Median time from action item to verified:* no data",
             f"*Confirmed recurrences:* {o.recurrences} of {incidents} incident(s)"]
    if o.by_model:
        lines.append(f"*Recurrence by model:* {_rates(o.by_model)}")
    if o.by_category:
        lines.append(f"*Recurrence by category:* {_rates(o.by_category)}")
    return lines


def stats_blocks(stats: Stats, catalog: Catalog, outcomes: Outcomes | None = None) -> Blocks:
    """Counts, time-to-X percentiles, how action items fared and, given `outcomes`, whether verified fixes held."""
    chosen = catalog.category(stats.category) if stats.category else None
    scope = f" · {chosen.name if chosen else stats.category}" if stats.category else ""
    blocks: list[Block] = [HeaderBlock(text=clip(f"Incidents in the last {stats.period.label}{scope}", 150))]
    if not stats.incidents:
        blocks.append(_section("No incidents were declared in this period."))
        return render(blocks)
    sev = " · ".join(f"{clip(name, 80)}: {n}" for name, n in stats.by_severity)
    blocks.append(_section(f"*{stats.incidents} incident(s)*\n*By severity:* {sev}"))
    busiest = sorted(stats.by_category, key=lambda c: -c[1])
    cats = [f"• {echo(name, 80)}: {n}" for name, n in busiest[:STATS_CATEGORIES_MAX]]
    if len(busiest) > STATS_CATEGORIES_MAX:
        cats.append(f"…and {len(busiest) - STATS_CATEGORIES_MAX} more categories with fewer incidents: "
                    "`/retro stats category=<id>` counts one of them.")
    blocks.extend(line_sections(["*By category:*", *cats]))
    lines = []
    for s in stats.spans:
        missing = f", missing in {s.missing}" if s.missing else ""
        values = f"median {humanise(s.median)} · p90 {humanise(s.p90)}" if s.measured else "no data"
        lines.append(f"*{s.label}:* {values} _({s.measured} measured{missing})_")
    blocks.append(_section("\n".join(lines)))
    a = stats.actions
    rate = (f"{stats.regression_free:.0%} ({a['regression_clean']} of {a['regression_eligible']})"
            if stats.regression_free is not None else "not measurable yet")
    pending = f"; {a['regression_pending']} still inside the 30-day window" if a["regression_pending"] else ""
    blocks.append(_section(
        f"*Action items:* {a['total']} · done {a['done']} ({a['on_time']} on time, {a['late']} late) · "
        f"open {a['open']} ({a['overdue']} overdue) · dropped {a['dropped']}\n"
        f"*Done action items not followed by another incident on the same model within 30 days:* {rate}{pending} "
        "_(any done item; the verified fixes that held are below)_"))
    if outcomes is not None:
        blocks.append(_section("\n".join(outcome_lines(outcomes, stats.incidents))))
    reviews = " · ".join(f"{status} {n}" for status, n in stats.reviews.items())
    blocks.append(_section(f"*Postmortem reviews:* {reviews or 'none'}"))
    blocks.append(context("Times to insight, mitigation and resolution are measured from detection; time to detect "
                          "and impact duration from the impact start. Missing milestones are never estimated."))
    return render(blocks)


def search_blocks(query: str, hits: list[Hit], catalog: Catalog, *, page: int = 1) -> Blocks:
    """Past incidents matching a search, with the line that matched."""
    blocks: list[Block] = [context(f"*Search:* {echo(query, 200)} — {len(hits)} incident(s)")]
    if not hits:
        blocks.append(_section("No past incident matches. Try fewer or other words, or drop `model=` / `category=`."))
        return render(blocks)
    groups: list[list[Block]] = []
    for hit in hits:
        inc = hit.incident
        sev = catalog.severity(inc.severity)
        groups.append([_section(
            f"*<#{inc.channel_id}>* {echo(inc.title, 200)}\n"
            f"{sev.name if sev else inc.severity} · {echo(inc.category, 60)} · {inc.status} · "
            f"{inc.created_at:%Y-%m-%d}\n_{hit.where}:_ {echo(hit.snippet, 300)}")])
    return render(paged(blocks, groups, page=page, command=f"/retro search {echo(query, 200)}"))


def similar_blocks(items: list[Similar], *, page: int = 1) -> Blocks:
    """Earlier related incidents with their confirmed causes and action items."""
    if not items:
        return render([_section("No earlier incident shares this incident's models or category.")])
    blocks: list[Block] = [context(f"*Similar past incidents* ({len(items)}) — same model first, then same category")]
    groups: list[list[Block]] = []
    for s in items:
        inc = s.incident
        why = (f"same model: {echo(', '.join(s.shared_models), 200)}" if s.shared_models else "same category")
        causes = "\n".join(f"• {echo(c, 300)}" for c in s.causes[:3]) or "• _no confirmed root cause recorded_"
        actions = "\n".join(f"• A{a.number} {echo(a.title, 200)} ({a.status}, due {a.due:%Y-%m-%d})"
                            for a in s.actions[:5]) or "• _no action items_"
        groups.append([_section(
            f"*<#{inc.channel_id}>* {echo(inc.title, 200)} — {inc.created_at:%Y-%m-%d}, {why}\n"
            f"*Root cause:*\n{causes}\n*Actions:*\n{actions}")])
    return render(paged(blocks, groups, page=page, command="/retro similar"))
