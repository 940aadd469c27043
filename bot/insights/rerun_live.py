"""Running Prometheus ranges and MLflow lookups again against the live source, with the recorded parameters.

The source is the one configured now (PROMETHEUS_URL, MLFLOW_TRACKING_URI), asked through the same client and
guards as the collectors. A source that is not configured, does not answer, fails or no longer has the model version
makes the analysis *source unavailable*, never an error.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from bot.collectors import mlflow_facts, prom_range
from bot.collectors.base import CollectEnv
from bot.collectors.http import redact
from bot.collectors.mlflow import Api, ModelRef, document
from bot.config import Settings
from bot.errors import RetroError
from bot.followup.expectations import evaluate, parse_expect
from bot.insights import analyses
from bot.insights.analyses import Analysis
from bot.insights.rerun_outcome import Rerun, Runner, Sources, json_member, member, outcome_of, unavailable

REQUESTER = "retro rerun"
RANGE_MEMBER = "prometheus-range.json"


def _env(settings: Settings) -> CollectEnv:
    return CollectEnv(settings=settings, now=datetime.now(UTC), requested_by=REQUESTER)


def _figure(text: str) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def _stats(series: dict[str, Any]) -> dict[str, str | int | None]:
    values = [_figure(v) for _, v in series.get("values") or []]
    finite = [v for v in values if math.isfinite(v)]
    return {"samples": len(values), "min": f"{min(finite):.6g}" if finite else None,
            "max": f"{max(finite):.6g}" if finite else None,
            "last": f"{values[-1]:.6g}" if values else None}


def _name(labels: dict[str, str]) -> str:
    rest = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "__name__")
    return f"{labels.get('__name__', '')}{{{rest}}}" if rest else labels.get("__name__", "") or "{}"


def _moved(label: str, old: Any, new: Any) -> str | None:
    if old == new:
        return None
    a, b = (_figure(str(old)), _figure(str(new))) if old is not None and new is not None else (math.nan, math.nan)
    by = f" ({b - a:+.4g})" if math.isfinite(a) and math.isfinite(b) else ""
    return f"{label}: {'—' if old is None else old} → {'—' if new is None else new}{by}"


def range_differences(old: list[dict[str, Any]] | None, new: list[dict[str, Any]]) -> list[str]:
    """Which figures of a range moved: series added or removed, and per series its sample count, min, max and last
    value (and, when those held, how many samples changed)."""
    if old is None:
        return ["the recorded answer is not at hand to compare series by series"]
    before = {_name(s["metric"]): s for s in old}
    after = {_name(s["metric"]): s for s in new}
    lines = [f"series removed: {n}" for n in before if n not in after]
    lines += [f"series added: {n} ({_stats(after[n])['samples']} samples)" for n in after if n not in before]
    for n in (n for n in after if n in before):
        was, now = _stats(before[n]), _stats(after[n])
        moved = [line for key in ("samples", "min", "max", "last")
                 if (line := _moved(f"`{n}` {key}", was[key], now[key]))]
        if not moved and before[n]["values"] != after[n]["values"]:
            changed = sum(a != b for a, b in zip(before[n]["values"], after[n]["values"], strict=True))
            moved.append(f"`{n}`: {changed} sample(s) changed, min, max and last held")
        lines += moved
    return lines


def _recorded_range(artifact: bytes | None) -> list[dict[str, Any]] | None:
    body = json_member(artifact, RANGE_MEMBER)
    result = ((body.get("data") or {}).get("result")) if isinstance(body, dict) else None
    return prom_range.normalised(result) if isinstance(result, list) else None


def verdict_line(expect: str, new_answer: bytes, recorded_answer: bytes | None) -> str:
    """Whether the mitigation check's verdict (pass or fail) is the same on the new answer as on the recorded one."""
    try:
        expectation = parse_expect(expect, "")
    except RetroError:
        return f"the recorded expectation `{expect}` cannot be read; no verdict"
    now = evaluate(new_answer, expectation).outcome
    if recorded_answer is None:
        return f"expect {expectation}: verdict now {now} (the recorded answer is not at hand to compare)"
    try:
        was = evaluate(recorded_answer, expectation).outcome
    except ValueError:
        return f"expect {expectation}: verdict now {now} (the recorded answer cannot be read)"
    if was == now:
        return f"expect {expectation}: verdict {now}, the same as recorded"
    return f"expect {expectation}: verdict now {now}, recorded {was} — the verdict changed"


