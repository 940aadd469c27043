"""Slack's mrkdwn as Markdown, for postmortems of format retro-incident/3 and later.

What people typed in Slack keeps the formatting they gave it: `*bold*` becomes `**bold**`, `_italic_` becomes
`*italic*`, `~struck~` becomes `~~struck~~`, `` `code` `` and ```` ```pre``` ```` become code spans, `<url|label>`
becomes `[label](url)` (http, https and mailto only) and `<@U…>` the person's name as the document captured it.
Slack's entities (`&amp;`, `&lt;`, `&gt;`) are decoded. Everything else stays text, escaped as
bot.postmortem.escaping escapes it, except that `<` is written `\\<` and `&` only where it would start an entity
(`\\&copy;`): the Markdown source reads as people typed it, and it still opens no HTML tag, autolink or entity.

Slack reads an emphasis marker only at a word's edge: it opens after the start, a space or punctuation and before a
non-space character, and closes after a non-space character and before the end, a space or punctuation, within one
line (docs.slack.dev/messaging/formatting-message-text, "Visual styles"). `snake_case_names` and `2*3*4` stay text.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from bot.postmortem.escaping import BREAK, Link, Markdown, code, slack_segments

_CODE = re.compile(r"```(.+?)```|`([^`\n]+)`", re.DOTALL)
_REF = re.compile(r"<([^<>\s][^<>]*)>")
# One emphasis span of one marker; the marker is the first group, what it wraps the second.
_SPAN = re.compile(r"(?<![\w*_~\\])([*_~])(?=[^\s*_~])([^\n]*?[^\s\\])\1(?![\w])")
_WRAP = {"*": "**", "_": "*", "~": "~~"}
_SPECIAL = re.compile(r"[\\`*\[\]|~<]|&(?=#?\w+;)|\{(?=:)|(?<![^\W_])_|_(?![^\W_])")
_ORDERED = re.compile(r"\d{1,9}(?=[.)](?:[ \t]|$))")
_LINE_MARK = frozenset("#>+-=")
_ATOM = 0xE000  # atoms (code spans, Slack references) stand in the text as private-use characters while parsing
_URL_SAFE = "!#$%&'*+,-./:;=?@_~"


def _escape(text: str) -> str:
    return _SPECIAL.sub(lambda m: "\\" + m.group(0), _decode(text))


def _decode(text: str) -> str:
    """Slack's three entities as the characters they stand for (text that came in raw; decoded text has none)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&") if "&" in text else text


def _atom_markdown(atom: str, people: dict[str, str]) -> str:
    """A code span or a Slack reference as Markdown, on one line (a display name may hold line breaks)."""
    if not atom.startswith("<"):
        return str(code(_decode(atom)))
    # Usually one segment; text like `<1>1` in a code span reaches here as a reference followed by text: all of it.
    return "".join(f"[{_one_line(_escape(seg.label))}]({quote(seg.url, safe=_URL_SAFE)})" if isinstance(seg, Link)
                   else _one_line(_escape(seg)) for seg in slack_segments(atom, people) if seg != "")


def _one_line(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", BREAK)


class _Parser:
    """Turns one text into Markdown: atoms first, then emphasis over what is left, recursively."""

    def __init__(self, text: str, people: dict[str, str]) -> None:
        self.atoms: list[str] = []
        self.people = people
        text = re.sub("[\ue000-\uf8ff]", "\ufffd", text)  # the private-use range is ours while parsing
        text = _CODE.sub(lambda m: self._keep(m.group(1) if m.group(1) is not None else m.group(2)), text)
        self.text = _REF.sub(lambda m: self._keep(m.group(0)), text)

    def _keep(self, atom: str) -> str:
        self.atoms.append(atom)
        return chr(_ATOM + len(self.atoms) - 1)

    def _plain(self, text: str) -> str:
        out = []
        for piece in re.split("([\ue000-\uf8ff])", text):
            if len(piece) == 1 and _ATOM <= ord(piece) < _ATOM + len(self.atoms):
                out.append(_atom_markdown(self.atoms[ord(piece) - _ATOM], self.people))
            else:
                out.append(_escape(piece))
        return "".join(out)

    def render(self, text: str, depth: int = 0) -> str:
        """A line of the text with its emphasis spans as Markdown."""
        m = _SPAN.search(text) if depth < 3 else None
        if m is None:
            return self._plain(text)
        wrap = _WRAP[m.group(1)]
        inner = self.render(m.group(2), depth + 1)
        return f"{self._plain(text[:m.start()])}{wrap}{inner}{wrap}{self.render(text[m.end():], depth)}"


def _line_start(line: str) -> str:
    line = line.lstrip(" \t")
    if line[:1] in _LINE_MARK:
        return "\\" + line
    m = _ORDERED.match(line)
    return line[:m.end()] + "\\" + line[m.end():] if m else line


_MARKUP = re.compile(r"[*_~`<&\r\n\ue000-\uf8ff]")


def _lines(text: str, people: dict[str, str]) -> list[str]:
    if not _MARKUP.search(text):  # nothing Slack would format, and one line: escaping is all there is to do
        return [_line_start(_escape(text))]
    parser = _Parser(text.replace("\r\n", "\n").replace("\r", "\n"), people)
    return [_line_start(parser.render(line)) for line in parser.text.split("\n")]


def inline(text: str, people: dict[str, str] | None = None) -> Markdown:
    """Slack text on one line of Markdown (a table cell too): line breaks as `<br>`."""
    return Markdown(BREAK.join(_lines(text, people or {})))


def block(text: str, people: dict[str, str] | None = None, indent: int = 2) -> Markdown:
    """Slack text over several lines, each continuation indented by `indent`."""
    return Markdown(("\n" + " " * indent).join(_lines(text, people or {})))
