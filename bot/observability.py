"""Prometheus metrics and structured JSON logs. Never tokens, never message text at info level."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

ACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0)
CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    """One registry per app instance (tests build many apps in one process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("retro_requests_total", "Slack requests by type and outcome", ["type", "outcome"],
                                registry=r)
        self.ack_seconds = Histogram("retro_ack_seconds", "Time to answer Slack, by request type", ["type"],
                                     buckets=ACK_BUCKETS, registry=r)
        self.events_recorded = Counter("retro_events_recorded_total", "Timeline entries recorded from Slack events",
                                       registry=r)
        self.reminders = Counter("retro_reminders_total", "Reminders by result", ["result"], registry=r)
        self.reminders_pending = Gauge("retro_reminders_pending", "Reminders waiting to be sent", registry=r)
        self.slack_calls = Counter("retro_slack_api_calls_total", "Slack Web API calls by method", ["method"],
                                   registry=r)
        self.slack_ratelimited = Counter("retro_slack_api_ratelimited_total", "Slack 429 answers by method",
                                         ["method"], registry=r)
        self.alerts = Counter("retro_alerts_total", "Alert notifications by source and outcome", ["source", "outcome"],
                              registry=r)
        self.db_errors = Counter("retro_database_errors_total", "Database errors seen while serving", registry=r)

    def exposition(self) -> bytes:
        """The Prometheus text format."""
        return generate_latest(self.registry)


_RESERVED = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any `extra=` fields."""

    def format(self, record: logging.LogRecord) -> str:
        """Serialise the record."""
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, ensure_ascii=False)


def setup_logging(level: str, *, json_lines: bool = True) -> None:
    """Configure the root logger once (JSON lines by default; plain text for terminals)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if json_lines else
                         logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("aiohttp.access", "slack_bolt", "slack_sdk", "sqlalchemy.engine", "aiosqlite", "asyncio", "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
