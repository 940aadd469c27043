"""A real browser for the web view's scenarios: Debian's `chromium`, driven by Playwright, over the local stack.

Playwright's own browser download is never used: the scenarios launch the system's chromium (`make test-servers`
installs it). Without one they are skipped with the reason, unless RETRO_TEST_REQUIRE_SERVERS=1 (CI), where that is
a failure. When a scenario fails, every page still open is saved as a PNG under RETRO_TEST_ARTIFACTS (default:
test-artifacts/ in the working folder), named after the test.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, BrowserContext, ConsoleMessage, Page, async_playwright, expect

from tests.e2e.servers import unavailable

ARTIFACTS_ENV = "RETRO_TEST_ARTIFACTS"
VIEWPORT = {"width": 1280, "height": 900}


def chromium_executable() -> str:
    """The system's chromium (skip, or fail in CI, when there is none)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        unavailable("chromium is not installed: `apt-get install -y chromium` (or `make test-servers`)")
    assert found is not None
    return found


def artifacts_dir() -> Path:
    """Where failed scenarios leave their screenshots."""
    return Path(os.environ.get(ARTIFACTS_ENV) or Path.cwd() / "test-artifacts")


async def save_screenshots(browser: Browser, test_name: str) -> list[Path]:
    """A full-page PNG of every open page of every context; returns the files written."""
    folder = artifacts_dir()
    folder.mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", test_name)[:120]
    saved = []
    for c, context in enumerate(browser.contexts):
        for p, page in enumerate(context.pages):
            path = folder / f"{stem}-{c}-{p}.png"
            try:
                await page.screenshot(path=str(path), full_page=True, timeout=5000)
            except Exception as exc:  # a page that cannot be drawn must not hide the test's own failure
                path.with_suffix(".txt").write_text(f"{page.url}: no screenshot ({exc})\n")
                continue
            saved.append(path)
    return saved


@asynccontextmanager
async def chromium(node: pytest.Item) -> AsyncIterator[Browser]:
    """Headless chromium for one test; when the test's call failed, its pages are saved before closing."""
    executable = chromium_executable()
    args = ["--disable-dev-shm-usage"] + (["--no-sandbox"] if os.geteuid() == 0 else [])
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=executable, headless=True, args=args)
        try:
            yield browser
        finally:
            report = getattr(node, "rep_call", None)
            if report is not None and report.failed:
                for path in await save_screenshots(browser, node.name):
                    print(f"screenshot of a failed page: {path}")
            await browser.close()


async def new_page(browser: Browser) -> tuple[BrowserContext, Page]:
    """A fresh context (its own cookies: one person) and a page in it."""
    context = await browser.new_context(viewport={"width": VIEWPORT["width"], "height": VIEWPORT["height"]},
                                        locale="en-GB", timezone_id="UTC")
    context.set_default_timeout(10_000)
    return context, await context.new_page()


def complaints_of(page: Page) -> list[str]:
    """A list the page's script errors and console errors (what the Content-Security-Policy blocks is logged as one)
    are appended to from now on; the browser's own favicon request is not counted."""
    found: list[str] = []

    def console(message: ConsoleMessage) -> None:
        where = str(message.location.get("url") or "")
        if message.type == "error" and urlsplit(where).path != "/favicon.ico":
            found.append(f"{where}: {message.text}")

    page.on("console", console)
    page.on("pageerror", lambda error: found.append(f"{page.url}: {error}"))
    return found


async def sign_in(page: Page, base_url: str, user: str) -> None:
    """Open the incidents, be sent to sign in, sign in with Slack as `user`, and land back on the incidents."""
    await page.goto(f"{base_url}/web/")
    await expect(page).to_have_url(re.compile(re.escape(f"{base_url}/web/signin?next=")))
    await page.get_by_role("link", name="Sign in with Slack").click()
    await page.get_by_role("button", name=f"Continue as {user}").click()
    await expect(page).to_have_url(f"{base_url}/web/")
