"""A browser going through Sign in with Slack: the app's start URL, "Continue as <user>", back to the app."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import aiohttp
from yarl import URL

from .openid import AUTHORIZE_PATH
from .state import SlackError

_REDIRECTS = (301, 302, 303, 307, 308)
_FORM = re.compile(r"<form\b[^>]*>(.*?)</form>", re.DOTALL)
_INPUT = re.compile(r"""<input\b[^>]*\bname="([^"]*)"[^>]*\bvalue="([^"]*)"[^>]*>""")
_BUTTON = re.compile(r"<button\b[^>]*>(.*?)</button>", re.DOTALL)
_MAX_HOPS = 10


@dataclass
class SignedIn:
    """Where the browser ended up after the app's callback, and the cookies the app set on the way."""

    status: int
    url: str
    text: str
    cookies: dict[str, str] = field(default_factory=dict)
    callback_status: int | None = None  # the callback's own answer when it redirected further


def continue_as(page: str, user: str) -> dict[str, str]:
    """The form fields behind the page's "Continue as <user>" button (LookupError when there is none)."""
    for form in _FORM.findall(page):
        button = _BUTTON.search(form)
        if button and html.unescape(button.group(1)).strip() == f"Continue as {user}":
            return {html.unescape(k): html.unescape(v) for k, v in _INPUT.findall(form)}
    raise LookupError(f"the sign-in page offers no \"Continue as {user}\"")


def _page_error(page: str) -> str:
    found = re.search(r'id="error">([^<]*)<', page)
    return html.unescape(found.group(1)) if found else "invalid_request"


async def sign_in(base_url: str, start_url: str, *, user: str) -> SignedIn:
    """Follow the app's redirects to the sandbox's authorize page, continue as `user`, and load the callback."""
    origin = URL(start_url).origin()
    # unsafe: keep cookies of 127.0.0.1; secure origin: a Secure cookie on a loopback http app is kept, as browsers do.
    jar = aiohttp.CookieJar(unsafe=True, treat_as_secure_origin=origin)
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        url = start_url
        for _ in range(_MAX_HOPS):
            parts = urlsplit(url)
            if f"{parts.scheme}://{parts.netloc}" == base_url and parts.path == AUTHORIZE_PATH:
                break
            async with http.get(url, allow_redirects=False) as resp:
                if resp.status not in _REDIRECTS:
                    raise ValueError(f"{url} answered {resp.status}, not a redirect to Sign in with Slack")
                url = urljoin(url, resp.headers["Location"])
        else:
            raise ValueError(f"{start_url} never reached the sandbox's authorize page")
        async with http.get(url) as page:
            text = await page.text()
            if page.status != 200:
                raise SlackError(_page_error(text))
        async with http.post(base_url + AUTHORIZE_PATH, data=continue_as(text, user), allow_redirects=False) as sent:
            if sent.status not in _REDIRECTS:
                raise SlackError(_page_error(await sent.text()))
            callback = sent.headers["Location"]
        async with http.get(callback) as back:
            first = back.history[0].status if back.history else None
            return SignedIn(back.status, str(back.url), await back.text(),
                            {c.key: c.value for c in jar}, first)
