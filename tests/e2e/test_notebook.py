"""incident.ipynb: a bundle's notebook executed by a real Jupyter kernel, from the bundle folder alone, once the Slack
stack, Prometheus and the artifacts folder are gone: the digests verify, the data check reproduces the recorded
digest, the metric counts match, and every figure is the same bytes on a second run and as kept with the evidence."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient

from bot.app import offline
from bot.app.demo import run_scripted
from bot.app.local import local_stack
from bot.postmortem import notebook
from bot.postmortem.export import load_document, read_manifest
from tests.e2e.helpers import declare, run
from tests.e2e.servers import Gauge, prometheus_server
from tests.e2e.test_collectors_datacheck import settled
from tests.e2e.test_collectors_prometheus import scraped
from tests.unit.test_datacheck import rows, to_csv

QUERY = 'evidence metric `retro_test_value{source="test"}` from=-1m step=1s gauge jumped'


def _exported_notebook(folder: Path) -> None:
    """The export wrote the notebook, listed it in the MANIFEST, and it is exactly the one its document gives."""
    _, listed = read_manifest(folder)
    data = (folder / notebook.NOTEBOOK).read_bytes()
    assert listed[notebook.NOTEBOOK] == hashlib.sha256(data).hexdigest()
    assert data == notebook.notebook_bytes(load_document(folder))


# Loaded by the kernel's Python at start (sitecustomize): any connection or name lookup beyond this machine is refused
# and written down, so the notebook is shown to run offline (the kernel itself talks to the runner over loopback).
OFFLINE_GUARD = """
import ipaddress, os, sys

_LOG = os.environ["RETRO_OFFLINE_LOG"]


def _local(host):
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host in ("localhost", "")


def _guard(event, args):
    host = None
    if event == "socket.connect" and isinstance(args[1], tuple):
        host = str(args[1][0])
    elif event == "socket.getaddrinfo":
        host = "" if args[0] is None else str(args[0])
    if host is not None and not _local(host):
        with open(_LOG, "a") as log:
            log.write(host + "\\n")
        raise OSError("the network is off: this notebook runs from its bundle alone")


with open(_LOG, "a") as log:
    log.write("guard\\n")