async def prometheus(a: Analysis, sources: Sources, settings: Settings) -> Rerun:
    """Run the recorded range query (same query, start, end and step) against PROMETHEUS_URL and compare."""
    base = settings.prometheus_url
    if not base:
        return unavailable(a, f"Prometheus is not configured here (PROMETHEUS_URL is not set); the range came from "
                              f"{a.inputs.get('source', 'an unrecorded source')}")
    try:
        params = {k: str(a.params[k]) for k in prom_range.QUERY_PARAMS}
    except KeyError:
        return unavailable(a, "the analysis record lacks its query parameters (query, start, end, step)")
    label = f"Prometheus at {redact(base)}"
    try:
        async with _env(settings).http(trusted=True) as http:
            resp = await http.get(f"{base}/api/v1/query_range", label=label, params=params)
        _, result = prom_range.matrix(resp, label)
    except RetroError as exc:
        return unavailable(a, exc.user_message)
    new = prom_range.normalised(result)
    artifact = sources.artifact(a.number)
    done = outcome_of(a, new, lambda: range_differences(_recorded_range(artifact), new))
    if "expect" not in a.params:
        return done
    line = verdict_line(str(a.params["expect"]), resp.body, member(artifact, RANGE_MEMBER))
    return replace(done, detail=[line, *done.detail])


def _recorded_facts(artifact: bytes | None) -> dict[str, Any] | None:
    doc = json_member(artifact, "")
    if not isinstance(doc, dict) or not isinstance(doc.get("model_version"), dict):
        return None
    return mlflow_facts.facts(doc["model_version"], doc.get("run"))


async def mlflow(a: Analysis, sources: Sources, settings: Settings) -> Rerun:
    """Look up the recorded model version (by its resolved number, never an alias) at MLFLOW_TRACKING_URI and compare
    its pinned facts."""
    base = settings.mlflow_tracking_uri
    if not base:
        return unavailable(a, f"MLflow is not configured here (MLFLOW_TRACKING_URI is not set); the model came from "
                              f"{a.inputs.get('source', 'an unrecorded source')}")
    name, version = str(a.inputs.get("model") or ""), str(a.inputs.get("version") or "")
    if not name or not version:
        return unavailable(a, "the analysis record lacks the model name and version")
    env = _env(settings)
    api = Api(base, env)
    ref = ModelRef(name, version=version)
    try:
        async with env.http(trusted=True) as http:
            found = await http.get(f"{base}/api/2.0/mlflow/model-versions/get", label=api.label,
                                   params={"name": name, "version": version}, headers=api.headers)
            if found.status == 404:
                return unavailable(a, f"{api.label} no longer has {ref} (deleted, or the registry was replaced)")
            if found.status != 200:
                return unavailable(a, f"{api.label} answered {found.status} for {ref}: {found.excerpt(120)}")
            body = found.json(api.label)
            mv = body.get("model_version") if isinstance(body, dict) else None
            if not isinstance(mv, dict):
                return unavailable(a, f"{api.label} gave no model version for {ref}")
            run = await api.get(http, "runs/get", {"run_id": str(mv["run_id"])}, f"run {mv['run_id']}") \
                if mv.get("run_id") else None
    except RetroError as exc:
        return unavailable(a, exc.user_message)
    doc = document(base, ref, mv, run.get("run") if run else None, {})
    new = mlflow_facts.facts(mv, doc["run"])
    old = _recorded_facts(sources.artifact(a.number))
    return outcome_of(a, new, lambda: mlflow_facts.differences(old, new))


RUNNERS: dict[str, Runner] = {analyses.PROMETHEUS: prometheus, analyses.MLFLOW: mlflow}
