"""incident.ipynb: a Jupyter notebook in the bundle that tells the incident briefly and runs its analyses again,
offline, from the bundle folder (bot/postmortem/notebook_kit.py holds what the cells call).

The notebook is a pure function of the document: cell ids are numbered, no outputs are stored, no times are
written, and the metadata is fixed, so the same document gives the same bytes. Every piece of user text in its
Markdown is escaped (bot/postmortem/escaping.py, and `$`, which Jupyter reads as the start of a formula).
"""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace
from typing import Any, cast

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from bot.incident.evidence import reproduction_context
from bot.insights.analyses import DATACHECK, PROMETHEUS, Analysis
from bot.postmortem import escaping
from bot.postmortem.doc_types import Doc, EvidenceRecord
from bot.postmortem.sections import REPRO_LABELS
from bot.postmortem.story import key_timeline
from storage.models import Evidence

NOTEBOOK = "incident.ipynb"
MAX_MOMENTS = 30  # key events told here; the full timeline is in incident.json
METADATA: dict[str, Any] = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                            "language_info": {"name": "python"}}
_TIMES = (("impact_started_at", "Impact started"), ("detected_at", "Detected"), ("created_at", "Declared"),
          ("insight_at", "Cause found"), ("mitigated_at", "Mitigated"), ("resolved_at", "Resolved"),
          ("closed_at", "Closed"))


def md(text: str, people: dict[str, str] | None = None) -> str:
    """User text as inert Markdown on one line: escaped for Markdown and HTML, and `$` so no formula starts."""
    return escaping.inline(text, people).replace("$", "\\$")


def _code(text: str) -> str:
    return escaping.code(text)  # Jupyter reads no formula inside a code span, so `$` stays as it is


def _when(text: str | None) -> str:
    if not text:
        return "—"
    try:
        return f"{datetime.fromisoformat(text.replace('Z', '+00:00')):%Y-%m-%d %H:%M} UTC"
    except ValueError:
        return md(text)


def _who(doc: Doc, uid: str | None) -> str:
    return "@" + md(doc["people"].get(uid) or uid) if uid else "—"


def summary(doc: Doc) -> str:
    """The incident in a few lines: title, severity and category, status, models, key times, chain head."""
    inc, labels = doc["incident"], doc["labels"]
    lines = [f"# {md(inc['title'], doc['people'])}", "",
             f"Incident #{md(inc['channel_name'])} · severity **{md(labels['severity'])}** · category "
             f"**{md(labels['category'])}** · status **{md(inc['status'])}**", ""]
    if inc["description"].strip():
        lines += [md(inc["description"], doc["people"]), ""]
    models = ", ".join(md(m, doc["people"]) for m in inc["models"]) or "none named"
    lines.append(f"- **Models:** {models}")
    lines += [f"- **{label}:** {_when(value)}" for key, label in _TIMES if isinstance(value := inc.get(key), str)]
    lines += [f"- **Record:** {inc['entry_count']} chained entries, head {_code(inc['head_hash'])}", "",
              "Run the code cells below from the bundle folder, with Retro installed: they use nothing but the files "
              "of this bundle (no network)."]
    return "\n".join(lines)


def timeline(doc: Doc) -> str:
    """The key events, in the order they happened (at most MAX_MOMENTS; incident.json holds every entry)."""
    moments = key_timeline(doc)
    lines = ["## Key events", ""]
    for m in moments[:MAX_MOMENTS]:
        mark = f" **{md(m.milestone)}**" if m.milestone else ""
        who = f" ({_who(doc, m.actor)})" if m.actor else ""
        lines.append(f"- {_when(m.at)} ·{mark} {md(m.text, doc['people'])}{who}")
    if len(moments) > MAX_MOMENTS:
        lines.append(f"- … {len(moments) - MAX_MOMENTS} more key events in incident.json")
    if not moments:
        lines.append("No key events were marked; incident.json holds the full timeline.")
    return "\n".join(lines)


