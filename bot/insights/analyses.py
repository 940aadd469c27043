"""Analyses with pinned inputs: what Retro computed (a data check, a Prometheus range, an MLflow lookup), from exactly
which inputs and parameters, with which versions of Retro and the libraries that computed it, and the digest of its
output, so that anyone can run it again and say whether it reproduces.

The record lives in the evidence item's custody (`custody["analysis"]`): it is hashed into the evidence digest and
chained with it, and travels in every export bundle.
"""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass
from functools import cache
from hashlib import sha256
from importlib import metadata
from typing import Any

FORMAT = "retro-analysis/1"
DATACHECK = "datacheck"
PROMETHEUS = "prometheus-range"
MLFLOW = "mlflow-model"
KINDS = (DATACHECK, PROMETHEUS, MLFLOW)
# The libraries whose versions can move each kind's figures.
LIBRARIES: dict[str, tuple[str, ...]] = {DATACHECK: ("numpy", "scipy", "pyarrow"), PROMETHEUS: (), MLFLOW: ()}


@cache
def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def versions(kind: str) -> dict[str, str]:
    """The versions of Retro, Python and the libraries that compute an analysis of `kind`."""
    found = {"retro": _version("retro"), "python": platform.python_version()}
    return {**found, **{lib: _version(lib) for lib in LIBRARIES.get(kind, ())}}


def output_digest(value: Any) -> str:
    """The SHA-256 of an output in canonical JSON (sorted keys, no spaces, UTF-8; floats are refused: outputs hold
    numbers as text, so every platform writes them alike)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return sha256(text.encode("utf-8")).hexdigest()


def record(kind: str, *, inputs: dict[str, Any], params: dict[str, Any], output: Any) -> dict[str, Any]:
    """The analysis record of one computation, for the custody record."""
    return {"format": FORMAT, "kind": kind, "inputs": inputs, "params": params, "versions": versions(kind),
            "output_sha256": output_digest(output)}


@dataclass(frozen=True)
class Analysis:
    """An analysis as recorded: which evidence item holds it, and its record."""

    number: int
    kind: str
    inputs: dict[str, Any]
    params: dict[str, Any]
    versions: dict[str, str]
    output_sha256: str

    @classmethod
    def of(cls, number: int, custody: Any) -> Analysis | None:
        """The analysis an evidence item's custody records (None when it records none, or one of an unknown
        format)."""
        raw = custody.get("analysis") if isinstance(custody, dict) else None
        if not isinstance(raw, dict) or raw.get("format") != FORMAT or raw.get("kind") not in KINDS:
            return None
        inputs, params, used, digest = (raw.get(k) for k in ("inputs", "params", "versions", "output_sha256"))
        if not (isinstance(inputs, dict) and isinstance(params, dict) and isinstance(used, dict)
                and isinstance(digest, str)):
            return None
        return cls(number, str(raw["kind"]), inputs, params, {str(k): str(v) for k, v in used.items()}, digest)

    def version_changes(self, now: dict[str, str] | None = None) -> list[str]:
        """Which versions differ between the recorded run and this one (`numpy 1.26.4 → 2.1.0`)."""
        current = versions(self.kind) if now is None else now
        return [f"{k} {v} → {current.get(k, 'not installed')}" for k, v in sorted(self.versions.items())
                if current.get(k, "not installed") != v]
