"""Grafana dashboard links: the uid and time range read from the link, and what counts as Grafana's answer."""

from __future__ import annotations

import json

import pytest

from bot.collectors.grafana import MAX_PANELS, dashboard_link, kept, panel_titles, read_model
from bot.collectors.http import Response
from bot.collectors.urlsnap import parse_url
from bot.config import Settings
from bot.errors import CollectorError


def link_of(ref: str) -> tuple[str, str, dict[str, str]] | None:
    url = parse_url(ref)
    assert url is not None
    found = dashboard_link(url)
    return None if found is None else (found.uid, str(found.api_url), found.time)


@pytest.mark.parametrize(("ref", "expected"), [
    ("https://grafana.example/d/mdl-latency/model-latency?orgId=1&from=now-6h&to=now",
     ("mdl-latency", "https://grafana.example/api/dashboards/uid/mdl-latency", {"from": "now-6h", "to": "now"})),
    ("https://grafana.example/d/AbC_12-x", ("AbC_12-x", "https://grafana.example/api/dashboards/uid/AbC_12-x", {})),
    ("https://grafana.example/d/abc/slug/", ("abc", "https://grafana.example/api/dashboards/uid/abc", {})),
    ("https://grafana.example:3000/d/abc/slug?from=1765078200000#panel-4",
     ("abc", "https://grafana.example:3000/api/dashboards/uid/abc", {"from": "1765078200000"})),
    ("<https://grafana.example/d/abc/slug?orgId=1&amp;from=now-24h&amp;to=now-1h|latency>",
     ("abc", "https://grafana.example/api/dashboards/uid/abc", {"from": "now-24h", "to": "now-1h"})),
    ("https://ops.example/grafana/d/abc/slug?to=now",
     ("abc", "https://ops.example/grafana/api/dashboards/uid/abc", {"to": "now"})),
    ("https://grafana.example/d/abc/slug?from=&to=now", ("abc", "https://grafana.example/api/dashboards/uid/abc",
                                                         {"to": "now"})),
])
def test_dashboard_links_give_the_uid_the_api_url_and_the_time_range(
        ref: str, expected: tuple[str, str, dict[str, str]]) -> None:
    assert link_of(ref) == expected


@pytest.mark.parametrize("ref", [
    "https://grafana.example/",
    "https://grafana.example/explore?left=%7B%7D",
    "https://grafana.example/d/",
    "https://grafana.example/d-solo/abc/slug?panelId=4",
    "https://grafana.example/d/abc/slug/extra",
    "https://grafana.example/d/ab%2Fc/slug",
    "https://grafana.example/d/a.b/slug",
    f"https://grafana.example/d/{'x' * 41}",
    "https://grafana.example/dashboards/f/serving",
])
def test_other_links_are_not_dashboards(ref: str) -> None:
    assert link_of(ref) is None


def test_panel_titles_come_from_rows_collapsed_or_open_and_from_old_models() -> None:
    model = {"panels": [
        {"type": "stat", "title": "p99"},
        {"type": "row", "title": "Open row", "panels": []},
        {"type": "timeseries", "title": "Timeouts"},
        {"type": "row", "title": "Closed row", "collapsed": True, "panels": [{"type": "table", "title": "Lag"}]},
        {"libraryPanel": {"uid": "lib1", "name": "Shared errors"}},
        {"type": "text"},
        "not a panel",
    ], "rows": [{"title": "Legacy", "panels": [{"title": "Old graph", "type": "graph"}]}]}
    assert panel_titles(model) == ["p99", "Timeouts", "Lag", "Shared errors", "", "Old graph"]
    assert panel_titles({"panels": None}) == [] and panel_titles({}) == []
    nested: dict[str, object] = {"type": "row", "panels": [{"title": "deep"}]}
    for _ in range(3):
        nested = {"type": "row", "panels": [nested, {"title": "shallow"}]}
    assert panel_titles({"panels": [nested]}) == ["shallow"]


def answer(status: int, body: object, media: str = "application/json") -> Response:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Response("https://grafana.example/api/dashboards/uid/abc", status, {"content-type": media}, raw)


@pytest.mark.parametrize(("resp", "reason"), [
    (answer(404, {"message": "Dashboard not found"}), "HTTP 404: Dashboard not found"),
    (answer(403, {"message": "Access denied to this dashboard"}), "HTTP 403: Access denied to this dashboard"),
    (answer(401, b"nope", "text/plain"), "HTTP 401"),
    (answer(302, b""), "HTTP 302 (a redirect, not followed for the API)"),
    (answer(200, b"<html>a wiki</html>", "text/html"), "HTTP 200 with text/html, not readable JSON"),
    (answer(200, b"[" * 200_000), "HTTP 200 with application/json, not readable JSON"),
    (answer(404, b"[" * 200_000), "HTTP 404"),
    (answer(200, ["dashboard"]), "the answer is not a Grafana dashboard with uid abc"),
    (answer(200, {"dashboard": "abc"}), "the answer is not a Grafana dashboard with uid abc"),
    (answer(200, {"dashboard": {"uid": "other"}}), "the answer is not a Grafana dashboard with uid abc"),
])
def test_answers_that_are_not_the_dashboard_say_why(resp: Response, reason: str) -> None:
    with pytest.raises(CollectorError) as caught:
        read_model(resp, "abc")
    assert caught.value.user_message == reason


def test_the_version_comes_from_the_model_else_from_meta_and_panels_are_capped() -> None:
    url = parse_url("https://grafana.example/d/abc/slug")
    assert url is not None
    link = dashboard_link(url)
    assert link is not None
    panels = [{"type": "graph", "title": f"p{i}"} for i in range(MAX_PANELS + 5)]
    dashboard, meta = read_model(answer(200, {"dashboard": {"uid": "abc", "panels": panels},
                                              "meta": {"version": 3, "slug": "slug"}}), "abc")
    model = kept(link, b"{}", dashboard, meta)
    assert model.metadata["version"] == 3 and model.metadata["panel_count"] == MAX_PANELS + 5
    assert model.metadata["panels"] == [f"p{i}" for i in range(MAX_PANELS)] and "time" not in model.metadata
    assert model.headline == f"Grafana dashboard “abc” version 3 · {MAX_PANELS + 5} panels"
    one = kept(link, b"{}", {"uid": "abc", "title": "T", "version": True, "panels": [{"title": "x"}]}, {})
    assert one.metadata["version"] is None and one.headline == "Grafana dashboard “T” · 1 panel"


def test_the_token_setting_is_secret_and_blank_means_unset() -> None:
    token = "glsa_Xq81kd0PzL3mTq6vB2nW9cR4yH7uJ5eA_5f3c2b1a"
    settings = Settings(retro_grafana_token=token)
    assert settings.retro_grafana_token is not None and settings.retro_grafana_token.get_secret_value() == token
    assert token not in repr(settings) and token not in settings.model_dump_json()
    assert Settings(retro_grafana_token="  ").retro_grafana_token is None
