"""A small Grafana for tests: the dashboard page and the dashboard API, on a loopback port.

The API answer follows Grafana's documented shape for "Get dashboard by uid"
(https://grafana.com/docs/grafana/latest/developers/http_api/dashboard/#get-dashboard-by-uid):
`GET /api/dashboards/uid/<uid>` answers `{"dashboard": {<JSON model>}, "meta": {...}}`, 404
`{"message": "Dashboard not found"}` for an unknown uid and 401 without valid credentials when anonymous access is
off. Pages are Grafana's single-page app: any `/d/<uid>/<slug>` answers the same HTML shell (unknown uids too,
the browser shows the error), and without a session Grafana redirects the page to `/login`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.local_web import serving

PAGE = (b"<!DOCTYPE html><html><head><title>Grafana</title></head><body><div id=\"reactRoot\"></div>"
        b"<script nonce=\"\">window.grafanaBootData = {};</script></body></html>")
LOGIN = b"<!DOCTYPE html><html><head><title>Grafana</title></head><body>Log in</body></html>"


def latency_model(uid: str = "mdl-latency", version: int = 14) -> dict[str, Any]:
    """A dashboard JSON model with six panels: two at the top, two in an open row, two in a collapsed row."""
    return {
        "id": 7, "uid": uid, "title": "Model latency", "version": version, "schemaVersion": 39,
        "time": {"from": "now-6h", "to": "now"}, "tags": ["ml", "serving"],
        "panels": [
            {"id": 1, "type": "stat", "title": "p99 latency", "gridPos": {"x": 0, "y": 0, "w": 12, "h": 4}},
            {"id": 2, "type": "timeseries", "title": "Requests per second",
             "gridPos": {"x": 12, "y": 0, "w": 12, "h": 4}},
            {"id": 3, "type": "row", "title": "Scorer", "collapsed": False, "panels": [],
             "gridPos": {"x": 0, "y": 4, "w": 24, "h": 1}},
            {"id": 4, "type": "timeseries", "title": "Scorer timeouts", "gridPos": {"x": 0, "y": 5, "w": 12, "h": 8}},
            {"id": 5, "type": "heatmap", "title": "Latency heatmap", "gridPos": {"x": 12, "y": 5, "w": 12, "h": 8}},
            {"id": 6, "type": "row", "title": "Feature store", "collapsed": True,
             "gridPos": {"x": 0, "y": 13, "w": 24, "h": 1},
             "panels": [{"id": 7, "type": "timeseries", "title": "Feature lag", "gridPos": {"x": 0, "y": 14}},
                        {"id": 8, "type": "table", "title": "Stale features", "gridPos": {"x": 12, "y": 14}}]},
        ],
    }


@dataclass
class FakeGrafana:
    """Dashboards by uid; with `token` set, the API wants `Authorization: Bearer <token>` and pages a session."""

    dashboards: dict[str, dict[str, Any]] = field(default_factory=dict)
    token: str | None = None
    url: str = ""
    hits: list[tuple[str, str | None]] = field(default_factory=list)  # (path, Authorization header)

    def body(self, uid: str) -> bytes:
        """The exact bytes the API answers for a known uid."""
        model = self.dashboards[uid]
        meta = {"type": "db", "canSave": True, "canEdit": True, "slug": "model-latency",
                "url": f"/d/{uid}/model-latency", "expires": "0001-01-01T00:00:00Z",
                "created": "2026-11-02T09:12:44Z", "updated": "2026-12-06T21:40:03Z", "updatedBy": "mlops-oncall",
                "createdBy": "admin", "version": model["version"], "folderId": 3, "folderUid": "serving",
                "folderTitle": "Serving", "provisioned": False}
        return json.dumps({"dashboard": model, "meta": meta}, indent=2).encode()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Answer like Grafana for the dashboard page, the login page and the dashboard API."""
        auth = request.headers.get("Authorization")
        self.hits.append((request.path, auth))
        path = request.path
        if path.startswith("/api/"):
            if self.token is not None and auth != f"Bearer {self.token}":
                return web.json_response({"message": "Unauthorized"}, status=401)
            prefix = "/api/dashboards/uid/"
            uid = path.removeprefix(prefix)
            if not path.startswith(prefix) or uid not in self.dashboards:
                return web.json_response({"message": "Dashboard not found"}, status=404)
            return web.Response(body=self.body(uid), content_type="application/json")
        if path == "/login":
            return web.Response(body=LOGIN, content_type="text/html")
        if self.token is not None:  # no session cookie: the page sends the browser to log in
            raise web.HTTPFound("/login")
        if path.startswith("/d/") or path in ("/", "/explore"):
            return web.Response(body=PAGE, content_type="text/html")
        return web.Response(status=404, text="Not found")

    def api_hits(self) -> list[tuple[str, str | None]]:
        """The API requests received, with their Authorization header."""
        return [h for h in self.hits if h[0].startswith("/api/")]


@asynccontextmanager
async def grafana(dashboards: dict[str, dict[str, Any]], *, token: str | None = None) -> AsyncIterator[FakeGrafana]:
    """Serve a fake Grafana; yields it with its base URL set."""
    fake = FakeGrafana(dict(dashboards), token)
    async with serving(fake.handle) as url:
        fake.url = url
        yield fake
