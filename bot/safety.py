"""Neutralising user text the bot echoes so it can never ping anyone."""

from __future__ import annotations

import re
from collections.abc import Mapping

# Slack turns these into notifications: <!channel>, <!here>, <!everyone>, <!subteam^S1|@team>, <@U1>, <@W1>.
_SPECIAL = re.compile(r"<!(channel|here|everyone|group)(\|[^>]*)?>", re.IGNORECASE)
_SUBTEAM = re.compile(r"<!subteam\^([A-Z0-9]+)(?:\|([^>]*))?>", re.IGNORECASE)
_USER = re.compile(r"<@([UW][A-Z0-9]+)(?:\|([^>]*))?>")
# A date token shows its fallback text; any other `<!…` is only defused, never cut: in an echo the next `>` may be
# far away, in text that is not the user's.
_DATE = re.compile(r"<!date\^[^>|\n]*\|([^>\n]*)>")
_BARE = re.compile(r"(?<![\w`])@(channel|here|everyone)\b", re.IGNORECASE)
ZWSP = "\u200b"


def neutralise(text: str, names: Mapping[str, str] | None = None) -> str:
    """Render mentions inert: special pings, user groups and user mentions become plain `@name` text (the mention's
    label, else the display name `names` gives its id, else the id)."""
    out = _SPECIAL.sub(lambda m: f"@{ZWSP}{m.group(1).lower()}", text)
    out = _SUBTEAM.sub(lambda m: f"@{ZWSP}{m.group(2).lstrip('@') if m.group(2) else 'usergroup'}", out)
    out = _USER.sub(lambda m: f"@{m.group(2) or (names or {}).get(m.group(1)) or m.group(1)}", out)
    out = _DATE.sub(lambda m: m.group(1), out)
    out = _BARE.sub(lambda m: f"@{ZWSP}{m.group(1)}", out)
    return out.replace("<!", "<\u200b!").replace("<@", "<\u200b@")


def escape_mrkdwn(text: str, names: Mapping[str, str] | None = None) -> str:
    """Escape the three characters Slack's mrkdwn reserves, after neutralising (mentions named from `names`)."""
    return neutralise(text, names).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
