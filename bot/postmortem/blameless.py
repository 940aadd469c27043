"""The blameless check: find blame phrasing in a drafted postmortem and suggest a reframing."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from bot.catalog import BlamelessRule
from bot.postmortem.escaping import plain

# A template wraps verbatim records (the full chat log) in these markers: what people said is evidence, not prose.
SKIP_START = "<!-- blameless:skip -->"
SKIP_END = "<!-- blameless:end -->"
MAX_SENTENCE = 400
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"“(\[@A-Z0-9])")
_DECORATION = re.compile(r"^\s*(?:[-*+]\s+|\d+[.)]\s+|#{1,6}\s+|>\s*)+")
_EMPHASIS = re.compile(r"(\*\*|__|`)")
_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")  # a CommonMark backslash escape of ASCII punctuation
_CELL_BREAK = re.compile(r"(?<!\\)\|")  # a table cell boundary (an escaped pipe is text)


@dataclass(frozen=True)
class Finding:
    """One blame phrasing found: where, what, why it matters and how it could be said."""

    rule: str
    line: int
    sentence: str
    match: str
    why: str
    suggestion: str
    reframed: str | None = None


def _as_written(text: str) -> str:
    """Markdown text as its author typed it: backslash escapes and `&lt;` undone (the draft escapes user text)."""
    return _ESCAPED.sub(r"\1", text).replace("&lt;", "<")


def _segments(line: str) -> Iterator[str]:
    stripped = line.strip()
    cells = _CELL_BREAK.split(stripped.strip("|")) if stripped.startswith("|") else [stripped]
    for cell in cells:
        cell = _as_written(_EMPHASIS.sub("", _DECORATION.sub("", cell.replace("<br>", " ")))).strip()
        if cell and not set(cell) <= set("-: "):
            yield from (s.strip() for s in _SENTENCE_END.split(cell) if s.strip())


def sentences(markdown: str) -> Iterator[tuple[int, str]]:
    """(line number, sentence) pairs of the prose, skipping code fences and marked verbatim regions."""
    skipping = fenced = False
    for number, line in enumerate(markdown.splitlines(), start=1):
        marker = line.strip()
        if marker == SKIP_START:
            skipping = True
        elif marker == SKIP_END:
            skipping = False
        elif marker.startswith("```"):
            fenced = not fenced
        elif not skipping and not fenced and not marker.startswith("<!--"):
            for sentence in _segments(line):
                yield number, sentence


def _literal(text: str) -> Callable[[re.Match[str]], str]:
    return lambda _m: text


def _clip(text: str) -> str:
    return text if len(text) <= MAX_SENTENCE else text[: MAX_SENTENCE - 1] + "…"


def scan(markdown: str, rules: Sequence[BlamelessRule]) -> list[Finding]:
    """Every (rule, sentence) that matches, in document order; a sentence repeated verbatim is reported once."""
    compiled = [(rule, re.compile(rule.pattern, re.IGNORECASE)) for rule in rules]
    seen: set[tuple[str, str]] = set()
    found: list[Finding] = []
    for number, sentence in sentences(markdown):
        for rule, pattern in compiled:
            m = pattern.search(sentence)
            if m is None or (rule.id, sentence) in seen:
                continue
            seen.add((rule.id, sentence))
            reframed = None if rule.rewrite is None else _clip(pattern.sub(_literal(rule.rewrite), sentence))
            found.append(Finding(rule.id, number, _clip(sentence), m.group(0), rule.why, rule.suggestion, reframed))
    return found


_ITEM = re.compile(r"^(\s*(?:[-*+]|\d{1,9}[.)])\s+)")


def _note(f: Finding) -> str:
    reframed = f" Could read: “{plain(f.reframed)}”" if f.reframed else ""
    return (f"⚠️ **Blameless check** ({plain(f.rule)}): “{plain(f.sentence)}” — {plain(f.why)} "
            f"{plain(f.suggestion)}{reframed}")


def _insert_at(lines: list[str], i: int) -> tuple[int, str]:
    """Where the notes on line `i` go (the end of its table, list item or paragraph) and their prefix."""
    line = lines[i]
    if line.lstrip().startswith("|"):
        j = next((k for k in range(i + 1, len(lines)) if not lines[k].lstrip().startswith("|")), len(lines))
        return j, "\n"
    if m := _ITEM.match(line):
        indent = len(m.group(1))
        j = next((k for k in range(i + 1, len(lines))
                  if not lines[k].strip() or len(lines[k]) - len(lines[k].lstrip()) < indent), len(lines))
        return j, " " * indent
    j = i + 1 if line.lstrip().startswith("#") else next(
        (k for k in range(i + 1, len(lines)) if not lines[k].strip()), len(lines))
    return j, "\n"


def annotate(markdown: str, findings: Sequence[Finding]) -> str:
    """The draft with each finding as a quoted note right after what it flags: after the list item (inside it),
    the table or the paragraph holding the sentence. Lines are found by their sentences, so the notes land where the
    sentences are in whatever template rendered them."""
    if not findings:
        return markdown
    flagged: dict[str, list[Finding]] = {}
    for f in findings:
        flagged.setdefault(f.sentence, []).append(f)
    lines = markdown.split("\n")
    notes: dict[int, tuple[str, list[str]]] = {}
    done: set[tuple[int, str, str]] = set()
    for number, sentence in sentences(markdown):
        for f in flagged.get(_clip(sentence), []):
            where, prefix = _insert_at(lines, number - 1)
            if (where, f.rule, f.sentence) in done:
                continue
            done.add((where, f.rule, f.sentence))
            notes.setdefault(where, (prefix, []))[1].append(_note(f))
    for where in sorted(notes, reverse=True):
        prefix, texts = notes[where]
        if prefix == "\n":  # after a table or paragraph: a quote block of its own
            block = ["", *(f"> {t}" + ("  " if n < len(texts) - 1 else "") for n, t in enumerate(texts))]
            if where < len(lines) and lines[where].strip():
                block.append("")
        else:  # inside the list item, as a quote under it
            block = [f"{prefix}> {t}" + ("  " if n < len(texts) - 1 else "") for n, t in enumerate(texts)]
        lines[where:where] = block
    return "\n".join(lines)
