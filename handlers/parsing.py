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

from bot.collectors.prometheus import METRIC_USAGE
from bot.errors import UsageError
from bot.incident import evidence
from bot.record.timeline import unescape_slack

USAGE: dict[str, str] = {
    "help": "/retro help",
    "start": "/retro start <title> [sev=1..4] [type=<category>] [model=<name>@<version>] [private=yes]",
    "list": "/retro list [page=N]",
    "role": "/retro role <role> @user",
    "roles": "/retro roles",
    "triage": "/retro triage",
    "status": "/retro status <investigating|mitigated|resolved|closed> [reason]",
    "sev": "/retro sev <level> [reason]",
    "note": "/retro note <text>",
    "timeline": "/retro timeline [all] [page=N]",
    "evidence": "/retro evidence [<kind> <ref> [note…] [model=…] [snapshot=…] [from=… to=…] [step=…] "
                "[flag=name:value]]  (metric takes PromQL, in backticks when it has spaces)",
    "hypothesis": "/retro hypothesis <statement>",
    "hypotheses": "/retro hypotheses",
    "test": '/retro test H<n> <plan> expect="<expected outcome>" [criteria="<success criteria>"]',
    "confirm": "/retro confirm H<n> [E<n> …] [note]",
    "refute": "/retro refute H<n> [E<n> …] [note]",
    "inconclusive": "/retro inconclusive H<n> [E<n> …] [note]",
    "action": "/retro action <title> owner=@user due=<YYYY-MM-DD|+3d|+1w> [kind=guardrail|monitor|test|process|fix] "
              "[hypothesis=H<n>]",
    "actions": "/retro actions",
    "done": "/retro done A<n> [note]",
    "reassign": "/retro reassign A<n> @user",
    "due": "/retro due A<n> <YYYY-MM-DD|+3d|+1w>",
    "drop": "/retro drop A<n> <reason>",
    "my": "/retro my",
    "postmortem": "/retro postmortem",
    "stats": "/retro stats [period=90d] [category=<id>]",
    "search": "/retro search <words> [model=<name>] [category=<id>]",
    "similar": "/retro similar",
    "datacheck": "/retro datacheck baseline=<E#|file> current=<E#|file> [key=<column>[,…]] [psi=0.2] [ks=0.15] "
                 "[nulls=0.05]",
}
GENERAL_USAGE = "/retro <" + "|".join(USAGE) + "> …  (try `/retro help`)"
MAX_TEXT = 4000

_MENTION = re.compile(r"^<@([UW][A-Z0-9]{1,20})(?:\|[^>]*)?>$")
_CHANNEL = re.compile(r"^<#([CGD][A-Z0-9]{1,20})(?:\|([^>]*))?>$")
# Slack's markup: a mention, channel, special or link. Any other `<` is a character people typed.
_REFERENCE = re.compile(r"<(?:[@#!]|https?://|mailto:)[^<>]*>")
_OPTION = re.compile(r"^([a-z][a-z_-]{0,30})=(.*)$", re.DOTALL)
_QUOTES = {'"': '"', "'": "'", "\u201c": "\u201d", "\u2018": "\u2019"}


@dataclass(frozen=True)
class Token:
    """One word of the command; `quoted` when any part of it was inside quotes."""

    text: str
    quoted: bool = False


@dataclass(frozen=True)
class Parsed:
    """A parsed `/retro` invocation."""

    name: str
    rest: str
    words: tuple[str, ...] = ()
    options: dict[str, str] = field(default_factory=dict)

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
            raise self.fail(f"Unknown option {', '.join(f'`{k}=`' for k in unknown)} (allowed: {allowed}).")

    def text(self) -> str:
        """The positional words joined back as free text."""
        return " ".join(self.words).strip()

    def after_first_word(self) -> str:
        """The raw text after the first word, verbatim (a reason may hold `=` and quotes)."""
        parts = self.rest.strip().split(None, 1)
        return parts[1].strip() if len(parts) > 1 else ""


def tokenize(text: str) -> list[Token]:
    """Split on whitespace, honouring quotes that open a word or a value and keeping Slack's `<…>` references whole
    (decoded text may hold a typed `<`, which is just a character)."""
    tokens: list[Token] = []
    buf: list[str] = []
    quoted = False
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            if buf or quoted:
                tokens.append(Token("".join(buf), quoted))
            buf, quoted = [], False
        elif ch in _QUOTES and (not buf or buf[-1].endswith("=")) and text.find(_QUOTES[ch], i + 1) >= 0:
            # A quote opens only at the start of a word or right after `key=`; "model's" stays one word.
            close = text.find(_QUOTES[ch], i + 1)
            buf.append(text[i + 1:close])
            quoted = True
            i = close
        elif ch == "<" and (ref := _REFERENCE.match(text, i)):
            buf.append(ref.group(0))
            i = ref.end() - 1
        else:
            buf.append(ch)
        i += 1
    if buf or quoted:
        tokens.append(Token("".join(buf), quoted))
    return tokens


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
        raise UsageError(f"Unknown subcommand `{head[:40]}`.", GENERAL_USAGE)
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
    return Parsed(name, decode(rest.strip()), tuple(words), options)


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
