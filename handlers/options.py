"""Options several subcommands share: a reason given as `reason="…"` or as the words after the first one, and a
`key=` that misspells an option the subcommand takes (refused with a hint rather than kept as text)."""

from __future__ import annotations

from bot.hints import closest
from handlers.parsing import Parsed


def refuse_near_misses(cmd: Parsed, *keys: str) -> None:
    """Refuse an option close to one of `keys` but not it (`reson=` for `reason=`, `ta=` for `at=`): free text
    may hold `x=y`, but not a typo that would silently become part of it."""
    for key in cmd.options:
        if key not in keys and (meant := closest(key, keys)):
            raise cmd.fail(f"Unknown option `{key}=`. Did you mean `{meant[0]}=`?")


def reason_of(cmd: Parsed) -> tuple[Parsed, str]:
    """The reason of `/retro status|sev <value> …`: `reason="…"` or the text after the value (not both), and the
    command without the option."""
    refuse_near_misses(cmd, "reason", "at")
    if "reason" not in cmd.options:
        return cmd, cmd.after_first_word()
    rest = cmd.without("reason")
    if rest.after_first_word():
        raise cmd.fail(f"Give the reason once: `reason=\"…\"` or the words after `{cmd.words[0] if cmd.words else ''}`"
                       ", not both.")
    return rest, cmd.options["reason"].strip()
