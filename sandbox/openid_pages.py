"""HTML pages of Sign in with Slack's authorize step: "Continue as …" per person, and error pages."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

from aiohttp import web

from .oauth_pages import error_page
from .state import User

__all__ = ["choose_page", "error_page"]

_STYLE = ("body{font-family:sans-serif;max-width:34em;margin:3em auto}form{margin:.5em 0}"
          ".hinted button{font-weight:bold}")


def _person(query: Mapping[str, str], user: User, hinted: bool) -> str:
    hidden = "".join(f"<input type=\"hidden\" name=\"{escape(k)}\" value=\"{escape(v)}\">"
                     for k, v in query.items() if k != "user")
    mark = " class=\"hinted\"" if hinted else ""
    focus = " autofocus" if hinted else ""
    return (f"<form method=\"post\"{mark} data-user=\"{escape(user.id)}\">{hidden}"
            f"<input type=\"hidden\" name=\"user\" value=\"{escape(user.id)}\">"
            f"<button type=\"submit\"{focus}>Continue as {escape(user.name)}</button> "
            f"<span>{escape(user.real_name)}</span></form>")


def choose_page(query: Mapping[str, str], team_name: str, people: Sequence[User], hint: str | None) -> web.Response:
    """The sign-in page: one "Continue as <name>" button per person, the hinted one first and focused."""
    hinted_id = people[0].id if hint and people and hint.removeprefix("@") in (
        people[0].id, people[0].name, people[0].email) else None
    forms = "".join(_person(query, u, u.id == hinted_id) for u in people)
    body = (f"<h1>Sign in to {escape(team_name)}</h1>"
            "<p>The app wants to confirm who you are with your Slack account.</p>"
            f"<div id=\"people\">{forms}</div>")
    html = (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Sign in | Slack</title>"
            f"<style>{_STYLE}</style></head><body>{body}</body></html>")
    return web.Response(text=html, content_type="text/html")
