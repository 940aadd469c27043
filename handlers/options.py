"""Options several subcommands share: a reason given as `reason="…"` or as the words after the first one, a
`key=` that misspells an option the subcommand takes (refused with a hint rather than kept as text), and a data
check's thresholds (`/retro datacheck`, `/retro check … datacheck`)."""

from __future__ import annotations

from bot.catalog import DatacheckConfig
from bot.collectors.comparison import Thresholds
from bot.config import Settings
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


def thresholds(settings: Settings, team: DatacheckConfig, cmd: Parsed) -> Thresholds:
    """Settings' thresholds, overridden by the team configuration, then per command by psi= ks= nulls=."""
    values = {"psi": settings.retro_drift_psi if team.psi is None else team.psi,
              "ks": settings.retro_drift_ks if team.ks is None else team.ks,
              "nulls": settings.retro_drift_null_delta if team.null_delta is None else team.null_delta}
    for k in values:
        if k in cmd.options:
            try:
                values[k] = float(cmd.options[k])
            except ValueError:
                raise cmd.fail(f"`{k}=` takes a number, like {values[k]:g}.") from None
            if not 0 < values[k] <= (10 if k == "psi" else 1):
                raise cmd.fail(f"`{k}={cmd.options[k]}` is out of range.")
    return Thresholds(psi=values["psi"], ks=values["ks"], null_delta=values["nulls"])
