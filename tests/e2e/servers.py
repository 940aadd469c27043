"""Real MLflow, Prometheus and Alertmanager servers for the collector and alert scenarios, on free loopback ports.

MLflow lives in its own virtualenv (`.venv-mlflow`, created on demand from tests/requirements-mlflow.txt) because
its pins would fight the bot's. Prometheus and Alertmanager are Debian's `prometheus` and `prometheus-alertmanager`
packages. When one cannot be had, the tests that need it are skipped with the reason, unless
RETRO_TEST_REQUIRE_SERVERS=1 (CI), where that is a failure.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.processes import free_port

ROOT = Path(__file__).resolve().parents[2]
MLFLOW_VENV = Path(os.environ.get("RETRO_MLFLOW_VENV", ROOT / ".venv-mlflow"))
MLFLOW_REQUIREMENTS = ROOT / "tests" / "requirements-mlflow.txt"
REQUIRE_ENV = "RETRO_TEST_REQUIRE_SERVERS"


def unavailable(reason: str) -> None:
    """Skip (or, in CI, fail) a test whose server cannot be had."""
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1)")
    pytest.skip(reason)


def wait_http(url: str, *, timeout: float, proc: subprocess.Popen[bytes], log: Path) -> None:
    """Poll until the URL answers 200, failing with the server's log if it dies or never answers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {timeout:g} s:\n{log.read_text()[-3000:]}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate a server we started, then kill it if it lingers."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def mlflow_executable() -> Path:
    """The `mlflow` command of the separate virtualenv, created (under a lock) when missing."""
    exe = MLFLOW_VENV / "bin" / "mlflow"
    stamp = MLFLOW_VENV / ".installed"
    if exe.exists() and stamp.exists():
        return exe
    MLFLOW_VENV.parent.mkdir(parents=True, exist_ok=True)
    with open(MLFLOW_VENV.parent / ".venv-mlflow.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if exe.exists() and stamp.exists():
            return exe
        steps = [[sys.executable, "-m", "venv", str(MLFLOW_VENV)],
                 [str(MLFLOW_VENV / "bin" / "python"), "-m", "pip", "install", "--quiet", "-r",
                  str(MLFLOW_REQUIREMENTS)]]
        for cmd in steps:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=1200, check=False)
            if done.returncode != 0:
                unavailable(f"could not create the MLflow test virtualenv ({' '.join(cmd[-3:])}): "
                            f"{(done.stderr or done.stdout)[-400:]}")
        stamp.touch()
    return exe


@contextmanager
def mlflow_server() -> Iterator[str]:
    """`mlflow server` with a SQLite backend and proxied artifacts in a temporary folder; yields its URL."""
    exe = mlflow_executable()
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="retro-mlflow-") as tmp:
        log = Path(tmp) / "server.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [str(exe), "server", "--backend-store-uri", f"sqlite:///{tmp}/mlflow.db", "--artifacts-destination",
                 f"{tmp}/artifacts", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
                stdout=out, stderr=subprocess.STDOUT, cwd=tmp, env={**os.environ, "MLFLOW_TRACKING_URI": ""})
        try:
            wait_http(f"http://127.0.0.1:{port}/health", timeout=120, proc=proc, log=log)
            yield f"http://127.0.0.1:{port}"
        finally:
            stop(proc)


def mlflow_python() -> Path:
    """The Python of the MLflow virtualenv (for its client library)."""
    return mlflow_executable().parent / "python"


class Gauge:
    """A /metrics endpoint the test controls: one gauge, `retro_test_value`."""

    def __init__(self) -> None:
        self.value = 0.0
        self.scrapes = 0
        gauge = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                gauge.scrapes += 1
                body = (f"# TYPE retro_test_value gauge\nretro_test_value{{source=\"test\"}} {gauge.value}\n"
                        ).encode()
                self.send_response(200 if self.path.startswith("/metrics") else 404)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Gauge:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def prometheus_executable() -> str:
    """Debian's prometheus binary."""
    found = shutil.which("prometheus") or ("/usr/bin/prometheus" if Path("/usr/bin/prometheus").exists() else None)
    if found is None:
        unavailable("prometheus is not installed: `apt-get install -y prometheus` (or `make test-servers`)")
    assert found is not None
    return found


