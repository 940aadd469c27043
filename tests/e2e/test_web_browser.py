"""The web view in a real browser: Sign in with Slack through the sandbox, the incidents list, an incident's page
(timeline picture, hypotheses, evidence that verifies), the link Slack carries to it, signing out, and a private
incident that stays invisible to someone outside its channel.

With RETRO_WRITE_SCREENSHOT=1 the incident page is also saved as docs/web-incident.png (the README's picture).
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.async_api import Browser, Page, expect

from bot.app.local import LocalStack
from storage.models import Incident
from tests.e2e.browser import VIEWPORT, chromium, complaints_of, new_page, sign_in
from tests.e2e.helpers import declare, run

ROOT = Path(__file__).resolve().parents[2]
PUBLIC_TITLE = "Fraud precision drop"
PRIVATE_TITLE = "Jailbreak of the support bot"
STATEMENT = "Feature null rate spiked after the ETL change"
TEST_PLAN = "replay Tuesday with the old ETL"
EXPECTED = "precision back to 0.92"


@pytest.fixture
async def browser(request: pytest.FixtureRequest) -> AsyncIterator[Browser]:
    """Headless chromium; screenshots of its pages are kept when the test fails."""
    async with chromium(request.node) as b:
        yield b


async def seed(stack: LocalStack) -> tuple[Incident, Incident]:
    """A public incident with a note, evidence, a tested and confirmed hypothesis and an action; a private one whose
    channel only alice is in."""
    public, _ = await declare(stack, PUBLIC_TITLE, options="sev=2 type=data-quality")
    ch = f"#{public.channel_name}"
    await run(stack, "alice", ch, "triage impact=-70m detected=-60m")
    await run(stack, "bob", ch, "evidence log https://logs.example.com/etl/2026-03-12 null rate 14% at=-50m")
    await run(stack, "bob", ch, f"hypothesis {STATEMENT} at=-40m")
    await run(stack, "bob", ch, f'test H1 {TEST_PLAN} expect="{EXPECTED}"')
    await run(stack, "bob", ch, "confirm H1 E1 the replay matched production at=-25m")
    await run(stack, "alice", ch, "note Rolled the ETL job back to Monday's build at=-15m")
    await run(stack, "alice", ch, "status mitigated at=-5m")
    await run(stack, "alice", ch, "action Add a null-rate guardrail to the ETL owner=@bob due=+3d kind=guardrail "
                                  "hypothesis=H1")
    private, _ = await declare(stack, PRIVATE_TITLE, options="sev=1 type=infrastructure private=yes")
    members = stack.emulator.state.channels[private.channel_id].members
    assert stack.driver.user("bob").id not in members and stack.driver.user("alice").id in members
    return public, private


def open_in_retro(held: object) -> list[str]:
    """The address of every "Open in Retro" button in some Block Kit (messages, views)."""
    if isinstance(held, list):
        return [url for item in held for url in open_in_retro(item)]
    if not isinstance(held, dict):
        return []
    text = held.get("text")
    if held.get("type") == "button" and isinstance(text, dict) and text.get("text") == "Open in Retro":
        return [str(held.get("url"))]
    return [url for value in held.values() for url in open_in_retro(value)]


async def links_from_slack(stack: LocalStack, incident: Incident) -> set[str]:
    """Slack's "Open in Retro" links to the incident: in its channel's messages and in alice's App Home."""
    await stack.driver.open_home("alice")
    await stack.settle()
    held = [stack.driver.messages(incident.channel_name), stack.driver.home_view("alice")]
    page = f"{stack.base_url}/web/incidents/{incident.id}"
    return {url for url in open_in_retro(held) if url == page or url.startswith(page + "#")}


