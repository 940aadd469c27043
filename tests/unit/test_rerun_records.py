"""Analysis records from outside (a bundle someone sent) never crash a re-run, and a stored artifact cannot make a
re-run read an unbounded member."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from bot.config import Settings
from bot.insights import replay, rerun_outcome
from bot.insights.analyses import DATACHECK, FORMAT, PROMETHEUS, Analysis


class Nothing:
    """Sources that hold nothing."""

    def input_file(self, sha256: str) -> Path | None:
        return None

    def artifact(self, number: int) -> bytes | None:
        return None


def _analysis(kind: str, inputs: object, params: object) -> Analysis:
    """A record as a hand-edited bundle could carry it (the types below are what Analysis.of lets through)."""
    return Analysis(1, kind, inputs, params, {}, "0" * 64)  # type: ignore[arg-type]


async def test_a_malformed_record_is_source_unavailable_not_a_crash() -> None:
    bad = [_analysis(DATACHECK, {"baseline": "not a dict", "current": 7}, {"limits": "x"}),
           _analysis(PROMETHEUS, {"source": ["x"]}, {"query": None, "start": {}, "end": [], "step": "abc"})]
    done = await replay.rerun_all(bad, Nothing(), Settings(prometheus_url="http://127.0.0.1:9"))
    assert [r.outcome for r in done] == ["source unavailable", "source unavailable"]
    assert all(r.detail for r in done)


def test_records_of_unknown_shape_are_no_analysis() -> None:
    for custody in ({"analysis": "x"}, {"analysis": {"format": "other"}}, {"analysis": {"format": FORMAT,
                    "kind": "datacheck", "inputs": [], "params": {}, "versions": {}, "output_sha256": "x"}}, None):
        assert Analysis.of(3, custody) is None


def test_a_member_larger_than_the_cap_is_not_read() -> None:
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("report.json", b"{" + b" " * 4096 + b"}")
    assert rerun_outcome.member(data.getvalue(), "report.json") is not None
    rerun_outcome.MAX_MEMBER, kept = 1024, rerun_outcome.MAX_MEMBER
    try:
        assert rerun_outcome.member(data.getvalue(), "report.json") is None
    finally:
        rerun_outcome.MAX_MEMBER = kept
    assert rerun_outcome.member(b"PK\x03\x04 broken", "report.json") is None


def test_postmortem_links_lead_only_to_web_pages_mail_or_the_page_itself() -> None:
    from bot.app.web.incident_files import html_of

    html = str(html_of("[a](https://ok.example/x) [b](mailto:x@example.com) [c](#why) [d](javascript:alert(1)) "
                       "[e](intent://x) [f](data:text/html,x) [g](vbscript:x)"))
    assert html.count("<a href=") == 3
    assert 'href="https://ok.example/x"' in html and 'href="#why"' in html and "intent:" not in html.split("<a")[0]
    assert "javascript" not in "".join(part.split(">")[0] for part in html.split("<a")[1:])
