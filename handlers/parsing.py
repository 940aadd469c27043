"""The `/retro` grammar: subcommand, positional words, `key=value` options, escaped mentions and channels.

Every bad input raises a UsageError carrying the usage line; nothing here can raise anything else. The one
place the grammar knows an evidence kind: `metric`, whose PromQL is taken verbatim. The one place command text is
decoded: Slack sends `&`, `<`, `>` as `&amp;` `&lt;` `&gt;`; `parse` gives words, options and `rest` decoded,
with Slack's `<…>` markup (mentions, channels, links) kept as sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.collectors.prometheus import METRIC_USAGE
from bot.errors import UsageError
from bot.hints import closest, did_you_mean
from bot.incident import evidence
from bot.record.timeline import unescape_slack
from bot.timeparse import parse_occurred
from handlers.usage import DATE_HELP as DATE_HELP
from handlers.usage import GENERAL_USAGE as GENERAL_USAGE
from handlers.usage import USAGE as USAGE
from handlers.usage import WHEN_HELP as WHEN_HELP

MAX_TEXT = 4000

_MENTION = re.compile(r"^<@([UW][A-Z0-9]{1,20})(?:\|[^>]*)?>$")
_CHANNEL = re.compile(r"^<#([CGD][A-Z0-9]{1,20})(?:\|([^>]*))?>$")
# Slack's markup: a mention, channel, special or link. Any other `<` is a character people typed.
_REFERENCE = re.compile(r"<(?:[@#!]|https?://|mailto:)[^<>]*>")
_OPTION = re.compile(r"^([a-z][a-z_-]{0,30})=(.*)$", re.DOTALL)
_QUOTES = {'"': '"', "'": "'", "\u201c": "\u201d", "\u2018": "\u2019"}
_QUOTE_CHARS = frozenset("\"'\u201c\u201d\u2018\u2019")
_ESCAPED_QUOTE = re.compile("\\\\([\"'\u201c\u201d\u2018\u2019])")


@dataclass(frozen=True)
class Token:
    """One word of the command; `quoted` when any part of it was inside quotes."""

    text: str
    quoted: bool = False


@dataclass(frozen=True)
class Parsed:
    """A parsed `/retro` invocation; `raw` is the text after the subcommand as it came (`escaped` as Slack sends
    it), from which `without` takes an option out."""

    name: str
    rest: str
    words: tuple[str, ...] = ()
    options: dict[str, str] = field(default_factory=dict)
    raw: str = ""
    escaped: bool = True

    @property
    def usage(self) -> str:
        """The usage line of this subcommand."""
        return USAGE.get(self.name, GENERAL_USAGE)

    def fail(self, problem: str) -> UsageError:
        """A usage error for this subcommand."""
        return UsageError(problem, self.usage)

    def allow_options(self, *keys: str) -> None:
        """Refuse options this subcommand does not take."""
        unknown = sorted(set(self.options) - set(keys))
        if unknown:
            allowed = ", ".join(f"{k}=" for k in keys) or "none"
            hint = did_you_mean(unknown[0], keys, template="`{}=`")
            raise self.fail(f"Unknown option {', '.join(f'`{k}=`' for k in unknown)} (allowed: {allowed}).{hint}")

    def text(self) -> str:
        """The positional words joined back as free text."""
        return " ".join(self.words).strip()

    def after_first_word(self) -> str:
        """The raw text after the first word, verbatim (a reason may hold `=` and quotes)."""
        parts = self.rest.strip().split(None, 1)
        return parts[1].strip() if len(parts) > 1 else ""

    def without(self, key: str) -> Parsed:
        """The command as if the option `key=` had not been typed: free text (`rest`) no longer holds it."""
        if key not in self.options:
            return self
        for tok, start, end in _scan(self.raw):
            m = None if tok.text.startswith("<") else _OPTION.match(tok.text)
            if m and m.group(1).replace("_", "-") == key:
                cut = f"{self.raw[:start].rstrip()} {self.raw[end:].lstrip()}".strip()
                return parse(f"{self.name} {cut}", escaped=self.escaped)
        return self


def _closing(text: str, start: int) -> int:
    """Where the quote opened at `start` closes (-1 if it does not): a backslash-escaped quote (`\\"`) is kept
    inside, and curly quotes nest (“the “v2” model”)."""
    opening, closing = text[start], _QUOTES[text[start]]
    depth, j = 1, start + 1
    while j < len(text):
        if text[j] == "\\" and text[j + 1:j + 2] in _QUOTE_CHARS:
            j += 2
            continue
        if opening != closing and text[j] == opening:
            depth += 1
        elif text[j] == closing:
            depth -= 1
            if depth == 0:
                return j
        j += 1
    return -1


def _scan(text: str) -> list[tuple[Token, int, int]]:
    """The tokens of `text` with where each starts and ends."""
    tokens: list[tuple[Token, int, int]] = []
    buf: list[str] = []
    quoted = False
    begin = 0
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if not buf and not quoted and not ch.isspace():
            begin = i
        if ch.isspace():
            if buf or quoted:
                tokens.append((Token("".join(buf), quoted), begin, i))
            buf, quoted = [], False
        elif ch in _QUOTES and (not buf or buf[-1].endswith("=")) and (close := _closing(text, i)) >= 0:
            # A quote opens only at the start of a word or right after `key=`; "model's" stays one word.
            buf.append(_ESCAPED_QUOTE.sub(r"\1", text[i + 1:close]))
            quoted = True
            i = close
        elif ch == "<" and (ref := _REFERENCE.match(text, i)):
            buf.append(ref.group(0))
            i = ref.end() - 1
        else:
            buf.append(ch)
        i += 1
    if buf or quoted:
        tokens.append((Token("".join(buf), quoted), begin, n))
    return tokens


def tokenize(text: str) -> list[Token]:
    """Split on whitespace, honouring quotes that open a word or a value and keeping Slack's `<…>` references whole
    (decoded text may hold a typed `<`, which is just a character)."""
    return [tok for tok, _, _ in _scan(text)]


def parse(text: str, *, escaped: bool = True) -> Parsed:
    """Parse the text after `/retro` (as Slack sent it, entity-escaped, unless `escaped` is False); an empty text
    is `help`."""
    if len(text) > MAX_TEXT:
        raise UsageError(f"The command is longer than {MAX_TEXT} characters.", GENERAL_USAGE)
    stripped = text.strip()
    if not stripped:
        return Parsed("help", "")
    head, _, rest = stripped.partition(" ")
    decode = unescape_slack if escaped else str
    head = decode(head)
    name = head.lower()
    if name not in USAGE:
        meant = closest(name, USAGE)  # one close subcommand: its usage line; two: the general one
        raise UsageError(f"Unknown subcommand `{head[:40]}`.{did_you_mean(name, USAGE)}",
                         USAGE[meant[0]] if len(meant) == 1 else GENERAL_USAGE)
    words: list[str] = []
    options: dict[str, str] = {}
    for tok in tokenize(rest):
        m = None if tok.text.startswith("<") else _OPTION.match(tok.text)
        if m:
            key = m.group(1).replace("_", "-")
            if key in options:
                raise UsageError(f"Option `{key}=` given twice.", USAGE[name])
            options[key] = decode(m.group(2))
        else:
            words.append(decode(tok.text))
    return Parsed(name, decode(rest.strip()), tuple(words), options, rest, escaped)


def occurred(cmd: Parsed, *, now: datetime, tz: ZoneInfo) -> tuple[Parsed, datetime | None]:
    """`at=`, when what the command records happened (None without it), and the command without the option. An
    `at=` inside backticks is part of a PromQL query, not the option."""
    if "at" not in cmd.options or cmd.raw.count("`") >= 2 and _in_backticks(cmd.raw, "at="):
        return cmd, None
    return cmd.without("at"), parse_occurred(cmd.options["at"], now=now, tz=tz, usage=cmd.usage)


def when(cmd: Parsed, key: str, *, now: datetime, tz: ZoneInfo) -> datetime:
    """The time an option such as `mitigated=` gives (parsed like `at=`)."""
    return parse_occurred(cmd.options[key], now=now, tz=tz, usage=cmd.usage, key=key)


def _in_backticks(text: str, needle: str) -> bool:
    """Whether every `needle` starting a word of `text` lies between a pair of backticks."""
    starts = [m.start() for m in re.finditer(rf"(?:^|(?<=\s)){re.escape(needle)}", text)]
    return bool(starts) and all(text.count("`", 0, at) % 2 == 1 for at in starts)


def user_id(token: str, usage: str) -> str:
    """The user id of an escaped mention `<@U123|bob>`."""
    m = _MENTION.match(token.strip())
    if not m:
        raise UsageError(f"`{token[:60]}` is not a user mention; type @ and pick the person.", usage)
    return m.group(1)


def channel_ref(token: str, usage: str) -> tuple[str, str | None]:
    """The id and name of an escaped channel reference `<#C123|name>`."""
    m = _CHANNEL.match(token.strip())
    if not m:
        raise UsageError(f"`{token[:60]}` is not a channel reference; type # and pick the channel.", usage)
    return m.group(1), m.group(2)


def numbered(token: str, prefix: str, usage: str) -> int:
    """The number of an id like `H2`, `E5` or `A1` (case-insensitive)."""
    m = re.fullmatch(rf"{prefix}(\d{{1,6}})", token.strip(), re.IGNORECASE)
    if not m:
        raise UsageError(f"`{token[:40]}` is not an id like {prefix}1.", usage)
    return int(m.group(1))


_STRAIGHTEN = str.maketrans({"\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'"})


def metric_evidence(cmd: Parsed, *, now: datetime) -> evidence.EvidenceInput | None:
    """`metric` takes PromQL verbatim (in backticks when it has spaces); other kinds use the usual grammar."""
    if not cmd.words or cmd.words[0].lower() != "metric":
        return None
    _, _, after_kind = cmd.rest.strip().partition(" ")
    rest = after_kind.strip()
    if rest.startswith("`"):
        close = rest.find("`", 1)
        if close < 0:
            raise UsageError("The query opens a backtick but never closes it.", METRIC_USAGE)
        query, tail = rest[1:close], rest[close + 1:]
    else:
        query, _, tail = rest.partition(" ")
    if not query.strip():
        raise UsageError("Give the PromQL expression to chart.", METRIC_USAGE)
    extra = parse(f"evidence {tail}", escaped=False)
    return evidence.validate("metric", query.translate(_STRAIGHTEN), extra.text(), extra.options, now=now)


def page_number(cmd: Parsed) -> int:
    """The `page=N` option of a listing (1 without it)."""
    page = cmd.options.get("page", "1")
    if not page.isdigit() or int(page) < 1:
        raise cmd.fail(f"`page=` takes a page number from 1, not `{page[:40]}`.")
    return int(page)
