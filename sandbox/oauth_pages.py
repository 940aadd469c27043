"""HTML pages of the OAuth authorize step: the consent ("Allow") form and error pages."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

from aiohttp import web

_STYLE = "body{font-family:sans-serif;max-width:34em;margin:3em auto}li{font-family:monospace}"


def _page(title: str, body: str, status: int = 200) -> web.Response:
    html = (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{escape(title)} | Slack</title>"
            f"<style>{_STYLE}</style></head><body>{body}</body></html>")
    return web.Response(text=html, content_type="text/html", status=status)


def error_page(error: str) -> web.Response:
    """What Slack shows when an authorize request is invalid."""
    body = f"<h1>Something went wrong</h1><p>Error: <code id=\"error\">{escape(error)}</code></p>"
    return _page("Error", body, status=400)


def allow_page(query: Mapping[str, str], teams: Sequence[tuple[str, str]], scopes: Sequence[str]) -> web.Response:
    """The consent page: pick a workspace and a user, then Allow or Cancel."""
    chosen = query.get("team")
    hidden = "".join(f"<input type=\"hidden\" name=\"{escape(k)}\" value=\"{escape(v)}\">"
                     for k, v in query.items() if k != "team")
    options = "".join(
        f"<option value=\"{escape(tid)}\"{' selected' if tid == chosen else ''}>{escape(name)} ({escape(tid)})"
        "</option>" for tid, name in teams)
    items = "".join(f"<li>{escape(s)}</li>" for s in scopes)
    body = (
        "<h1>Install the app</h1>"
        f"<p>The app is requesting permission to access a Slack workspace.</p><ul id=\"scopes\">{items}</ul>"
        "<form method=\"post\">"
        f"{hidden}<label>Workspace <select name=\"team\">{options}</select></label> "
        "<label>Signed in as <input name=\"user\" value=\"alice\"></label><p>"
        "<button name=\"decision\" value=\"deny\">Cancel</button> "
        "<button name=\"decision\" value=\"allow\">Allow</button></p></form>"
    )
    return _page("Install the app", body)
