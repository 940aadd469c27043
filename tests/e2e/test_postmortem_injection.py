"""Markdown and HTML typed into Slack (a display name, a title, messages, a note, a hypothesis, an action), sent
to the real app over signed HTTP, come out of `/retro postmortem` as text: the uploaded draft, rendered to HTML by
markdown-it-py, has only the template's headings, tables and rows, and no link, image or script."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from markdown_it import MarkdownIt

from bot.app.local import LocalStack
from bot.blocks.postmortem import draft_filename
from tests.e2e.helpers import declare, run

SECTIONS = ["Summary", "Impact", "Timeline", "Root cause, trigger and contributing factors", "Hypotheses tested",
            "Action items", "Lessons learned", "Related incidents", "Roles", "Triage template (as last submitted)",
            "Evidence", "Metrics", "Reproduce", "Review", "Integrity", "Appendix: full timeline"]
NAME = "# Mallory](javascript:alert(1)) | <img src=x onerror=alert(2)>"
MESSAGES = ["# Injected heading", "| a | b |\n|---|---|\n| forged | row |", "<img src=x onerror=alert(3)>",
            "[click](javascript:alert(4)) ![i](https://evil.example/p.png)", "```\nfence\n``` `span` **bold**"]
ALLOWED = {"h1", "h2", "h3", "p", "table", "thead", "tbody", "tr", "th", "td", "ul", "li", "strong", "em", "code",
           "blockquote", "br"}


class _Draft(HTMLParser):
    """Headings (tag, text), the rows of each table, every tag and attribute name, and the text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[str] = []
        self.headings: list[tuple[str, str]] = []
        self.rows: list[int] = []
        self.text: list[str] = []
        self._heading: tuple[str, list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += [name for name, _ in attrs]
        if tag in ("h1", "h2", "h3"):
            self._heading = (tag, [])
        elif tag == "table":
            self.rows.append(0)
        elif tag == "tr":
            self.rows[-1] += 1

    def handle_endtag(self, tag: str) -> None:
        if self._heading is not None and tag == self._heading[0]:
            self.headings.append((tag, "".join(self._heading[1]).strip()))
            self._heading = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._heading is not None:
            self._heading[1].append(data)


def _words(text: str) -> str:
    return " ".join(text.split())


async def test_hostile_slack_text_stays_text_in_the_uploaded_draft(stack: LocalStack) -> None:
    mallory = stack.emulator.add_user(NAME, real_name="Mallory")
    incident, _ = await declare(stack, "Drift [pwn](javascript:alert(5)) | *bold*", options="sev=2 type=data-drift")
    ch = incident.channel_name
    for text in MESSAGES:
        ts = await stack.driver.post(mallory, ch, text)
        await stack.driver.pin(mallory, ch, ts)  # key events: drawn in the Timeline list as well as the appendix
    await run(stack, "alice", ch, "note > quoted\n- listed\n1. numbered")
    await run(stack, "bob", ch, "hypothesis ## Heading hypothesis [x](data:text/html,hi)")
    await run(stack, "carol", ch, "action Fix `it` | now <b>really</b> owner=@alice due=+1w kind=fix")
    await stack.settle()

    await run(stack, "alice", ch, "postmortem")
    await stack.settle()
    summary = next(m for m in stack.driver.bot_messages(ch, include_threads=False)
                   if "Postmortem draft v1" in str(m.get("text")))
    uploaded = [f for m in stack.driver.thread(ch, summary["ts"])[1:] for f in m.get("files") or []
                if f["name"] == draft_filename(ch)]
    content = stack.emulator.state.files[uploaded[0]["id"]].content
    assert content is not None
    markdown = content.decode()

    draft = _Draft()
    draft.feed(MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"]).render(markdown))
    assert set(draft.tags) <= ALLOWED, sorted(set(draft.tags) - ALLOWED)
    assert set(draft.attrs) <= {"style"}  # table alignment only: no href, src or on… handler
    headings = draft.headings
    assert [t for t, _ in headings].count("h1") == 1 and headings[0][1].startswith("Postmortem: Drift [pwn]")
    assert [text for tag, text in headings if tag == "h2"] == SECTIONS
    assert [text for tag, text in headings if tag == "h3"] == [
        "Root cause", "Trigger", "Contributing factors", "H1: ## Heading hypothesis [x](data:text/html,hi)",
        "What went well", "What went wrong", "Where we got lucky"]
    counted = re.search(r"\| Timeline entries \| (\d+) \|", markdown)
    hidden = re.search(r"except (\d+) post\(s\) in which Retro announced", markdown)
    assert counted is not None and hidden is not None
    # The appendix: one row per entry but Retro's own announcements, and no forged one.
    assert draft.rows[-1] == int(counted.group(1)) - int(hidden.group(1)) + 1
    text = _words("".join(draft.text))
    for shown in ["@" + NAME, "# Injected heading", "| a | b | |---|---| | forged | row |",
                  "<img src=x onerror=alert(3)>", "[click](javascript:alert(4)) ![i](https://evil.example/p.png)",
                  "fence span **bold**", "> quoted - listed 1. numbered",
                  "Fix it | now <b>really</b>"]:  # Slack's `code` is code in Markdown too
        assert _words(shown) in text, shown
