"""The pattern library page's cards: each pattern's cause, test, mitigations and checks, and its source incident
(linked only when the viewer may see it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.catalog import Catalog
from bot.insights.patterns import Card
from storage.models import Incident


@dataclass(frozen=True)
class Check:
    """One check of a mitigation."""

    stage: str
    method: str
    passed: bool
    summary: str
    at: str


@dataclass(frozen=True)
class Mitigation:
    """A mitigation saved with a pattern, and its checks."""

    number: str
    kind: str
    title: str
    rollback: str
    checks: list[Check]


@dataclass(frozen=True)
class CardView:
    """One card of the library page."""

    number: int
    name: str
    category: str
    models: str
    cause: str
    test_plan: str
    expected: str
    evidence_kinds: str
    mitigations: list[Mitigation]
    validated: str
    source_id: int | None
    source_title: str


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _local(text: str, catalog: Catalog) -> str:
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        return text
    if at.tzinfo is None:
        return text
    local = at.astimezone(catalog.tz)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


def _mitigation(m: dict[str, Any], catalog: Catalog) -> Mitigation:
    checks = [Check(_text(c.get("stage")), _text(c.get("method")), c.get("outcome") == "pass",
                    _text(c.get("summary")), _local(_text(c.get("checked_at")), catalog))
              for c in m.get("checks") or []]
    return Mitigation(f"A{_text(m.get('number'))}", _text(m.get("kind")), _text(m.get("title")),
                      _text(m.get("rollback")), checks)


def card_view(c: Card, catalog: Catalog, source: Incident | None) -> CardView:
    """A card as the page shows it; `source` is its incident when the viewer may see it, else None (patterns are
    never saved from private incidents, but the page checks anyway)."""
    p, cause = c.pattern, c.pattern.hypothesis
    cat = catalog.category(p.category)
    if c.validated_at is not None:
        local = c.validated_at.astimezone(catalog.tz)
        validated = f"Validated since {local:%Y-%m-%d}"
    else:
        validated = "Not validated yet"
    return CardView(p.number, p.name, cat.name if cat else p.category, ", ".join(p.models),
                    _text(cause.get("statement")), _text(cause.get("test_plan")), _text(cause.get("expected")),
                    ", ".join(str(k) for k in cause.get("evidence_kinds") or []),
                    [_mitigation(m, catalog) for m in p.mitigations], validated,
                    source.id if source is not None else None, source.title if source is not None else "")
