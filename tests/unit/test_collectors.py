"""Collector plumbing: entry-point registry, reference grammars, artifact storage, settings."""

from __future__ import annotations

import ast
import hashlib
import logging
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.collectors.artifacts import load, store
from bot.collectors.base import Artifact, Collected, CollectRequest
from bot.collectors.mlflow import ModelRef, parse_ref
from bot.collectors.prometheus import auto_step, parse_step, series_name, time_range, to_csv
from bot.collectors.record import json_safe
from bot.collectors.registry import Registry, load_collectors
from bot.config import Settings, load_settings
from bot.errors import ConfigError, NotFoundError, RetroError, UsageError
from handlers.parsing import metric_evidence, parse
from storage.models import Evidence

ROOT = Path(__file__).resolve().parents[2]

PLUGIN = '''
from typing import ClassVar


class GrafanaCollector:
    name: ClassVar[str] = "grafana"
    version: ClassVar[str] = "0.3"
    kinds: ClassVar[frozenset[str]] = frozenset({"dashboard"})

    def accepts(self, request, settings):
        return "grafana" in request.ref

    def describe(self, request, settings):
        return "a Grafana render"

    async def collect(self, request, env):
        raise NotImplementedError


NOT_A_COLLECTOR = object()
'''


def test_collectors_are_slack_free() -> None:
    for path in (ROOT / "bot" / "collectors").glob("*.py"):
        tree = ast.parse(path.read_text())
        names = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        names |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        assert not {m for m in names if m.split(".")[0] in ("slack_sdk", "slack_bolt", "handlers", "sandbox")}, path


