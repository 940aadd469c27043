"""incident.ipynb as written: the same document gives the same bytes, the notebook is valid nbformat 4 with no
outputs, the analyses get their cells, and no user text can add markup, HTML, links or formulas to its Markdown."""

from __future__ import annotations

import copy
import json
import re
from html.parser import HTMLParser
from typing import Any

import nbformat
import pytest
from markdown_it import MarkdownIt

from bot.insights import analyses
from bot.postmortem import notebook
from bot.postmortem.doc_types import Doc
from bot.postmortem.notebook_kit import feature_table
from tests.postmortem_world import document_of, fraud_incident, world

RENDERER = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
HOSTILE = ("<script>alert(1)</script> [x](javascript:alert(1)) <!channel> ![i](http://e.x/p.png) "
           "$\\href{javascript:1}{y}$")
ALLOWED = {"h1", "h2", "p", "ul", "li", "strong", "code", "br", "table", "thead", "tbody", "tr", "th", "td"}


class _Html(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += attrs

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _html(markdown: str) -> _Html:
    parsed = _Html()
    parsed.feed(RENDERER.render(markdown))
    return parsed


@pytest.fixture
async def doc(sqlite_database_url: str) -> Doc:
    async with world(sqlite_database_url) as w:
        return await document_of(w, await fraud_incident(w, messages=8))


def _with_analyses(doc: Doc) -> Doc:
    """The document with E1 recording a data check and E2 a kept Prometheus range (as collectors record them)."""
    out = copy.deepcopy(doc)
    side = {"name": "today.csv", "sha256": "ab" * 32, "size": 10}
    out["evidence"][0]["custody"] = {"analysis": analyses.record(
        analyses.DATACHECK, inputs={"baseline": {**side, "name": "train.csv"}, "current": side}, params={},
        output={"features": []})}
    out["evidence"][1]["kind"] = "metric"
    out["evidence"][1]["custody"] = {"collector": {"name": "prometheus", "version": "1.0"},
                                     "artifact": {"name": "prometheus-range.zip", "sha256": "cd" * 32}}
    return out


async def test_the_same_document_gives_the_same_valid_clean_notebook(doc: Doc) -> None:
    data = notebook.notebook_bytes(doc)
    assert data == notebook.notebook_bytes(copy.deepcopy(doc)) and data.endswith(b"}\n")
    nb = nbformat.reads(data.decode("utf-8"), as_version=4)  # type: ignore[no-untyped-call]
    nbformat.validate(nb)
    assert (nb.nbformat, nb.nbformat_minor) == (4, 5) and nb.metadata == notebook.METADATA
    assert [c.id for c in nb.cells] == [f"c{n:02d}" for n in range(1, len(nb.cells) + 1)]
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code)
    assert [c.source for c in code][-1] == "kit.print_to_fetch()" and "verify_bundle(Path(\".\"))" in code[0].source
    assert "# Fraud model precision dropped" in nb.cells[0].source
    changed = copy.deepcopy(doc)
    changed["incident"]["title"] = "Another title"
    assert notebook.notebook_bytes(changed) != data


async def test_each_recorded_analysis_gets_its_cell(doc: Doc) -> None:
    assert notebook.datachecks(doc) == [] and notebook.prometheus_ranges(doc) == []
    rich = _with_analyses(doc)
    sources = [source for kind, source in notebook.cells(rich) if kind == "code"]
    assert sources[1:] == ["e1 = kit.rerun_datacheck(1)", "e2_chart = kit.plot_metric(2)", "kit.print_to_fetch()"]
    pinned = notebook.reproduce(rich)
    assert f"- **E1** data check of baseline train.csv (SHA-256 `{'ab' * 32}`)" in pinned
    failed = copy.deepcopy(rich)
    failed["evidence"][0]["status"] = failed["evidence"][1]["status"] = "failed"
    assert notebook.datachecks(failed) == [] and notebook.prometheus_ranges(failed) == []


async def test_user_text_cannot_add_markup_html_links_or_formulas(doc: Doc) -> None:
    bad = _with_analyses(doc)
    bad["incident"]["title"] = bad["incident"]["description"] = HOSTILE
    bad["incident"]["models"] = [HOSTILE]
    bad["labels"]["severity"] = bad["labels"]["category"] = HOSTILE
    for h in bad["hypotheses"]:
        h["statement"] = h["test_plan"] = h["expected"] = h["verdict_note"] = "# " + HOSTILE
    for a in bad["actions"]:
        a["title"] = "1. " + HOSTILE
    for e in bad["evidence"]:
        e["options"], e["ref"] = {"model": HOSTILE, "snapshot": HOSTILE}, HOSTILE
    bad["people"] = dict.fromkeys(bad["people"], HOSTILE)
    cells = [source for kind, source in notebook.cells(bad) if kind == "markdown"]
    for source in cells:
        prose = re.sub(r"(?<!\\)(`+).*?\1", "", source)  # Jupyter reads no formula inside a code span
        assert re.search(r"(?<!\\)\$", prose) is None, source  # nor anywhere else: every `$` is escaped
        parsed = _html(source)
        assert set(parsed.tags) <= ALLOWED, (set(parsed.tags) - ALLOWED, source)
        assert not any(v and "javascript" in v for _, v in parsed.attrs)
    title = _html(cells[0])
    shown = "".join(title.text)
    assert "<script>alert(1)</script> [x](javascript:alert(1)) @channel" in shown
    assert title.tags.count("h1") == 1 and "<!channel>" not in cells[0]
    assert [t for c in cells for t in _html(c).tags].count("h1") == 1  # `# …` in a hypothesis opens no heading


def test_the_feature_table_keeps_one_row_per_feature_whatever_the_column_is_called() -> None:
    report: dict[str, Any] = {"features": [
        {"column": "a|b`<img src=x>`", "type": "numeric", "null_rate_baseline": "0", "null_rate_current": "0.5",
         "psi": "0.31", "ks": None, "flags": ["psi", "<b>x</b>"]},
        {"column": "[x](javascript:alert(1))", "type": "categorical", "null_rate_baseline": "0",
         "null_rate_current": "0", "psi": "0.01", "flags": []}]}
    html = RENDERER.render(feature_table(report))
    rows = re.findall(r"<tr>(.*?)</tr>", html, re.S)
    assert len(rows) == 3 and all(r.count("<t") == 10 for r in rows)
    assert "<img" not in html and "<b>" not in html and "<a " not in html
    assert "<code>a|b`&lt;img src=x&gt;`</code>" in html and "0.31" in html and "—" in html
    assert json.dumps(report)  # the table leaves the report as it was (still plain JSON)
