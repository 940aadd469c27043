"""A browser going through an app's "Add to Slack" install: install page, Allow, redirect back."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qsl, urlsplit

import aiohttp
from yarl import URL

from .oauth import AUTHORIZE_PATH
from .state import SlackError

_REDIRECTS = (301, 302, 303, 307, 308)


def authorize_link(page: str) -> str | None:
    """The authorize URL an install page links to (its "Add to Slack" button), if any."""
    for href in re.findall(r"""href\s*=\s*["']([^"']+)["']""", page):
        url = html.unescape(href)
        if urlsplit(url).path.endswith(AUTHORIZE_PATH):
            return url
    return None


def team_in(url: str) -> str | None:
    """The `team` an authorize or install URL preselects, if any."""
    return dict(parse_qsl(urlsplit(url).query)).get("team") or None


def _page_error(page: str) -> str:
    found = re.search(r'id="error">([^<]*)<', page)
    return html.unescape(found.group(1)) if found else "invalid_request"


async def authorize(base_url: str, authorize_url: str, *, team_id: str, user: str, allow: bool = True) -> str:
    """Open the authorize page and press Allow (or Cancel); returns the redirect URL Slack sends back."""
    parts = urlsplit(authorize_url)
    if f"{parts.scheme}://{parts.netloc}" != base_url or parts.path != AUTHORIZE_PATH:
        raise ValueError(f"not this emulator's authorize URL: {authorize_url}")
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    form = {**query, "team": team_id, "user": user, "decision": "allow" if allow else "deny"}
    async with aiohttp.ClientSession() as http:
        async with http.get(authorize_url) as page:
            if page.status != 200:
                raise SlackError(_page_error(await page.text()))
        async with http.post(base_url + AUTHORIZE_PATH, data=form, allow_redirects=False) as sent:
            if sent.status not in _REDIRECTS:
                raise SlackError(_page_error(await sent.text()))
            return sent.headers["Location"]


async def install(base_url: str, install_url: str, *, team_id: str, user: str,
                  allow: bool = True) -> tuple[int, str]:
    """The whole dance in one cookie-keeping browser session; returns the app's final (status, body)."""
    app_origin = URL(install_url).origin()
    # Bolt's state cookie is Secure; browsers keep such cookies for http://localhost-style origins too.
    jar = aiohttp.CookieJar(unsafe=True, treat_as_secure_origin=app_origin)
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        async with http.get(install_url, allow_redirects=False) as resp:
            body = await resp.text()
            if resp.status in _REDIRECTS:
                target: str | None = resp.headers.get("Location")
            elif resp.status == 200:
                target = authorize_link(body)
            else:
                return resp.status, body
        if target is None:
            raise ValueError("the install page links to no authorize URL")
        redirect = await authorize(base_url, target, team_id=team_id, user=user, allow=allow)
        async with http.get(redirect, allow_redirects=False) as back:
            return back.status, await back.text()
