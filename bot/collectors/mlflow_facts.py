"""The facts of a registered MLflow model version that do not move (its identity, its source, its run's params and
metrics), and the analysis record that pins them; aliases, stages, tags and descriptions move, so they stay out."""

from __future__ import annotations

from typing import Any

from bot.insights import analyses

_LOGGED_PREFIX = "models:/m-"


def _metric(value: Any) -> str:
    try:
        return repr(float(value))
    except (TypeError, ValueError):
        return str(value)


def facts(mv: dict[str, Any], run: dict[str, Any] | None) -> dict[str, Any]:
    """A version's pinned facts, from MLflow's `model_version` as it answers it and the run as the collected document
    holds it (params and metrics flattened to dicts): name, version, run, source, logged model, creation time
    (milliseconds, as text), and the run's params and latest metrics as text."""
    source = str(mv.get("source") or "")
    logged = mv.get("model_id") or (source.removeprefix("models:/") if source.startswith(_LOGGED_PREFIX) else None)
    params, metrics = (run or {}).get("params"), (run or {}).get("metrics")
    return {
        "name": str(mv.get("name") or ""), "version": str(mv.get("version") or ""),
        "run_id": str(mv.get("run_id") or "") or None, "source": source or None,
        "model_id": str(logged) if logged else None,
        "created_ms": str(mv["creation_timestamp"]) if mv.get("creation_timestamp") is not None else None,
        "params": {str(k): str(v) for k, v in params.items()} if isinstance(params, dict) else None,
        "metrics": {str(k): _metric(v) for k, v in metrics.items()} if isinstance(metrics, dict) else None}


def analysis_of(source: str, typed: str, pinned: dict[str, Any]) -> dict[str, Any]:
    """The pinned record of one model lookup: the (redacted) tracking server, the reference as typed, the model and
    the version it resolved to, and the digest of the version's facts."""
    inputs = {"source": source, "uri": typed, "model": pinned["name"], "version": pinned["version"]}
    return analyses.record(analyses.MLFLOW, inputs=inputs, params={}, output=pinned)


def differences(old: dict[str, Any] | None, new: dict[str, Any]) -> list[str]:
    """Which facts changed between the recorded version and the one the registry gives now."""
    if not isinstance(old, dict):
        return ["the recorded facts are not at hand to compare one by one"]
    lines = [f"{key}: {old.get(key) or '—'} → {new.get(key) or '—'}"
             for key in ("name", "version", "run_id", "source", "model_id", "created_ms")
             if old.get(key) != new.get(key)]
    for group, label in (("params", "param"), ("metrics", "metric")):
        was, now = old.get(group) or {}, new.get(group) or {}
        for key in sorted(set(was) | set(now)):
            if was.get(key) != now.get(key):
                lines.append(f"{label} `{key}`: {was.get(key, '—')} → {now.get(key, '—')}")
    return lines
