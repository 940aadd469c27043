"""The trends page's figures: each a server-drawn chart and the table of the same numbers under it."""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup

from bot.app.web import svg_charts
from bot.app.web.trend_model import TREND_SPANS, Trends
from bot.catalog import Catalog
from bot.postmortem.measures import SPANS, humanise

_LABELS = {s.key: s.label for s in SPANS}
_UNITS = ((2 * 3600, 60, " min"), (72 * 3600, 3600, " h"), (float("inf"), 86400, " d"))


@dataclass(frozen=True)
class Figure:
    """A chart and its data table."""

    id: str
    title: str
    svg: Markup
    headers: list[str]
    rows: list[list[str]]
    note: str = ""


def _percent(share: float | None) -> str:
    return f"{share:.0%}" if share is not None else "—"


def _scale(values: list[float | None]) -> tuple[float, str]:
    top = max((v for v in values if v is not None), default=0.0)
    return next((size, unit) for limit, size, unit in _UNITS if top < limit)


def times_figure(t: Trends) -> Figure:
    """Median time to detect, insight, mitigate and resolve, per month."""
    labels = [m.label for m in t.months]
    size, unit = _scale([m.median(k) for m in t.months for k in TREND_SPANS])
    series = [svg_charts.Series(_LABELS[k], [None if (v := m.median(k)) is None else round(v / size, 2)
                                             for m in t.months]) for k in TREND_SPANS]
    svg = svg_charts.line_chart("Median times per month", labels, series, unit=unit)
    rows = []
    for m in t.months:
        cells = [m.label, str(m.stats.incidents)]
        for k in TREND_SPANS:
            span = next(s for s in m.stats.spans if s.key == k)
            cells.append(f"{humanise(span.median)} ({span.measured})" if span.measured else "—")
        rows.append(cells)
    return Figure("times", "Median time to detect, insight, mitigate and resolve, per month", svg,
                  ["Month", "Incidents", *(f"{_LABELS[k]} (measured)" for k in TREND_SPANS)], rows,
                  "Time to detect runs from the impact start; the others from detection. Months with no measured "
                  "value leave a gap: a missing milestone is never estimated.")


def count_figure(t: Trends) -> Figure:
    """Incidents declared per month."""
    labels, counts = [m.label for m in t.months], [float(m.stats.incidents) for m in t.months]
    svg = svg_charts.bar_chart("Incidents declared per month", labels, counts, fmt=lambda v: f"{v:g}")
    return Figure("count", "Incidents declared per month", svg, ["Month", "Incidents"],
                  [[m.label, str(m.stats.incidents)] for m in t.months])


def actions_figure(t: Trends) -> Figure:
    """Action item closure and verification rates of each month's incidents."""
    labels = [m.label for m in t.months]
    series = [svg_charts.Series("Closure rate", [None if m.closure is None else round(m.closure * 100, 1)
                                                 for m in t.months]),
              svg_charts.Series("Verification rate", [None if m.verification is None
                                                      else round(m.verification * 100, 1) for m in t.months])]
    svg = svg_charts.line_chart("Action items closed and verified, per month", labels, series,
                                fmt=lambda v: f"{v:g}", unit="%")
    rows = [[m.label, str(m.stats.actions.get("total", 0)), str(m.stats.actions.get("done", 0)),
             _percent(m.closure), str(m.verified), _percent(m.verification)] for m in t.months]
    return Figure("actions", "Action item closure and verification rates, per month", svg,
                  ["Month", "Action items", "Done", "Closure rate", "Verified", "Verification rate"], rows,
                  "Closure rate: action items done of all the action items of the month's incidents. Verification "
                  "rate: action items verified of those done.")


def category_figure(t: Trends) -> Figure:
    """Incidents and confirmed recurrences by category."""
    rates = t.after.by_category
    svg = svg_charts.bar_chart("Incidents by category", [r.name for r in rates], [float(r.incidents) for r in rates])
    return Figure("categories", "Incidents and recurrences by category", svg,
                  ["Category", "Incidents", "Confirmed recurrences"],
                  [[r.name, str(r.incidents), str(r.recurrences)] for r in rates])


def model_figure(t: Trends) -> Figure:
    """Incidents and confirmed recurrences by model."""
    rates = t.after.by_model
    svg = svg_charts.bar_chart("Incidents by model", [r.name for r in rates], [float(r.incidents) for r in rates])
    return Figure("models", "Incidents and recurrences by model", svg, ["Model", "Incidents", "Confirmed recurrences"],
                  [[r.name, str(r.incidents), str(r.recurrences)] for r in rates],
                  "Models without their versions; an incident naming two models counts for both.")


def recurrence_figure(t: Trends, by: str) -> Figure:
    """The share of incidents that were confirmed recurrences, by category or by model."""
    rates = t.after.by_category if by == "category" else t.after.by_model
    shares = [round(100 * r.recurrences / r.incidents, 1) if r.incidents else 0.0 for r in rates]
    svg = svg_charts.bar_chart(f"Recurrence rate by {by}", [r.name for r in rates], shares,
                               fmt=lambda v: f"{v:g}", unit="%")
    return Figure(f"recurrence-{by}", f"Recurrence rate by {by}", svg,
                  [by.capitalize(), "Incidents", "Confirmed recurrences", "Recurrence rate"],
                  [[r.name, str(r.incidents), str(r.recurrences), f"{s:g}%"] for r, s in zip(rates, shares,
                                                                                          strict=True)],
                  "Recurrence rate: the incidents confirmed as a recurrence of an earlier one, of all the incidents.")


def figures(t: Trends) -> list[Figure]:
    """Every figure of the page (those by model and category only when there is something to draw)."""
    out = [times_figure(t), count_figure(t), actions_figure(t)]
    if t.after.by_category:
        out += [category_figure(t), recurrence_figure(t, "category")]
    if t.after.by_model:
        out += [model_figure(t), recurrence_figure(t, "model")]
    return out


def span_rows(t: Trends) -> list[list[str]]:
    """The whole period's time-to-X: median, p90, measured and missing."""
    return [[s.label, humanise(s.median), humanise(s.p90), str(s.measured), str(s.missing)] for s in t.overall.spans]


def held_rows(t: Trends) -> list[list[str]]:
    """Verified corrective actions that held, over each horizon."""
    return [[f"{h.days} days", _percent(h.share), str(h.held), str(h.counted), str(h.pending)] for h in t.after.held]


def scope_label(t: Trends, catalog: Catalog) -> str:
    """What the page counts: the period, and the category when one is chosen."""
    chosen = catalog.category(t.choice.category) if t.choice.category else None
    period = "all time" if t.choice.period == "all" else f"the last {t.overall.period.label}"
    return period + (f" · {chosen.name}" if chosen else "")
