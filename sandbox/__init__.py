"""A faithful local Slack for tests and demos: Web API emulator, human driver, renderer and REPL."""

from .driver import SlackDriver
from .emulator import SlackEmulator
from .render import Rendered, Target, render_message, render_view
from .repl_session import run_repl
from .results import CommandResult
from .state import ApiCall, Delivery, SlackError
from .workspace import Workspace

__all__ = [
    "ApiCall",
    "CommandResult",
    "Delivery",
    "Rendered",
    "SlackDriver",
    "SlackEmulator",
    "SlackError",
    "Target",
    "Workspace",
    "render_message",
    "render_view",
    "run_repl",
]