async def check_incident_page(page: Page) -> None:
    """The public incident's page: title, timeline picture with hover details, hypotheses, verified evidence."""
    await expect(page.get_by_role("heading", level=1)).to_have_text(PUBLIC_TITLE)
    picture = page.get_by_role("group", name=re.compile("^Timeline picture"))
    await expect(picture).to_be_visible()
    assert await picture.evaluate("node => node.tagName.toLowerCase()") == "svg"
    cause = picture.get_by_role("button", name=re.compile("H1 confirmed"))  # a numbered key event, focusable
    tip = await cause.locator("title").text_content()  # the tooltip without script
    assert tip and re.match(r"\d+ · ", tip) and STATEMENT in tip, tip
    await cause.hover()
    detail = page.locator("#picture-detail")
    await expect(detail).to_be_visible()
    await expect(detail).to_contain_text(f"Key event {tip.split(' · ')[0]}")
    await expect(detail).to_contain_text(f"H1 confirmed — {STATEMENT}")
    evidence = page.get_by_role("region", name="Evidence")
    row = evidence.get_by_role("row").filter(has_text="E1")
    await expect(row).to_contain_text("null rate 14%")
    await expect(row.get_by_text("verifies", exact=True)).to_be_visible()
    hypotheses = page.get_by_role("region", name="Hypotheses")
    for column in ("Statement", "Test plan", "Expected", "Verdict"):
        await expect(hypotheses.get_by_role("columnheader", name=column, exact=True)).to_be_visible()
    row = hypotheses.get_by_role("row").filter(has_text=STATEMENT)
    cells = row.get_by_role("cell")
    await expect(cells.nth(1)).to_have_text(STATEMENT)
    await expect(cells.nth(2)).to_have_text(TEST_PLAN)
    await expect(cells.nth(3)).to_have_text(EXPECTED)
    await expect(cells.nth(4)).to_contain_text("confirmed")
    await expect(page.get_by_role("region", name="Actions")).to_contain_text("Add a null-rate guardrail")


async def test_signing_in_browsing_an_incident_and_following_slacks_link(browser: Browser, stack: LocalStack) -> None:
    public, private = await seed(stack)
    base = stack.base_url

    _, page = await new_page(browser)
    complaints = complaints_of(page)  # script errors, and anything the Content-Security-Policy blocked
    await sign_in(page, base, "alice")
    incidents = page.get_by_role("main")
    await expect(incidents.get_by_role("link", name=re.compile(PUBLIC_TITLE))).to_be_visible()
    await expect(incidents.get_by_role("link", name=re.compile(PRIVATE_TITLE))).to_be_visible()
    await incidents.get_by_role("link", name=re.compile(PUBLIC_TITLE)).click()
    await expect(page).to_have_url(f"{base}/web/incidents/{public.id}")
    await check_incident_page(page)
    if os.environ.get("RETRO_WRITE_SCREENSHOT") == "1":
        await page.screenshot(path=str(ROOT / "docs" / "web-incident.png"), full_page=True,
                              clip={"x": 0, "y": 0, "width": VIEWPORT["width"], "height": 1150})  # the top

    # The incident card (or App Home) in Slack carries "Open in Retro" to this page.
    links = await links_from_slack(stack, public)
    assert links, "no Open in Retro link to the incident in Slack"
    for link in sorted(links):
        await page.goto(f"{base}/web/")
        await page.goto(link)
        await expect(page.get_by_role("heading", level=1)).to_have_text(PUBLIC_TITLE)
    await page.goto(f"{base}/web/incidents/{private.id}")
    await expect(page.get_by_role("heading", level=1)).to_have_text(PRIVATE_TITLE)
    assert complaints == []

    await page.get_by_role("button", name="Sign out").click()
    await expect(page).to_have_url(f"{base}/web/signin")
    for asked in ("/web/", f"/web/incidents/{public.id}"):
        await page.goto(base + asked)
        await expect(page.get_by_role("link", name="Sign in with Slack")).to_be_visible()
        there = urlsplit(page.url)
        assert (there.path, parse_qs(there.query)["next"]) == ("/web/signin", [asked]), page.url

    # bob is not in the private incident's channel: not listed, and its address is just "not found".
    _, bobs = await new_page(browser)
    await sign_in(bobs, base, "bob")
    listing = bobs.get_by_role("main")
    await expect(listing.get_by_role("link", name=re.compile(PUBLIC_TITLE))).to_be_visible()
    await expect(listing).not_to_contain_text(PRIVATE_TITLE)
    answer = await bobs.goto(f"{base}/web/incidents/{private.id}")
    assert answer is not None and answer.status == 404
    hidden = await answer.text()
    await expect(bobs.get_by_role("heading", level=1)).to_have_text("Not found")
    await expect(bobs.locator("body")).not_to_contain_text(PRIVATE_TITLE)
    missing = await bobs.goto(f"{base}/web/incidents/{(private.id or 0) + 100}")
    assert missing is not None and missing.status == 404
    assert await missing.text() == hidden  # the same answer: an id tells nothing
