"""Prometheus range queries against a real Prometheus scraping a target the test controls."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
import zipfile
from collections.abc import Iterator

import pytest
from sqlmodel import col, select

from bot.app.local import LocalStack, local_stack
from bot.collectors.png import PALETTE
from bot.record import chain
from sandbox import CommandResult
from storage.models import Evidence, Incident
from tests.e2e.helpers import declare, entries, run
from tests.e2e.servers import Gauge, instant, prometheus_server
from tests.unit.test_collectors_png import png_pixels


@pytest.fixture(scope="module")
def prom() -> Iterator[tuple[str, Gauge]]:
    """Prometheus scraping the test's gauge every second."""
    with Gauge() as gauge, prometheus_server(gauge.port) as url:
        yield url, gauge


async def scraped(url: str, value: float, timeout: float = 30.0) -> None:
    """Wait until Prometheus has scraped the gauge at `value`."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await asyncio.to_thread(instant, url, "retro_test_value")
        if result and float(result[0]["value"][1]) == value:
            return
        assert asyncio.get_running_loop().time() < deadline, f"Prometheus never scraped {value}"
        await asyncio.sleep(0.25)


async def settled(result: CommandResult, *needles: str, timeout: float = 30.0) -> str:
    """The replies once one of `needles` shows (collection continues after the ack)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not any(n in result.text() for n in needles):
        assert asyncio.get_running_loop().time() < deadline, result.text()
        await asyncio.sleep(0.1)
    return result.text()


async def metric_items(stack: LocalStack, incident_id: int) -> list[Evidence]:
    async with stack.deps.session() as s:
        return list((await s.exec(select(Evidence).where(Evidence.incident_id == incident_id)
                                  .order_by(col(Evidence.number)))).all())


async def test_a_range_query_keeps_json_csv_and_a_chart_posted_in_the_channel(
        database_url: str, prom: tuple[str, Gauge]) -> None:
    url, gauge = prom
    gauge.value = 3.0
    await scraped(url, 3.0)
    await asyncio.sleep(2.5)
    gauge.value = 7.5
    await scraped(url, 7.5)
    await asyncio.sleep(2.5)
    async with local_stack(database_url=database_url, env={"prometheus_url": url}) as stack:
        incident, _ = await declare(stack, "Latency gauge jumped")
        ch = incident.channel_name
        result = await run(stack, "carol", ch,
                           'evidence metric `retro_test_value{source="test"}` from=-2m step=1s gauge jumped')
        assert result.ack_seconds < 3
        text = await settled(result, "Collected *E1*", "Could not collect")
        assert "Collected *E1* (metric)" in text and "1 series" in text

        (e1,) = await metric_items(stack, incident.id or 0)
        assert e1.ref == 'retro_test_value{source="test"}' and e1.note == "gauge jumped"
        assert e1.options["step"] == "1s" and e1.options["from"] < e1.options["to"]
        assert e1.media_type == "application/zip" and e1.artifact is not None
        art = e1.custody["artifact"]
        assert hashlib.sha256(e1.artifact).hexdigest() == art["sha256"]
        bundle = zipfile.ZipFile(io.BytesIO(e1.artifact))
        members = {m["name"]: m for m in art["members"]}
        assert set(bundle.namelist()) == set(members) == {"prometheus-range.json", "prometheus-range.csv",
                                                          "prometheus-range.png"}
        for name, m in members.items():
            assert hashlib.sha256(bundle.read(name)).hexdigest() == m["sha256"]

        raw = json.loads(bundle.read("prometheus-range.json"))
        assert raw["status"] == "success" and raw["data"]["resultType"] == "matrix"
        (series,) = raw["data"]["result"]
        assert series["metric"]["job"] == "retro-test" and series["metric"]["source"] == "test"
        values = [v for _, v in series["values"]]
        assert "3" in values and "7.5" in values and values.index("3") < values.index("7.5")
        rows = list(csv.DictReader(io.StringIO(bundle.read("prometheus-range.csv").decode())))
        assert [r["value"] for r in rows] == values
        instance = f"127.0.0.1:{gauge.port}"
        assert rows[0]["series"] == f'retro_test_value{{instance="{instance}",job="retro-test",source="test"}}'
        assert rows[0]["timestamp"].endswith("Z")

        png = bundle.read("prometheus-range.png")
        width, height, pixels = png_pixels(png)
        blue = bytes(PALETTE[0])
        assert (width, height) == (640, 260)
        assert any(pixels[i:i + 3] == blue for i in range(0, len(pixels), 3))
        meta = e1.custody["metadata"]
        assert meta["series"] == 1 and meta["samples"] == len(values)
        assert meta["series_summary"][0]["min"] == "3" and meta["series_summary"][0]["max"] == "7.5"

        posted = [f for f in stack.emulator.workspace.files.values() if f.name == "E1-prometheus-range.png"]
        assert len(posted) == 1 and posted[0].content == png and incident.channel_id in posted[0].shares
        share = next(m for m in stack.driver.bot_messages(ch) if m.get("files"))
        assert "*E1*" in share["text"] and 'blue: retro_test_value{instance=' in share["text"]
        rows_ = await entries(stack, incident.id or 0)
        chart_entry = next(e for e in rows_ if e.kind == "chart_posted")
        assert chart_entry.data["evidence"] == 1 and chart_entry.data["files"][0]["id"] == posted[0].id
        async with stack.deps.session() as s:
            inc = await s.get(Incident, incident.id)
            assert inc is not None and (await chain.verify_incident(s, inc)).ok


async def test_bad_queries_are_recorded_and_bad_steps_are_refused(database_url: str,
                                                                  prom: tuple[str, Gauge]) -> None:
    url, _ = prom
    async with local_stack(database_url=database_url, env={"prometheus_url": url}) as stack:
        incident, _ = await declare(stack, "Query typo")
        ch = incident.channel_name
        bad = await run(stack, "dave", ch, "evidence metric `sum(rate(retro_test_value[1m]` from=-10m")
        text = await settled(bad, "failed attempt")
        assert f"Prometheus at {url} answered 400 for the query: bad_data" in text
        step = await run(stack, "dave", ch, "evidence metric retro_test_value from=-2d step=1s")
        assert "Prometheus allows 11,000" in step.text()
        (e1,) = await metric_items(stack, incident.id or 0)
        assert e1.status == "failed" and "bad_data" in e1.custody["error"] and e1.artifact is None
