"""Collectors installed under the `retro.collectors` entry-point group (Retro's own are declared there too)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from importlib.metadata import EntryPoint, entry_points

from bot.collectors.base import Collector, CollectRequest
from bot.config import Settings

log = logging.getLogger("retro.collectors")
GROUP = "retro.collectors"
BUILTIN = {
    "mlflow": "bot.collectors.mlflow:MlflowCollector",
    "prometheus": "bot.collectors.prometheus:PrometheusCollector",
    "url": "bot.collectors.urlsnap:UrlSnapshotCollector",
}


def _instantiate(ep: EntryPoint) -> Collector | None:
    try:
        target = ep.load()
        collector = target() if isinstance(target, type) else target
    except Exception:
        log.exception("collector %s (%s) failed to load; skipping it", ep.name, ep.value)
        return None
    if not isinstance(collector, Collector):
        log.error("collector %s (%s) does not implement the Collector interface; skipping it", ep.name, ep.value)
        return None
    return collector


def load_collectors(found: Iterable[EntryPoint] | None = None) -> list[Collector]:
    """Every installed collector: third-party ones first (so a team can specialise a kind), then Retro's own."""
    eps = {ep.name: ep for ep in (entry_points(group=GROUP) if found is None else found)}
    for name, value in BUILTIN.items():
        eps.setdefault(name, EntryPoint(name, value, GROUP))
    builtin = [n for n in eps if eps[n].value == BUILTIN.get(n)]
    order = sorted(n for n in eps if n not in builtin) + sorted(builtin)
    collectors = [c for c in (_instantiate(eps[n]) for n in order) if c is not None]
    return collectors


class Registry:
    """Chooses the collector for a request."""

    def __init__(self, collectors: list[Collector]) -> None:
        self.collectors = collectors

    @classmethod
    def installed(cls) -> Registry:
        """The registry of installed collectors."""
        return cls(load_collectors())

    def find(self, request: CollectRequest, settings: Settings) -> Collector | None:
        """The first collector that accepts the request, or None (then the evidence stays a link)."""
        for c in self.collectors:
            if request.kind in c.kinds and c.accepts(request, settings):
                return c
        return None
