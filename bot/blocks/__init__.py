"""The one place that builds Block Kit, from slack_sdk.models objects (which validate Slack's limits)."""

from bot.blocks.card import card_blocks, declared_notice, help_blocks, roles_prompt_blocks
from bot.blocks.kit import Blocks, clip, echo, plain_message, when

__all__ = ["Blocks", "card_blocks", "clip", "declared_notice", "echo", "help_blocks", "plain_message",
           "roles_prompt_blocks", "when"]