def threshold_rule(threshold: float, *, alert: str = "RetroTestValueHigh",
                   labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None
                   ) -> dict[str, Any]:
    """A rule file: `alert` fires at once (`for: 0s`) while the test's gauge is above `threshold`."""
    return {"groups": [{"name": "retro-test", "interval": "1s", "rules": [{
        "alert": alert, "expr": f"retro_test_value > {threshold:g}", "for": "0s",
        "labels": labels or {"severity": "critical"},
        "annotations": annotations or {"summary": f"retro_test_value above {threshold:g}"}}]}]}


@contextmanager
def prometheus_server(target_port: int, *, rules: dict[str, Any] | None = None,
                      alertmanager: str | None = None) -> Iterator[str]:
    """Prometheus scraping 127.0.0.1:<target_port> every second; yields its URL.

    With `rules` (a rule file's content) it evaluates them every second and sends alerts to the `alertmanager` URL.
    """
    exe = prometheus_executable()
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="retro-prom-") as tmp:
        config: dict[str, Any] = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "scrape_configs": [{"job_name": "retro-test", "static_configs": [
                {"targets": [f"127.0.0.1:{target_port}"]}]}]}
        if rules is not None:
            (Path(tmp) / "rules.yml").write_text(json.dumps(rules))
            config["rule_files"] = [f"{tmp}/rules.yml"]
        if alertmanager is not None:
            config["alerting"] = {"alertmanagers": [{"static_configs": [
                {"targets": [urllib.parse.urlsplit(alertmanager).netloc]}]}]}
        (Path(tmp) / "prometheus.yml").write_text(json.dumps(config))
        log = Path(tmp) / "server.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [exe, f"--config.file={tmp}/prometheus.yml", f"--storage.tsdb.path={tmp}/data",
                 f"--web.listen-address=127.0.0.1:{port}", f"--web.external-url=http://127.0.0.1:{port}"],
                stdout=out, stderr=subprocess.STDOUT, cwd=tmp)
        try:
            wait_http(f"http://127.0.0.1:{port}/-/ready", timeout=60, proc=proc, log=log)
            yield f"http://127.0.0.1:{port}"
        finally:
            stop(proc)


def instant(prom: str, query: str) -> list[dict[str, Any]]:
    """An instant query's result vector."""
    url = f"{prom}/api/v1/query?" + urllib.parse.urlencode({"query": query})
    with urllib.request.urlopen(url, timeout=5) as resp:
        return list(json.load(resp)["data"]["result"])


def alertmanager_executable() -> str:
    """Debian's Alertmanager binary."""
    found = shutil.which("prometheus-alertmanager")
    if found is None:
        unavailable("prometheus-alertmanager is not installed: `apt-get install -y prometheus-alertmanager` "
                    "(or `make test-servers`)")
    assert found is not None
    return found


def webhook_config(url: str, token: str, *, group_by: tuple[str, ...] = ("alertname",)) -> dict[str, Any]:
    """An Alertmanager configuration: every alert to one webhook receiver with a bearer token, grouped fast."""
    return {
        "route": {"receiver": "retro", "group_by": list(group_by), "group_wait": "1s", "group_interval": "1s",
                  "repeat_interval": "1h"},
        "receivers": [{"name": "retro", "webhook_configs": [{
            "url": url, "send_resolved": True,
            "http_config": {"authorization": {"type": "Bearer", "credentials": token}}}]}]}


@contextmanager
def alertmanager_server(config: dict[str, Any], *, port: int | None = None) -> Iterator[str]:
    """Alertmanager with `config`, alone (no cluster) and with its own storage; yields its URL.

    `port` lets a test tell Prometheus where Alertmanager will be before starting it.
    """
    exe = alertmanager_executable()
    port = port or free_port()
    with tempfile.TemporaryDirectory(prefix="retro-am-") as tmp:
        (Path(tmp) / "alertmanager.yml").write_text(json.dumps(config))
        log = Path(tmp) / "server.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [exe, f"--config.file={tmp}/alertmanager.yml", f"--storage.path={tmp}/data",
                 f"--web.listen-address=127.0.0.1:{port}", f"--web.external-url=http://127.0.0.1:{port}",
                 "--cluster.listen-address="], stdout=out, stderr=subprocess.STDOUT, cwd=tmp)
        try:
            wait_http(f"http://127.0.0.1:{port}/-/ready", timeout=60, proc=proc, log=log)
            yield f"http://127.0.0.1:{port}"
        finally:
            stop(proc)
