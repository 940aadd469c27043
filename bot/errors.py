"""Typed errors carrying the message the user sees."""

from __future__ import annotations


class RetroError(Exception):
    """An error whose text is safe and useful to show the user."""

    def __init__(self, user_message: str) -> None:
        super().__init__(user_message)
        self.user_message = user_message


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
