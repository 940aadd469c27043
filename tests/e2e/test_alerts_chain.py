"""Prometheus -> Alertmanager -> a webhook receiver: the real chain Retro's alert intake sits at the end of.

The receiver here only records what Alertmanager posts, so these tests pin down what the real servers send
(a bearer token, version 4 payloads, firing then resolved), and that the stored sample payloads in tests/data, which
the parser tests read, still have the shape this Alertmanager sends.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.e2e.servers import Gauge, alertmanager_server, prometheus_server, threshold_rule, webhook_config
from tests.local_web import serving

DATA = Path(__file__).resolve().parents[1] / "data"
TOKEN = "chain-test-token"
RULE = threshold_rule(5, labels={"severity": "critical", "model": "fraud-scorer"},
                      annotations={"summary": "retro_test_value above 5", "description": "The test gauge crossed 5."})


@dataclass
class Receiver:
    """An HTTP endpoint that keeps every POST: its Authorization header and JSON body."""

    url: str = ""
    posts: list[tuple[str | None, dict[str, Any]]] = field(default_factory=list)

    async def next_with(self, status: str, timeout: float = 45.0) -> tuple[str | None, dict[str, Any]]:
        """The first post whose status is `status`, waiting for it."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for post in self.posts:
                if post[1].get("status") == status:
                    return post
            assert asyncio.get_running_loop().time() < deadline, f"no {status} notification: {self.posts}"
            await asyncio.sleep(0.2)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    kept = Receiver()

    async def keep(request: web.Request) -> web.Response:
        kept.posts.append((request.headers.get("Authorization"), await request.json()))
        return web.json_response({"ok": True})

    async with serving(keep, method="POST") as base:
        kept.url = f"{base}/hook"
        yield kept


@pytest.fixture
def chain(receiver: Receiver) -> Iterator[tuple[Gauge, str]]:
    """The gauge the test moves, Prometheus alerting above 5, and Alertmanager posting to the receiver."""
    with Gauge() as gauge, alertmanager_server(webhook_config(receiver.url, TOKEN)) as am, \
            prometheus_server(gauge.port, rules=RULE, alertmanager=am) as prom:
        yield gauge, prom


def shape(value: Any) -> Any:
    """The keys of a JSON document, recursively (lists by their first item), without the values."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items() if k not in ("labels", "annotations", "commonLabels",
                                                                    "commonAnnotations", "groupLabels")}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


async def test_a_threshold_crossed_fires_with_the_bearer_token_and_clearing_it_resolves(
        receiver: Receiver, chain: tuple[Gauge, str]) -> None:
    gauge, prom = chain
    gauge.value = 9.0
    auth, firing = await receiver.next_with("firing")
    assert auth == f"Bearer {TOKEN}"
    assert firing["version"] == "4" and firing["receiver"] == "retro"
    assert firing["groupLabels"] == {"alertname": "RetroTestValueHigh"}
    assert firing["groupKey"] == '{}:{alertname="RetroTestValueHigh"}'
    (alert,) = firing["alerts"]
    assert alert["status"] == "firing" and alert["endsAt"] == "0001-01-01T00:00:00Z"
    assert alert["labels"]["severity"] == "critical" and alert["labels"]["job"] == "retro-test"
    assert alert["labels"]["model"] == "fraud-scorer"
    assert alert["annotations"] == RULE["groups"][0]["rules"][0]["annotations"]
    assert alert["generatorURL"].startswith(f"{prom}/graph?g0.expr=")
    assert len(alert["fingerprint"]) == 16
    assert not any(body["status"] == "resolved" for _, body in receiver.posts)

    gauge.value = 1.0
    auth, resolved = await receiver.next_with("resolved")
    assert auth == f"Bearer {TOKEN}"
    assert resolved["groupKey"] == firing["groupKey"]
    (done,) = resolved["alerts"]
    assert done["fingerprint"] == alert["fingerprint"] and done["startsAt"] == alert["startsAt"]
    assert done["status"] == "resolved"
    assert datetime.fromisoformat(done["endsAt"]) > datetime.fromisoformat(done["startsAt"])

    for name, body in (("alertmanager-firing.json", firing), ("alertmanager-resolved.json", resolved)):
        sample = json.loads((DATA / name).read_text())
        assert shape(sample) == shape(body), f"tests/data/{name} no longer has the shape Alertmanager sends"
        assert sample["status"] == body["status"] and sample["version"] == body["version"]
