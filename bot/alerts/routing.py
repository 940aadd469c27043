"""What an alert notification does, by the team's `alerts:` routes: declare an incident, join one, or only be
recorded, and with which title, severity, category, models and people."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.alert_config import AlertRoute, AlertsConfig
from bot.alerts.batch import Alert, AlertBatch
from bot.catalog import Catalog
from bot.incident.incidents import MAX_MODELS_TEXT, open_incidents
from storage.models import Incident

TITLE_MAX = 150
FALLBACK_CATEGORY = "model-regression"  # what `/retro start` declares without `type=`
_MODEL_REF = re.compile(r"[\w.\-/:]+(@[\w.\-]+)?")


@dataclass(frozen=True)
class Decision:
    """What to do with one notification, and the declaration it would make."""

    action: str  # declare | join | record
    title: str
    severity: int
    category: str
    models: tuple[str, ...]
    invite: tuple[str, ...]
    announce: str | None
    route: int | None = None  # the index of the route that matched; None: the default action


def matches(route: AlertRoute, labels: dict[str, str]) -> bool:
    """Whether every matcher of the route holds: an exact value, or `~regex` matching the whole value (a label the
    alert lacks reads as empty)."""
    for name, want in route.match.items():
        have = labels.get(name, "")
        if want.startswith("~"):
            if re.fullmatch(want[1:], have) is None:
                return False
        elif have != want:
            return False
    return True


def group_labels(batch: AlertBatch) -> dict[str, str]:
    """The labels a route is matched against: the common labels, over the group labels (a generic webhook's batch
    of one alert has that alert's labels)."""
    labels = {**batch.group_labels, **batch.common_labels}
    if len(batch.alerts) == 1:
        labels = {**batch.alerts[0].labels, **labels}
    return labels


def _first(alerts: tuple[Alert, ...], key: str, *, annotation: bool = False) -> str:
    for alert in alerts:
        value = (alert.annotations if annotation else alert.labels).get(key, "").strip()
        if value:
            return value
    return ""


def title_of(batch: AlertBatch, labels: dict[str, str]) -> str:
    """The summary annotation (common, else the first alert's), else the alert name, on one line within 150
    characters."""
    text = (batch.common_annotations.get("summary", "").strip() or _first(batch.alerts, "summary", annotation=True)
            or labels.get("alertname", "").strip() or _first(batch.alerts, "alertname")
            or f"Alert from {batch.receiver or batch.source}")
    text = " ".join(text.split())
    return text if len(text) <= TITLE_MAX else text[:TITLE_MAX - 1].rstrip() + "…"


def default_level(catalog: Catalog) -> int:
    """The severity `/retro start` gives when none is typed."""
    levels = [s.level for s in catalog.severities]
    guess = max(levels) - 1 if len(levels) > 1 else levels[0]
    return guess if guess in levels else max(levels)


def severity_of(batch: AlertBatch, config: AlertsConfig, catalog: Catalog, route: AlertRoute | None) -> int:
    """The route's severity, else the most severe level the alerts' severity labels map to, else the default."""
    if route is not None and route.severity is not None:
        return route.severity
    levels = {s.level for s in catalog.severities}
    found = []
    for value in [batch.common_labels.get(config.severity_label, "")] + [
            a.labels.get(config.severity_label, "") for a in batch.alerts]:
        level = config.severity_of(value) if value else None
        if level is None and value.strip().isdigit():
            level = int(value.strip())
        if level is not None and level in levels:
            found.append(level)
    if found:
        return min(found)
    return config.default_severity if config.default_severity is not None else default_level(catalog)


def category_of(labels: dict[str, str], catalog: Catalog, route: AlertRoute | None) -> str:
    """The route's category, else the `category` label when the catalog knows it, else the default category."""
    if route is not None and route.category is not None:
        return route.category
    typed = labels.get("category", "").strip().lower()
    if typed and catalog.category(typed) is not None:
        return typed
    return FALLBACK_CATEGORY if catalog.category(FALLBACK_CATEGORY) is not None else catalog.categories[0].id


def models_of(batch: AlertBatch, labels: dict[str, str]) -> tuple[str, ...]:
    """`model` (with `model_version`: `name@version`) of the group, else of each alert; what is not a model
    reference is left out, and the list stays within what a declaration takes."""
    sources = [labels] if labels.get("model") else [a.labels for a in batch.alerts]
    found: list[str] = []
    for source in sources:
        name, version = source.get("model", "").strip(), source.get("model_version", "").strip()
        ref = f"{name}@{version}" if name and version else name
        if ref and _MODEL_REF.fullmatch(ref) and ref not in found and len(",".join([*found, ref])) <= MAX_MODELS_TEXT:
            found.append(ref)
    return tuple(found)


def owners_of(config: AlertsConfig, models: tuple[str, ...], category: str) -> tuple[str, ...]:
    """The people to invite: the owners of each model (by name, any version) and of the category."""
    people: list[str] = []
    for model in models:
        people += config.owners.models.get(model.split("@", 1)[0], [])
    people += config.owners.categories.get(category, [])
    return tuple(dict.fromkeys(people))


def decide(batch: AlertBatch, config: AlertsConfig, catalog: Catalog) -> Decision:
    """The first route whose matchers all hold decides (none: the default action); a resolved notification never
    declares (it joins the group's incident, if any)."""
    labels = group_labels(batch)
    index = next((n for n, r in enumerate(config.routes) if matches(r, labels)), None)
    route = config.routes[index] if index is not None else None
    action = route.action if route is not None else config.default_action
    if action == "declare" and batch.status != "firing":
        action = "join"
    category = category_of(labels, catalog, route)
    models = models_of(batch, labels)
    return Decision(action=action, title=title_of(batch, labels), severity=severity_of(batch, config, catalog, route),
                    category=category, models=models, invite=owners_of(config, models, category),
                    announce=config.channel, route=index)


async def joinable(session: AsyncSession, team_id: str, decision: Decision) -> Incident | None:
    """For `join` when the group has no open incident: the newest open incident that names one of the decision's
    models (by name), else the newest open one of its category; None when there is none."""
    found = sorted(await open_incidents(session, team_id), key=lambda i: i.created_at, reverse=True)
    names = {m.split("@", 1)[0] for m in decision.models}
    by_model = [i for i in found if names & {m.split("@", 1)[0] for m in i.models}]
    same = by_model or [i for i in found if i.category == decision.category]
    return same[0] if same else None
