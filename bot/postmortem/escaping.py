"""User text as inert Markdown: Slack markup made readable, then every character Markdown or HTML could act on escaped.

The postmortem is Markdown read on GitHub, GitLab, wikis and static sites (CommonMark, GitHub-flavoured tables and
strikethrough, kramdown attribute lists). User text there must stay text: no raw HTML or autolink (`<` becomes
`&lt;`), no link or image (`[` `]`), no code span (`` ` ``), no emphasis or strikethrough (`*`, `~`, `_` except
between letters or digits, where CommonMark never reads it), no table cell break (`|`), no kramdown attribute list
(`{:`), and, at the start of each line, no indented code (the indentation is dropped) and no heading, quote, list
item, setext underline or thematic break (`#` `>` `-` `+` `=`, `1.` `1)`). A backslash is doubled so that it never
escapes what follows it. Slack's own entities (`&amp;` `&lt;` `&gt;`, in which slash-command and message text
arrive) are kept: Markdown shows them as the characters they stand for and never reads an entity as structure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

BREAK = "<br>"
LINK_SCHEMES = ("http://", "https://", "mailto:")
_SLACK_REF = re.compile(r"<([^<>\s][^<>]*)>")
_SPECIAL = re.compile(r"[\\`*\[\]|~<]|\{(?=:)|(?<![^\W_])_|_(?![^\W_])")
_ORDERED = re.compile(r"\d{1,9}(?=[.)](?:[ \t]|$))")
_LINE_MARK = frozenset("#>+-=")
_URL_SAFE = "!#$%&'*+,-./:;=?@_~"
_TICKS = re.compile(r"`+")


class Markdown(str):
    """Text that already is Markdown (escaped user text, or what a template wrote): output as it is."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Link:
    """A Slack link `<https://…|label>` with a scheme a browser cannot run."""

    url: str
    label: str


def slack_segments(text: str, people: dict[str, str]) -> list[str | Link]:
    """Slack markup split into plain text (mentions and channels by name) and links; other `<…>` stays text."""
    out: list[str | Link] = []
    last = 0
    for m in _SLACK_REF.finditer(text):
        out.append(text[last:m.start()])
        last = m.end()
        target, _, label = m.group(1).partition("|")
        if target.startswith("@"):
            out.append("@" + (people.get(target[1:]) or label.lstrip("@") or target[1:]))
        elif target.startswith("#"):
            out.append("#" + (label or target[1:]))
        elif target.startswith("!"):
            name = target[1:]
            out.append((label or "@group") if name.startswith(("subteam^", "date^")) else "@" + name)
        elif target.startswith(LINK_SCHEMES):
            out.append(Link(target, label) if label else target)
        else:
            out.append(m.group(0))
    out.append(text[last:])
    return out


def _escape_char(m: re.Match[str]) -> str:
    return "&lt;" if m.group(0) == "<" else "\\" + m.group(0)


def escape_text(text: str) -> str:
    """Escape every inline construct; newlines stay (see `inline` and `block` for what becomes of them)."""
    return _SPECIAL.sub(_escape_char, text)


def _lf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def plain(text: str) -> Markdown:
    """Text escaped as it is, on one line (a name, a separator): no Slack markup read, no line-start rule."""
    return Markdown(escape_text(_lf(text)).replace("\n", BREAK))


def _line_start(line: str) -> str:
    """The line without its indentation (four spaces would open a code block) and with the block construct it would
    open at the start of a line defused: heading, quote, list item, setext underline, thematic break."""
    line = line.lstrip(" \t")
    if line[:1] in _LINE_MARK:
        return "\\" + line
    m = _ORDERED.match(line)
    return line[:m.end()] + "\\" + line[m.end():] if m else line


def _url(url: str) -> str:
    return quote(url, safe=_URL_SAFE)


def _escaped(text: str, people: dict[str, str]) -> str:
    """Slack markup converted and escaped; every line ending (display names too) made a line feed."""
    if "<" not in text:
        return escape_text(_lf(text))
    parts = []
    for seg in slack_segments(text, people):
        if isinstance(seg, Link):
            parts.append(f"[{plain(seg.label)}]({_url(seg.url)})")
        else:
            parts.append(escape_text(_lf(seg)))
    return "".join(parts)


def inline(text: str, people: dict[str, str] | None = None) -> Markdown:
    """User text on one line, safe anywhere a line of Markdown goes, table cells included (newlines as `<br>`)."""
    return Markdown(_line_start(_escaped(text, people or {}).replace("\n", BREAK)))


def block(text: str, people: dict[str, str] | None = None, indent: int = 2) -> Markdown:
    """User text over several lines, each continuation indented by `indent` (a list item's or a paragraph's)."""
    lines = _escaped(text, people or {}).split("\n")
    return Markdown(("\n" + " " * indent).join(_line_start(line) for line in lines))


def code(text: str) -> Markdown:
    """Text as one code span, whatever backticks it holds; `|` as `\\|`, which tables need even inside code."""
    flat = " ".join(text.splitlines()).replace("|", "\\|")
    if not flat:
        return Markdown("")
    fence = "`" * (max((len(run) for run in _TICKS.findall(flat)), default=0) + 1)
    pad = " " if flat[0] == "`" or flat[-1] == "`" or (flat[0] == flat[-1] == " " and flat.strip()) else ""
    return Markdown(f"{fence}{pad}{flat}{pad}{fence}")


def slack_to_text(text: str, people: dict[str, str]) -> str:
    """Slack markup as readable text (mentions by name, links as `[label](url)`), `<` kept as `&lt;`; not escaped."""
    parts = [f"[{seg.label}]({seg.url})" if isinstance(seg, Link) else seg for seg in slack_segments(text, people)]
    return "".join(parts).replace("<", "&lt;")