def _refs(numbers: list[int]) -> str:
    return ", ".join(f"E{n}" for n in numbers)


def hypotheses(doc: Doc) -> str:
    """Each hypothesis with its test, what was expected, its verdict and the evidence behind it."""
    lines = ["## Hypotheses", ""]
    people = doc["people"]
    for h in doc["hypotheses"]:
        lines.append(f"- **H{h['number']}** {md(h['statement'], people)} — **{md(h['verdict'])}**")
        for label, value in (("Test", h["test_plan"]), ("Expected", h["expected"]), ("Criteria", h["criteria"]),
                             ("Verdict note", h["verdict_note"])):
            if value:
                lines.append(f"  - {label}: {md(value, people)}")
        if h["verdict_evidence"]:
            lines.append(f"  - Evidence: {_refs(h['verdict_evidence'])}")
    if not doc["hypotheses"]:
        lines.append("No hypotheses were recorded.")
    return "\n".join(lines)


def verification(doc: Doc) -> dict[int, str]:
    """Each action's latest verification state, from its check, verified and regressed entries."""
    states: dict[int, str] = {}
    for e in doc["entries"]:
        data, n = e["data"], e["data"].get("number")
        if not isinstance(n, int):
            continue
        if e["kind"] == "action_check":
            states[n] = f"{data.get('stage')} check {data.get('outcome')}"
        elif e["kind"] == "action_verified":
            stages = data.get("stages")
            states[n] = "verified" + (f" ({' → '.join(map(str, stages))})" if isinstance(stages, list) else "")
        elif e["kind"] == "action_regressed":
            states[n] = f"regressed ({data.get('stage')} check failed after verification)"
    return states


def actions(doc: Doc) -> str:
    """The action items: kind, owner, due date, status, and their verification where checks were recorded."""
    lines = ["## Actions", ""]
    checked = verification(doc)
    for a in doc["actions"]:
        state = f" · verification: {md(checked[a['number']])}" if a["number"] in checked else ""
        lines.append(f"- **A{a['number']}** {md(a['title'], doc['people'])} — {md(a['kind'])}, owner "
                     f"{_who(doc, a['owner'])}, due {md(a['due'])}, {md(a['status'])}{state}")
    if not doc["actions"]:
        lines.append("No action items were recorded.")
    return "\n".join(lines)


def _analysis(item: EvidenceRecord) -> Analysis | None:
    return Analysis.of(item["number"], item["custody"]) if item["status"] == "ok" else None


def datachecks(doc: Doc) -> list[int]:
    """The evidence numbers of the data checks recorded with their analysis."""
    return [e["number"] for e in doc["evidence"] if (a := _analysis(e)) is not None and a.kind == DATACHECK]


def prometheus_ranges(doc: Doc) -> list[int]:
    """The evidence numbers of the Prometheus range queries kept with their artifact."""
    found = []
    for e in doc["evidence"]:
        collector, artifact = e["custody"].get("collector"), e["custody"].get("artifact")
        if e["kind"] == "metric" and e["status"] == "ok" and isinstance(collector, dict) \
                and collector.get("name") == "prometheus" and isinstance(artifact, dict):
            found.append(e["number"])
    return found


def _pinned(item: EvidenceRecord, a: Analysis) -> str:
    if a.kind == DATACHECK:
        sides = [f"{side} {md(str(put.get('name', '?')))} (SHA-256 {_code(str(put.get('sha256', '?')))})"
                 for side in ("baseline", "current") if isinstance(put := a.inputs.get(side), dict)]
        return "data check of " + ", ".join(sides)
    if a.kind == PROMETHEUS:
        return f"Prometheus range {_code(str(a.params.get('query', item['ref'])))}"
    return f"model {_code(str(a.inputs.get('model', '?')))} version {md(str(a.inputs.get('version', '?')))}"


