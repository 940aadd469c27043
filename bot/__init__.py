"""Retro: a Slack app that turns a live ML incident into a verifiable, reproducible record."""

__version__ = "0.1.0"
