"""The one place that builds Block Kit, from slack_sdk.models objects (which validate Slack's limits)."""

from bot.blocks.base import Blocks, clip, echo, plain_message, when
from bot.blocks.card import card_blocks, declared_notice, help_blocks, roles_prompt_blocks

__all__ = ["Blocks", "card_blocks", "clip", "declared_notice", "echo", "help_blocks", "plain_message",
           "roles_prompt_blocks", "when"]