def to_fetch(doc: Doc) -> dict[str, list[str]]:
    """What to fetch to reproduce the model, by label: the model versions, data snapshots, flags, deploys, commits,
    configuration and time ranges the evidence names."""
    rows = [SimpleNamespace(number=e["number"], kind=e["kind"], ref=e["ref"], options=e["options"],
                            status=e["status"]) for e in doc["evidence"]]  # all that reproduction_context reads
    found = reproduction_context(cast(list[Evidence], rows))
    return {label: found[key] for key, label in REPRO_LABELS if found[key]}


def reproduce(doc: Doc) -> str:
    """What to fetch to reproduce the model: what the evidence names, then each pinned analysis."""
    lines = ["## To reproduce the model", ""]
    listed = to_fetch(doc)
    for label, values in listed.items():
        lines.append(f"- **{md(label)}:** " + "; ".join(md(v, doc["people"]) for v in values))
    if not listed:
        lines.append("- The evidence names no model version, snapshot, flag, deploy or commit.")
    pinned = [(e, a) for e in doc["evidence"] if (a := _analysis(e)) is not None]
    if pinned:
        lines += ["", "Analyses recorded with their inputs pinned:", ""]
        lines += [f"- **E{e['number']}** {_pinned(e, a)}; output SHA-256 {_code(a.output_sha256)}" for e, a in pinned]
    return "\n".join(lines)


VERIFY = "\n".join([
    "from pathlib import Path",
    "",
    "from bot.postmortem import notebook_kit as kit",
    "from bot.postmortem.export import verify_bundle",
    "",
    'report = verify_bundle(Path("."))',
    "for ok, line in report.checks:",
    '    print(("ok  " if ok else "FAIL") + " " + line)',
    'assert report.ok, "the bundle does not verify"'])


def cells(doc: Doc) -> list[tuple[str, str]]:
    """The notebook's cells in order, each ("markdown" | "code", source)."""
    out = [("markdown", summary(doc)), ("markdown", timeline(doc)), ("markdown", hypotheses(doc)),
           ("markdown", actions(doc)), ("markdown", reproduce(doc)),
           ("markdown", "## Verify the bundle\n\nEvery file against the MANIFEST, the hash chain, each evidence "
                        "digest and the signature, if there is one."),
           ("code", VERIFY)]
    checks = datachecks(doc)
    if checks:
        out.append(("markdown", "## Data checks, computed again\n\nEach compares the kept snapshots "
                                "(`inputs/<sha256>`) with the recorded key, thresholds and limits, in a bounded "
                                "worker process, and says whether the report has the recorded SHA-256."))
        out += [("code", f"e{n} = kit.rerun_datacheck({n})") for n in checks]
    ranges = prometheus_ranges(doc)
    if ranges:
        out.append(("markdown", "## Metrics, drawn again\n\nEach Prometheus range from the answer kept with the "
                                "evidence (`evidence/E<n>/`), with Retro's own chart."))
        out += [("code", f"e{n}_chart = kit.plot_metric({n})") for n in ranges]
    out += [("markdown", "## What to fetch"), ("code", "kit.print_to_fetch()")]
    return out


def notebook(doc: Doc) -> nbformat.NotebookNode:
    """The notebook of an incident document: numbered cell ids, no outputs, fixed metadata."""
    nb: nbformat.NotebookNode = new_notebook(metadata=METADATA)  # type: ignore[no-untyped-call]
    for n, (kind, source) in enumerate(cells(doc), 1):
        make = new_markdown_cell if kind == "markdown" else new_code_cell
        nb.cells.append(make(source=source, id=f"c{n:02d}"))  # type: ignore[no-untyped-call]
    return nb


def notebook_bytes(doc: Doc) -> bytes:
    """incident.ipynb for the document: the same document always gives the same bytes."""
    text: str = nbformat.writes(notebook(doc), version=4)  # type: ignore[no-untyped-call]
    return (text + "\n").encode("utf-8")
