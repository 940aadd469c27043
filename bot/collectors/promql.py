"""PromQL typed into `/retro evidence metric` without backticks. One word is the whole expression; an expression
with spaces (`rate(x[5m]) > 5`, `sum by (job) (…)`, `up{job="api", env="prod"}`) has no end Retro could tell from
the note after it, so it is refused with the command corrected, never cut into a query and a note."""

from __future__ import annotations

from bot.collectors.prometheus import METRIC_USAGE
from bot.errors import UsageError

_OPEN, _CLOSE = "([{", ")]}"
# Binary operators, and the keywords that join or modify expressions (prometheus.io/docs/prometheus/latest/querying/
# operators/ and basics/): a word ending or starting with one continues the expression.
_OPERATOR_CHARS = "+-*/%^<>=!"
_KEYWORDS = frozenset({"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
                       "offset", "bool", "atan2"})


def _segments(text: str) -> list[tuple[str, int]]:
    """The words of `text` split at spaces outside brackets and quotes, each with the bracket depth after it."""
    words: list[tuple[str, int]] = []
    depth, quote, start = 0, "", None
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote and text[i - 1] != "\\" else quote
        elif ch in "\"'`" and depth > 0:  # PromQL strings sit inside braces or a call; elsewhere a quote is text
            quote = ch
        elif ch in _OPEN:
            depth += 1
        elif ch in _CLOSE:
            depth = max(0, depth - 1)
        if ch.isspace() and not quote and depth == 0:
            if start is not None:
                words.append((text[start:i], depth))
                start = None
        elif start is None:
            start = i
    if start is not None:
        words.append((text[start:], depth))
    return words


_MATCHING = frozenset({"on", "ignoring", "group_left", "group_right"})  # an operand follows their labels
_GROUPING = frozenset({"by", "without"})  # an operand in brackets follows only when they come first


def _keyword(word: str) -> str:
    """The keyword a word is or starts as a call (`on(instance)` → `on`), else ''."""
    head = word.lower().split("(", 1)[0]
    return head if head in _KEYWORDS else ""


def _joins(earlier: str, before: str, after: str, later: str) -> bool:
    """Whether the word `after` still belongs to the expression that `before` ends (`earlier` came before that,
    `later` comes after it)."""
    if before.lower() in _MATCHING | _GROUPING:  # `by (job)`, `on (instance)`: their labels are in brackets
        return after[0] == "("
    if after.lower() in _MATCHING | _GROUPING:
        return later[:1] == "("
    if before[-1] in _OPERATOR_CHARS or before[-1] == "," or before.lower() in _KEYWORDS:
        return True
    if after[0] in _OPERATOR_CHARS or _keyword(after):
        return True
    if "(" in before and _keyword(before) in _MATCHING or before[0] == "(" and earlier.lower() in _MATCHING:
        return True  # `and on(instance) other`, `and on (instance) other`
    return after[0] == "(" and (earlier.lower() in _GROUPING or _keyword(before) in _GROUPING)  # `sum by (job) (…)`


def spaced_expression(rest: str) -> tuple[str, str] | None:
    """For the text after `metric` not in backticks: the expression and the rest when the expression spans spaces
    (as far as brackets, quotes, operators and keywords show), else None."""
    words = _segments(rest.strip())
    if not words or words[0][0].startswith("<") or "://" in words[0][0]:
        return None  # a link (Slack's `<…>` markup or typed), not an expression: the usual grammar takes it
    end, (first, depth) = 1, words[0]
    if depth > 0:  # an unclosed bracket or quote: the expression runs on to the end
        end = len(words)
    def word(n: int) -> str:
        return words[n][0] if 0 <= n < len(words) else ""

    while end < len(words) and _joins(word(end - 2), word(end - 1), word(end), word(end + 1)):
        end += 1
    if end == 1 and not any(c.isspace() for c in first):
        return None
    expression = " ".join(w for w, _ in words[:end])
    return expression, " ".join(w for w, _ in words[end:])


def refuse_unquoted(rest: str) -> None:
    """Refuse `/retro evidence metric <PromQL with spaces>` outside backticks, showing the command with them (`rest`
    is everything after `evidence`, as typed)."""
    kind, _, after = rest.strip().partition(" ")
    if kind.lower() != "metric" or after.lstrip().startswith("`"):
        return
    found = spaced_expression(after)
    if found is None:
        return
    expression, tail = found
    corrected = f"/retro evidence metric `{expression}`" + (f" {tail}" if tail else "")
    raise UsageError("This PromQL expression has spaces, so Retro cannot tell where it ends and the note begins. "
                     f"Wrap it in backticks:\n```{corrected}```", METRIC_USAGE)
