"""Typed errors carrying the message the user sees."""

from __future__ import annotations

from collections.abc import Callable, Mapping


class RetroError(Exception):
    """An error whose text is safe and useful to show the user.

    The domain names people without Slack markup: the message holds `{field}`s and `people` maps each field to a
    user id. `user_message` shows the ids as they are; the Slack layer renders them as mentions (`render`).
    """

    def __init__(self, user_message: str, *, people: Mapping[str, str] | None = None) -> None:
        self.template = user_message
        self.people = dict(people or {})
        self.user_message = self.render(str)
        super().__init__(self.user_message)

    def render(self, person: Callable[[str], str]) -> str:
        """The message with each person shown by `person(user_id)`."""
        if not self.people:
            return self.template
        return self.template.format_map({field: person(uid) for field, uid in self.people.items()})


class UsageError(RetroError):
    """Malformed input; the message ends with the usage line of the command."""

    def __init__(self, problem: str, usage: str) -> None:
        super().__init__(f"{problem}\nUsage: `{usage}`")
        self.problem = problem
        self.usage = usage


class NotFoundError(RetroError):
    """A referenced incident, evidence, hypothesis or action does not exist."""


class NotAllowedError(RetroError):
    """The caller may not do this."""


class NotInIncidentError(RetroError):
    """A command that needs an incident channel was used elsewhere."""


class ConflictError(RetroError):
    """The request contradicts the current state (e.g. an illegal status transition)."""


class ConfigError(Exception):
    """Invalid or missing configuration; the message is one line naming the variable."""


class CollectorError(RetroError):
    """Evidence could not be collected from an external system."""
