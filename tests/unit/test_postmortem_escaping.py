"""User text in the postmortem stays text: every user-controlled field of the incident document carries each payload
of a table of Markdown and HTML attacks; the draft, rendered to HTML by markdown-it-py (CommonMark with GitHub's
tables and strikethrough, raw HTML allowed), keeps the shape a harmless document gets, and still shows the text."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from bot.postmortem import escaping
from bot.postmortem.doc_types import Doc, Entry
from bot.postmortem.draft import render, template_environment
from tests.postmortem_world import document_of, fraud_incident, world

RENDERER = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
BENIGN = "plain words"
# name: (what a person typed, what a reader must see)
PAYLOADS: dict[str, tuple[str, str]] = {
    "raw img tag": ("<img src=x onerror=alert(1)>", "<img src=x onerror=alert(1)>"),
    "raw script": ("<script>alert(1)</script>", "<script>alert(1)</script>"),
    "slack-escaped tag": ("&lt;img src=x onerror=alert(1)&gt;", "<img src=x onerror=alert(1)>"),
    "javascript link": ("[click](javascript:alert(1))", "[click](javascript:alert(1))"),
    "data link": ("[x](data:text/html;base64,PHNjcmlwdD4=)", "[x](data:text/html;base64,PHNjcmlwdD4=)"),
    "entity link": ("[x](&#106;avascript:alert(1))", "[x](javascript:alert(1))"),
    "image": ("![x](https://evil.example/p.png)", "![x](https://evil.example/p.png)"),
    "reference link": ("see [x]\n[x]: javascript:alert(1)", "see [x] [x]: javascript:alert(1)"),
    "autolink": ("<javascript:alert(1)>", "<javascript:alert(1)>"),
    "heading": ("# Injected heading\n## and another", "# Injected heading ## and another"),
    "setext heading": ("Injected\n===\nand\n---", "Injected === and ---"),
    "table": ("a | b\n|---|---|\n| injected | row |", "a | b |---|---| | injected | row |"),
    "row break": ("cell\n| new | row |", "cell | new | row |"),
    "code span": ("`code` and `` ` `` and ```", "`code` and `` ` `` and ```"),
    "fence": ("```\nfenced\n```\n~~~\nmore\n~~~", "``` fenced ``` ~~~ more ~~~"),
    "lists": ("- item\n* star\n+ plus\n1. one\n2) two", "- item * star + plus 1. one 2) two"),
    "quote": ("> quoted\n>> nested", "> quoted >> nested"),
    "emphasis": ("**bold** _em_ ~~strike~~ __init__ *x*", "**bold** _em_ ~~strike~~ __init__ *x*"),
    "rules": ("text\n\n---\n***\n___\n- - -", "text --- *** ___ - - -"),
    "kramdown attributes": ('{: onclick="alert(1)"}', '{: onclick="alert(1)"}'),
    "html block": ("<div>\n<b>x</b>\n</div>", "<div> <b>x</b> </div>"),
    "trailing backslash": ("ends with \\", "ends with \\"),
    "indented code": ("line\n\n    indented\n\t\ttabbed", "line indented tabbed"),
    "blank lines": ("first\n\n\nsecond\r\nthird\rfourth", "first second third fourth"),
}
NO_TEXT = {"role_assigned", "triage_submitted", "file_hashed"}  # entry kinds worded without the entry's text
STRUCTURE_FREE = {"p", "br"}  # a person's own paragraphs and line breaks are not structure they may not add
LEGACY = "retro-incident/2"
# From format retro-incident/3 on, Slack's mrkdwn becomes Markdown: the inline formatting a person gave their text in
# Slack (bold, italic, strikethrough, code) is theirs to add, and a reader sees it as Slack showed it; entities stay
# the characters typed (`&#106;` is not a `j` in Slack either). Everything else stays text, as before.
CURRENT_FREE = STRUCTURE_FREE | {"strong", "em", "del", "s", "code"}
CURRENT_VISIBLE: dict[str, str | None] = {
    "entity link": "[x](&#106;avascript:alert(1))",
    # Stray backticks pair up with those of the next value on the same line, as they would in Slack: only the shape
    # and link checks apply to this one.
    "code span": None,
    "fence": "fenced ~~~ more ~~~",
    "emphasis": "**bold** em ~~strike~~ __init__ x",
}


class _Html(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str, str]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += [(tag, name, value or "") for name, value in attrs]
        if tag == "br":
            self.text.append("\n")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _html(markdown: str) -> _Html:
    parsed = _Html()
    parsed.feed(RENDERER.render(markdown))
    parsed.close()
    return parsed


def _words(text: str) -> str:
    return " ".join(text.split())


def _extra_entries(doc: Doc) -> None:
    """A bot message (a collector's summary), a note, an edit and a hashed file, so that every wording path runs."""
    last = doc["entries"][-1]
    extra: list[tuple[str, dict[str, Any], int | None]] = [
        ("bot_message", {}, None), ("note", {}, None), ("message_edited", {}, 6),
        ("file_hashed", {"file": {"id": "F1", "name": "report.csv"}, "message_ts": None, "sha256": "ab" * 32}, None),
    ]
    for n, (kind, data, refers_to) in enumerate(extra, start=1):
        entry: Entry = {**last, "seq": last["seq"] + n, "kind": kind, "data": data, "refers_to": refers_to,
                        "key_event": True, "text": "summary"}
        doc["entries"].append(entry)


def _hostile(base: Doc, payload: str) -> tuple[Doc, list[str]]:
    """The document with `payload` in every field a person (or a Slack profile) controls, each tagged with its field
    name; returns the document and the tagged values a reader must find."""
    doc = copy.deepcopy(base)
    _extra_entries(doc)
    shown: list[str] = []

    def put(field: str, target: Any, key: Any, *, visible: bool = True) -> None:
        value = f"{payload} ‹{field}›"
        target[key] = value
        if visible:
            shown.append(value)

    inc = doc["incident"]
    put("title", inc, "title")
    put("description", inc, "description", visible=False)  # shown only without a triage summary (see below)
    for i in range(len(inc["models"])):
        put(f"model{i}", inc["models"], i)
    for uid in sorted(doc["people"]):
        put(f"name-{uid}", doc["people"], uid)
    labels = doc["labels"]
    put("category", labels, "category")
    put("severity", labels, "severity")
    put("criteria", labels, "severity_criteria")
    for i, role in enumerate(labels["roles"]):
        put(f"role{i}", role, "name")
    for i, label in enumerate(labels["triage"]):
        put(f"question{i}", label, "label")
    assert doc["triage"] is not None
    fields: dict[str, Any] = dict(doc["triage"]["fields"])
    for key in ("what_happened", "containment", "customer_impact", "detection", "affected"):
        put(f"triage-{key}", fields, key)
    doc["triage"]["fields"] = fields  # type: ignore[typeddict-item]
    for e in doc["entries"]:
        put(f"entry{e['seq']}", e, "text", visible=e["kind"] not in NO_TEXT)
        e["key_event"] = e["key_event"] or e["kind"] == "message"
        if e["kind"] == "hypothesis_test_planned":
            put(f"expected{e['seq']}", e["data"], "expected")
        elif e["kind"] == "evidence_added":
            put(f"ref{e['seq']}", e["data"], "ref")
        elif e["kind"] == "file_hashed":
            file_meta: Any = e["data"]["file"]
            put(f"file{e['seq']}", file_meta, "name")
    for ev in doc["evidence"]:
        put(f"evidence{ev['number']}-ref", ev, "ref")
        put(f"evidence{ev['number']}-note", ev, "note")
        for key in sorted(set(ev["options"]) & {"model", "snapshot", "sha"}):
            put(f"evidence{ev['number']}-{key}", ev["options"], key)
    for h in doc["hypotheses"]:
        for key in ("statement", "test_plan", "expected", "criteria", "verdict_note"):
            put(f"h{h['number']}-{key}", h, key, visible=key != "verdict_note" or h["verdict"] != "open")
    for a in doc["actions"]:
        put(f"a{a['number']}-title", a, "title")
        put(f"a{a['number']}-close", a, "close_note", visible=a["status"] != "open")
    return doc, shown


def _renders(doc: Doc) -> list[str]:
    """The draft, and the draft of the same document without a triage (where the description is the summary)."""
    env = template_environment()
    return [render(env, doc), render(env, {**doc, "triage": None})]


async def _base(database_url: str) -> Doc:
    async with world(database_url) as w:
        return await document_of(w, await fraud_incident(w, messages=4))


def _problems(name: str, base: Doc, harmless: list[_Html]) -> list[str]:
    """What is wrong with the drafts of the document carrying one payload (an empty list when nothing is)."""
    raw, visible = PAYLOADS[name]
    current = base["format"] != LEGACY
    free = CURRENT_FREE if current else STRUCTURE_FREE
    shown_as = CURRENT_VISIBLE.get(name, visible) if current else visible
    doc, shown = _hostile(base, raw)
    drafts = _renders(doc)
    found: list[str] = []
    for n, (markdown, before) in enumerate(zip(drafts, harmless, strict=True)):
        html = _html(markdown)
        shape = [t for t in html.tags if t not in free]
        if shape != [t for t in before.tags if t not in free]:
            extra = sorted(set(shape) ^ {t for t in before.tags if t not in free})
            found.append(f"{name}: draft {n} has another shape (tags {extra or 'in another order or number'})")
        links = [(tag, value) for tag, attr, value in html.attrs if attr in ("href", "src")]
        if links or any(attr.startswith("on") for _, attr, _ in html.attrs):
            found.append(f"{name}: draft {n} has a live link or handler: {links[:3]}")
    text = _words("".join(_html(drafts[0]).text)) + " " + _words("".join(_html(drafts[1]).text))
    for value in shown if shown_as is not None else []:  # names and labels are never read as mrkdwn
        want = _words(value.replace(raw, shown_as))
        if want not in text and _words(value.replace(raw, visible)) not in text:
            found.append(f"{name}: {value.rsplit('‹', 1)[1]} is not shown as {want!r}")
    description = {_words(f"{v} ‹description›") for v in (visible, shown_as) if v is not None}
    if shown_as is not None and not any(d in text for d in description):
        found.append(f"{name}: the description is not shown")
    return found


@pytest.mark.parametrize("fmt", ["current", LEGACY])
async def test_every_user_field_with_every_payload_stays_text(database_url: str, fmt: str) -> None:
    base = await _base(database_url)
    base = base if fmt == "current" else {**base, "format": fmt}
    harmless = [_html(md) for md in _renders(_hostile(base, BENIGN)[0])]
    problems = [p for name in PAYLOADS for p in _problems(name, base, harmless)]
    assert problems == []


@pytest.mark.parametrize(("fmt", "sections", "tables"), [("current", 16, 8), (LEGACY, 13, 8)])
async def test_a_harmless_document_keeps_its_shape_and_words(database_url: str, fmt: str, sections: int,
                                                            tables: int) -> None:
    base = await _base(database_url)
    doc, shown = _hostile(base if fmt == "current" else {**base, "format": fmt}, BENIGN)
    html = _html(render(template_environment(), doc))
    assert html.tags.count("h2") == sections and html.tags.count("table") == tables
    assert all(_words(v) in _words("".join(html.text)) for v in shown)


def test_slack_links_stay_links_only_with_safe_schemes() -> None:
    people = {"U1": "# Mallory [x](javascript:alert(1)) | <b>"}
    text = ("<https://ok.example/a(b) c|label [x] | y> <javascript:alert(1)|click> <HTTPS://x.example|upper> "
            "<mailto:a@b.example|mail> <@U1>")
    html = _html(f"| a |\n|---|\n| {escaping.inline(text, people)} |\n")
    hrefs = [value for _, attr, value in html.attrs if attr == "href"]
    assert hrefs == ["https://ok.example/a%28b%29%20c", "mailto:a@b.example"]
    assert [t for t in html.tags if t not in {"table", "thead", "tbody", "tr", "th", "td"}] == ["a", "a"]
    assert _words("".join(html.text)) == ("a label [x] | y <javascript:alert(1)|click> <HTTPS://x.example|upper> "
                                          "mail @# Mallory [x](javascript:alert(1)) | <b>")


@pytest.mark.parametrize(("text", "markdown"), [
    ("merchant_risk pipeline", "merchant_risk pipeline"),  # an underscore between letters never emphasises
    ("__init__ and _x_", "\\_\\_init\\_\\_ and \\_x\\_"),
    ("fraud-scorer@4.2 > 0.8 & ok", "fraud-scorer@4.2 > 0.8 & ok"),
    ("4.2 rollout", "4.2 rollout"),
    ("1. first", "1\\. first"),
    ("-5% precision", "\\-5% precision"),
    ("a\nb", "a<br>b"),
])
def test_ordinary_text_stays_readable(text: str, markdown: str) -> None:
    assert escaping.inline(text) == markdown


@pytest.mark.parametrize("text", ["abc123", "a`b", "``x``", "` lead", "trail `", " both ", "a|b", "line\nbreak"])
def test_a_code_span_holds_any_text(text: str) -> None:
    html = _html(f"| a |\n|---|\n| {escaping.code(text)} |\n")
    assert html.tags == ["table", "thead", "tr", "th", "tbody", "tr", "td", "code"]
    assert "".join(html.text).split("a", 1)[1].strip() == " ".join(text.splitlines()).strip()


ALPHABET = "#>*_-+=|[]()!`~\\<>{}:;./ 1a\n\t"
SLACK_REF = re.compile(r"<[^<>\s][^<>]*>")


def _visible_lines(text: str) -> list[str]:
    return [_words(line) for line in re.split(r"\r\n|\r|\n", text) if line.strip()]


def _reads_back(wrap: Callable[[str], str], text: str, allowed: set[str]) -> list[str]:
    html = _html(wrap(text))
    assert set(html.tags) <= allowed, (text, html.tags)
    return [_words(line) for line in "".join(html.text).split("\n") if line.strip()]


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=ALPHABET, max_size=40))
def test_any_text_in_a_table_cell_is_one_cell_of_text(text: str) -> None:
    assume(not SLACK_REF.search(text))
    html = _html(f"| h |\n|---|\n| {escaping.inline(text)} |\n")
    assert set(html.tags) <= {"table", "thead", "tbody", "tr", "th", "td", "br"}, (text, html.tags)
    assert html.tags.count("td") == 1
    cell = "".join(html.text).split("h", 1)[1]
    assert [_words(x) for x in cell.split("\n") if x.strip()] == _visible_lines(text)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=ALPHABET, max_size=40))
def test_any_text_as_a_paragraph_or_list_item_is_text(text: str) -> None:
    assume(not SLACK_REF.search(text))
    paragraph = _reads_back(lambda t: escaping.block(t, indent=0) + "\n", text, {"p", "br"})
    item = _reads_back(lambda t: "- **Test:** " + escaping.block(t, indent=2) + "\n", text,
                       {"ul", "li", "p", "strong", "br"})
    assert paragraph == _visible_lines(text)
    assert " ".join(item).removeprefix("Test:").strip() == " ".join(_visible_lines(text))