def test_third_party_collectors_register_through_the_entry_point_group(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "acme_collectors.py").write_text(PLUGIN)
    dist = tmp_path / "acme_collectors-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-collectors\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(textwrap.dedent("""\
        [retro.collectors]
        grafana = acme_collectors:GrafanaCollector
        broken = acme_collectors:Missing
        odd = acme_collectors:NOT_A_COLLECTOR
        """))
    monkeypatch.syspath_prepend(str(tmp_path))
    with caplog.at_level(logging.ERROR, logger="retro.collectors"):
        collectors = load_collectors()
    assert [c.name for c in collectors] == ["grafana", "mlflow", "prometheus", "url"]
    assert "broken" in caplog.text and "odd" in caplog.text
    settings = Settings(retro_fetch_allow="grafana.example.com")
    registry = Registry(collectors)
    found = registry.find(CollectRequest("dashboard", "https://grafana.example.com/d/x"), settings)
    assert found is not None and found.name == "grafana"
    other = registry.find(CollectRequest("dashboard", "https://grafana2.example.com/d/x"), settings)
    assert other is not None and other.name == "grafana"
    assert registry.find(CollectRequest("log", "https://grafana.example.com/x"), settings).name == "url"  # type: ignore[union-attr]


def test_builtin_collectors_load_without_installed_metadata() -> None:
    assert [c.name for c in load_collectors(found=[])] == ["mlflow", "prometheus", "url"]


@pytest.mark.parametrize(("ref", "expected"), [
    ("fraud@3", ModelRef("fraud", version="3")),
    ("fraud@champion", ModelRef("fraud", alias="champion")),
    ("models:/fraud/3", ModelRef("fraud", version="3")),
    ("models:/fraud@champion", ModelRef("fraud", alias="champion")),
    ("models:/fraud/Production", ModelRef("fraud", stage="Production")),
    ("models:/prod.ml.fraud/12", ModelRef("prod.ml.fraud", version="12")),
    ("models:/fraud/banana", None), ("fraud", None), ("https://mlflow/x", None), ("models:/m-abc123", None),
])
def test_model_references(ref: str, expected: ModelRef | None) -> None:
    assert parse_ref(ref) == expected


def test_prometheus_steps_and_ranges() -> None:
    assert (parse_step("30s"), parse_step("5m"), parse_step("1h"), parse_step("15")) == (30, 300, 3600, 15)
    with pytest.raises(UsageError, match="not a duration"):
        parse_step("soon")
    assert auto_step(3600) == 15 and auto_step(86400) == 600 and auto_step(60) == 1
    now = datetime(2026, 5, 1, 14, 0, tzinfo=UTC)
    start, end, step = time_range({}, now)
    assert (end - start).total_seconds() == 3600 and end == now and step == 15
    with pytest.raises(UsageError, match="Prometheus allows 11,000"):
        time_range({"from": "2026-04-01T00:00:00Z", "step": "1s"}, now)
    assert series_name({"__name__": "up", "job": 'a"b\\c'}) == 'up{job="a\\"b\\\\c"}'
    assert series_name({"__name__": "up"}) == "up" and series_name({"job": "x"}) == '{job="x"}'
    assert to_csv([{"metric": {"__name__": "up"}, "values": [[1777644000, "1"], [1777644015.5, "NaN"]]}]) == (
        b"series,timestamp,unix_time,value\nup,2026-05-01T14:00:00.000Z,1777644000.000,1\n"
        b"up,2026-05-01T14:00:15.500Z,1777644015.500,NaN\n")


def test_metric_evidence_takes_promql_verbatim() -> None:
    now = datetime(2026, 5, 1, 14, 0, tzinfo=UTC)
    item = metric_evidence(parse('evidence metric `sum by (code) (rate(http_total{job="api", le="0.5"}[5m]))` '
                                "from=-2h step=1m after deploy"), now=now)
    assert item is not None
    assert item.ref == 'sum by (code) (rate(http_total{job="api", le="0.5"}[5m]))' and item.note == "after deploy"
    assert item.options == {"from": "2026-05-01T12:00:00.000000Z", "step": "1m"}
    plain = metric_evidence(parse("evidence metric rate(x{job=\u201capi\u201d}[5m]) p99 &gt; 2s"), now=now)
    assert plain is not None and plain.ref == 'rate(x{job="api"}[5m])' and plain.note == "p99 > 2s"
    assert metric_evidence(parse("evidence log https://x"), now=now) is None
    with pytest.raises(UsageError, match="never closes"):
        metric_evidence(parse("evidence metric `rate(x[5m]) from=-1h"), now=now)


def _row(data: bytes, stored: dict[str, object]) -> Evidence:
    return Evidence(incident_id=1, number=4, kind="log", ref="x", added_by="U1", added_at=datetime.now(UTC), sha256="",
                    custody={"artifact": {"sha256": hashlib.sha256(data).hexdigest()}}, **stored)


def test_artifacts_are_inline_when_small_and_content_addressed_files_when_large(tmp_path: Path) -> None:
    settings = Settings(retro_artifacts_dir=tmp_path, retro_artifact_inline_max=10)
    small = store(settings, b"tiny", media_type="text/plain")
    assert small.inline == b"tiny" and small.path is None
    big_data = b"0123456789abcdef"
    big = store(settings, big_data, media_type="text/csv")
    sha = hashlib.sha256(big_data).hexdigest()
    assert big.inline is None and big.path == f"{sha[:2]}/{sha}.csv" and (tmp_path / big.path).read_bytes() == big_data
    assert store(settings, big_data, media_type="text/csv") == big
    assert big.record(name="a.csv", media_type="text/csv") == {"name": "a.csv", "media_type": "text/csv",
                                                               "size": 16, "sha256": sha, "stored": "file",
                                                               "path": big.path}
    row = _row(big_data, {"artifact_path": big.path})
    assert load(settings, row) == big_data
    (tmp_path / big.path).write_bytes(b"tampered with!!!")
    with pytest.raises(RetroError, match="does not match its recorded SHA-256"):
        load(settings, row)
    with pytest.raises(RetroError, match="outside the artifacts folder"):
        load(settings, _row(big_data, {"artifact_path": "../../etc/passwd"}))
    with pytest.raises(NotFoundError, match="no stored artifact"):
        load(settings, _row(b"", {}))


def test_bundles_are_deterministic() -> None:
    files = (Artifact("a.json", "application/json", b"{}"), Artifact("a.csv", "text/csv", b"x\n1\n"))
    first = Collected(files=files, source_url="u", request={}, metadata={}, summary="s").artifact()
    again = Collected(files=files, source_url="u", request={}, metadata={}, summary="s").artifact()
    assert first == again and first.name == "a.zip" and first.media_type == "application/zip"
    one = Collected(files=files[:1], source_url="u", request={}, metadata={}, summary="s").artifact()
    assert one == files[0]


def test_collector_settings_are_validated() -> None:
    with pytest.raises(ConfigError, match="^MLFLOW_TRACKING_URI: .*http"):
        load_settings(mlflow_tracking_uri="databricks")
    s = load_settings(mlflow_tracking_uri="http://mlflow:5000/", prometheus_url=" ",
                      retro_fetch_allow="grafana.internal, *.logs.example.com  Kibana.Internal.")
    assert s.mlflow_tracking_uri == "http://mlflow:5000" and s.prometheus_url is None
    assert s.fetch_allow == ("grafana.internal", "*.logs.example.com", "kibana.internal")
    assert Settings().fetch_allow == () and not Settings().retro_fetch_allow_private


def test_custody_never_holds_floats() -> None:
    assert json_safe({"a": 0.1, "b": [1, 2.5, {"c": 3.0}], 4: (True, None, "x")}) == {
        "a": "0.1", "b": [1, "2.5", {"c": "3.0"}], "4": [True, None, "x"]}
