"""The bot scope each Web API method needs, checked for every call before the method runs."""

from __future__ import annotations

from pathlib import Path

import yaml

from .api_common import ApiContext, Params

# Every method the sandbox serves, with the bot scopes its reference page lists under "Required scopes"
# (https://docs.slack.dev/reference/methods/<method>, e.g. https://docs.slack.dev/reference/methods/chat.postMessage).
# A plain tuple: the token needs every scope in it. A family name ("read", "history", "write"): Slack lists one
# scope per conversation kind (channels:*, groups:*, im:*, mpim:*) and the call needs the one of the conversation it
# acts on; how Slack picks among them is undocumented, so the sandbox models the strictest reading reported: the
# conversation's own kind, and every kind asked for in `types`.
# auth.test, chat.getPermalink, views.open/push/update/publish and oauth.v2.access list no scope (their pages say
# "No scopes required"); oauth.v2.access is answered before any token is read.
METHOD_SCOPES: dict[str, tuple[str, ...] | str] = {
    "auth.test": (),
    "bookmarks.add": ("bookmarks:write",),
    "bookmarks.list": ("bookmarks:read",),
    "bookmarks.remove": ("bookmarks:write",),
    "chat.delete": ("chat:write",),
    "chat.getPermalink": (),
    "chat.postEphemeral": ("chat:write",),
    "chat.postMessage": ("chat:write",),
    "chat.update": ("chat:write",),
    "conversations.archive": "write",
    "conversations.create": "write",
    "conversations.history": "history",
    "conversations.info": "read",
    "conversations.invite": "write",
    "conversations.join": ("channels:join",),
    "conversations.list": "read",
    "conversations.members": "read",
    "conversations.open": "write",
    "conversations.replies": "history",
    "conversations.setPurpose": "write",
    "conversations.setTopic": "write",
    "files.completeUploadExternal": ("files:write",),
    "files.getUploadURLExternal": ("files:write",),
    "files.info": ("files:read",),
    "pins.add": ("pins:write",),
    "pins.list": ("pins:read",),
    "pins.remove": ("pins:write",),
    "reactions.add": ("reactions:write",),
    "reactions.get": ("reactions:read",),
    "reactions.remove": ("reactions:write",),
    "users.conversations": "read",
    "users.info": ("users:read",),
    "users.list": ("users:read",),
    "users.lookupByEmail": ("users:read.email",),
    "views.open": (),
    "views.publish": (),
    "views.push": (),
    "views.update": (),
}
# The scope of each conversation kind per family, in the order Slack names them in `needed` when the kind is unknown
# (as reported for conversations.history: "channels:history,groups:history,mpim:history,im:history").
KINDS = ("public_channel", "private_channel", "mpim", "im")
FAMILIES: dict[str, dict[str, str]] = {
    "read": {"public_channel": "channels:read", "private_channel": "groups:read", "mpim": "mpim:read",
             "im": "im:read"},
    "history": {"public_channel": "channels:history", "private_channel": "groups:history",
                "mpim": "mpim:history", "im": "im:history"},
    "write": {"public_channel": "channels:manage", "private_channel": "groups:write", "mpim": "mpim:write",
              "im": "im:write"},
}
MANIFEST = Path(__file__).resolve().parents[1] / "manifest.yml"


def manifest_bot_scopes(path: Path = MANIFEST) -> list[str]:
    """The bot scopes the app's manifest asks for (every scope the sandbox knows when no manifest is shipped)."""
    if not path.is_file():
        return sorted(every_scope())
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [str(s) for s in data["oauth_config"]["scopes"]["bot"]]


def manifest_setting(name: str, path: Path = MANIFEST) -> bool:
    """A flag of the manifest's `settings` (`org_deploy_enabled`, `token_rotation_enabled`); False when absent."""
    if not path.is_file():
        return False
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return bool((data.get("settings") or {}).get(name, False))


def every_scope() -> set[str]:
    """Every scope some served method needs."""
    fixed = {s for need in METHOD_SCOPES.values() if isinstance(need, tuple) for s in need}
    return fixed | {s for family in FAMILIES.values() for s in family.values()}


def _kinds(ctx: ApiContext, method: str, p: Params) -> list[str] | None:
    """The conversation kinds a call acts on, or None when the call names none the sandbox can tell."""
    if method in ("conversations.list", "users.conversations"):
        types = p.csv("types") or ["public_channel"]
        return [t for t in types if t in KINDS] or None
    if method == "conversations.create":
        return ["private_channel" if p.flag("is_private") else "public_channel"]
    channel = ctx.ws.channels.get(p.text("channel") or "")
    if channel is not None:
        if channel.is_im:
            return ["im"]
        if channel.is_mpim:
            return ["mpim"]
        return ["private_channel" if channel.is_private else "public_channel"]
    if method == "conversations.open" and p.csv("users"):
        return ["im" if len(p.csv("users")) == 1 else "mpim"]
    return None


def check(ctx: ApiContext, method: str, p: Params) -> None:
    """Answer `missing_scope` (with `needed` and `provided`) unless the caller's token grants this call."""
    need = METHOD_SCOPES[method]
    if isinstance(need, tuple):
        ctx.require_scopes(need)
        return
    family = FAMILIES[need]
    kinds = _kinds(ctx, method, p)
    if kinds:
        ctx.require_scopes(family[k] for k in kinds)
    else:
        ctx.require_any_scope(family[k] for k in KINDS)
