"""What the REPL finds for a person: channels by prefix, a channel just declared for them, who is who, completions."""

from __future__ import annotations

from collections.abc import Iterable

from .state import Channel, SlackError
from .workspace import Workspace

ROLE_LABELS = {"primary_owner": "primary owner", "owner": "owner", "admin": "admin", "member": "member"}
COMMANDS = ("/retro", "as", "user", "thread", "edit", "react", "pin", "click", "submit", "close", "modal", "home",
            "upload", "snippet", "dm", "channels", "history", "who", "web", "help", "quit")


def _visible_channels(ws: Workspace, user_id: str) -> list[Channel]:
    """Channels a person can see in the sidebar or the channel browser (public ones and their private ones)."""
    return [c for c in ws.channels.values()
            if not c.is_im and not c.is_mpim and (not c.is_private or user_id in c.members)]


def channel_for(ws: Workspace, user_id: str, ref: str) -> Channel:
    """The channel `#name` names for this person: its exact name, else the one channel whose name starts with it.

    Raises LookupError naming the candidates when the prefix fits several, SlackError `channel_not_found` when none.
    """
    name = ref.removeprefix("#")
    seen = _visible_channels(ws, user_id)
    exact = [c for c in seen if c.name == name]
    if exact:
        return exact[0]
    if ref in ws.channels and ws.channels[ref] in seen:
        return ws.channels[ref]
    fits = sorted((c for c in seen if c.name.startswith(name)), key=lambda c: (c.created, c.name))
    if len(fits) == 1:
        return fits[0]
    if fits:
        raise LookupError(f"several channels start with #{name}: " + ", ".join(f"#{c.name}" for c in fits))
    raise SlackError("channel_not_found")


def new_app_channels(ws: Workspace, user_id: str, known: Iterable[str]) -> list[Channel]:
    """Channels the app created, not in `known`, that this person is in (an incident declared with them in it)."""
    before = set(known)
    return [c for c in ws.channels.values()
            if c.id not in before and c.creator == ws.bot_user_id and not c.is_im and user_id in c.members]


def who_lines(ws: Workspace, you: str, channel_id: str) -> list[str]:
    """The workspace's people: name, id, real name, workspace role, and whether they are in the current channel."""
    here = ws.channels.get(channel_id)
    people = sorted(ws.users.values(), key=lambda u: (u.is_bot, u.id != you, u.name))
    width = max(len(u.name) for u in people)
    lines = [f"  {'name'.ljust(width)}  {'id'.ljust(11)} {'role'.ljust(14)} {'real name'.ljust(12)} here"]
    for u in people:
        if u.deleted and not u.is_bot:
            continue
        role = ("app (bot user)" if u.id == ws.bot_user_id else "bot") if u.is_bot else ROLE_LABELS.get(u.role, u.role)
        in_here = "yes" if here is not None and u.id in here.members else ""
        mark = "*" if u.id == you else " "
        lines.append(f"{mark} {u.name.ljust(width)}  {u.id.ljust(11)} {role.ljust(14)} {u.real_name.ljust(12)} "
                     f"{in_here}".rstrip())
    return lines


def completions(ws: Workspace, user_id: str, line: str, word: str) -> list[str]:
    """Words that complete `word` (the last word of `line`): channels after `#`, people after `@` or `as`/`user`,
    the REPL's commands at the start of a line."""
    before = line[: len(line) - len(word)].strip()
    if word.startswith("#"):
        names = sorted(f"#{c.name}" for c in _visible_channels(ws, user_id))
    elif word.startswith("@"):
        names = sorted(f"@{u.name}" for u in ws.users.values() if not u.deleted)
    elif before in ("as", "user"):
        names = sorted(u.name for u in ws.users.values() if not u.is_bot and not u.deleted)
    elif not before:
        names = list(COMMANDS)
    else:
        names = []
    return [n for n in names if n.startswith(word)]