sys.addaudithook(_guard)
"""


async def _execute(folder: Path) -> nbformat.NotebookNode:
    """The bundle's notebook run top to bottom in a fresh kernel whose working folder is the bundle, with the
    network off (anything beyond loopback is refused and logged; the log must show the guard and nothing else)."""
    text = (folder / notebook.NOTEBOOK).read_text(encoding="utf-8")
    nb: nbformat.NotebookNode = nbformat.reads(text, as_version=4)  # type: ignore[no-untyped-call]
    guard = folder.parent / f"{folder.name}-offline"
    guard.mkdir(exist_ok=True)
    (guard / "sitecustomize.py").write_text(OFFLINE_GUARD)
    log = guard / "refused.log"
    log.unlink(missing_ok=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(guard), os.environ.get("PYTHONPATH")])),
           "RETRO_OFFLINE_LOG": str(log)}
    client = NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(folder)}})
    await client.async_execute(env=env)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.execution_count for c in code)
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]
    assert log.read_text().split() and set(log.read_text().split()) == {"guard"}, log.read_text()
    return nb


def _stdout(cell: Any) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream" and o.name == "stdout")


def _cell(nb: nbformat.NotebookNode, source: str) -> Any:
    (found,) = [c for c in nb.cells if c.cell_type == "code" and c.source == source]
    return found


def _pngs(cell: Any) -> list[bytes]:
    return [base64.b64decode(o.data["image/png"]) for o in cell.outputs if "image/png" in o.get("data", {})]


def _verified(nb: nbformat.NotebookNode) -> list[str]:
    lines = _stdout(nb.cells[[c.cell_type for c in nb.cells].index("code")]).splitlines()
    assert lines and all(line.startswith("ok   ") for line in lines), lines
    return lines


async def test_the_demo_bundle_notebook_verifies_and_lists_what_to_fetch(sqlite_database_url: str,
                                                                         tmp_path: Path) -> None:
    result = await run_scripted(tmp_path / "bundle", out=io.StringIO(), database_url=sqlite_database_url)
    folder = result.folder
    _exported_notebook(folder)
    nb = await _execute(folder)
    lines = _verified(nb)
    assert f"ok   chain: {result.entries} entries, head {result.head}" in lines
    fetch = _stdout(_cell(nb, "kit.print_to_fetch()")).splitlines()
    assert "Model versions: fraud-scorer@4.2" in fetch and "Commits: 9f2c1ab" in fetch
    assert "# Fraud scorer precision drop" in nb.cells[0].source


async def _scenario(database_url: str, folder: Path) -> None:
    """An incident with a data check (two shared CSV files) and a Prometheus range, exported to `folder`."""
    with Gauge() as gauge, prometheus_server(gauge.port) as url:
        for value in (3.0, 7.5):
            gauge.value = value
            await scraped(url, value)
            await asyncio.sleep(2.5)
        async with local_stack(database_url=database_url, env={"prometheus_url": url}) as stack:
            incident, _ = await declare(stack, "Fraud scores shifted")
            ch = incident.channel_name
            await stack.driver.share_file("dave", ch, "train.csv", to_csv(rows(1500, seed=11)))
            await stack.driver.share_file("dave", ch, "today.csv", to_csv(rows(
                1500, seed=12, amount=lambda r: round(r.lognormvariate(3.5, 0.6), 2))))
            await stack.settle()
            checked = await run(stack, "alice", ch, "datacheck baseline=train.csv current=today.csv key=id")
            assert "Data check stored as *E1*" in await settled(checked, "Data check stored as", "failed")
            metric = await run(stack, "carol", ch, QUERY)
            assert "Collected *E2* (metric)" in await settled(metric, "Collected *E2*", "Could not collect")
            assert await offline.export_incident(stack.deps.settings, ch, folder) == 0


def _member(folder: Path, number: int, suffix: str) -> dict[str, bytes]:
    (zipped,) = (folder / "evidence" / f"E{number}").iterdir()
    with zipfile.ZipFile(zipped) as zf:
        return {name: zf.read(name) for name in sorted(zf.namelist()) if name.endswith(suffix)}


async def test_a_data_check_and_a_metric_run_again_from_the_bundle_alone(sqlite_database_url: str,
                                                                        tmp_path: Path) -> None:
    folder = tmp_path / "bundle"
    await _scenario(sqlite_database_url, folder)  # Slack, Prometheus and the artifacts folder are gone after this
    _exported_notebook(folder)
    doc = json.loads((folder / "incident.json").read_text())
    check, metric = (e["custody"] for e in doc["evidence"])
    inputs = check["analysis"]["inputs"]
    assert {p.name for p in (folder / "inputs").iterdir()} == {inputs["baseline"]["sha256"],
                                                              inputs["current"]["sha256"]}
    first = await _execute(folder)
    assert any(line.startswith("ok   inputs/") for line in _verified(first))

    dc = _cell(first, "e1 = kit.rerun_datacheck(1)")
    assert _stdout(dc) == f"E1 datacheck: reproduced (sha256 {check['analysis']['output_sha256']})\n"
    table = [o.data["text/markdown"] for o in dc.outputs if "text/markdown" in o.get("data", {})]
    assert len(table) == 1 and "| `amount` | numeric |" in table[0]
    kept_charts = _member(folder, 1, ".png")
    assert kept_charts and _pngs(dc) == list(kept_charts.values())  # the charts kept with E1, byte for byte

    pm = _cell(first, "e2_chart = kit.plot_metric(2)")
    said = _stdout(pm).splitlines()
    meta = metric["metadata"]
    assert said[0] == (f"E2 metric: {meta['series']} series, {meta['samples']} samples, "
                       f"sha256 {metric['analysis']['output_sha256']}")
    assert said[1].startswith("E2 chart: the same bytes as the chart kept with the evidence")
    assert int(meta["samples"]) > 0 and _pngs(pm) == list(_member(folder, 2, ".png").values())

    second = await _execute(folder)
    pictures = [p for c in first.cells if c.cell_type == "code" for p in _pngs(c)]
    assert len(pictures) >= 2
    assert [p for c in second.cells if c.cell_type == "code" for p in _pngs(c)] == pictures
    fetch = _stdout(_cell(second, "kit.print_to_fetch()"))
    assert f"today.csv@sha256:{inputs['current']['sha256']}" in fetch
