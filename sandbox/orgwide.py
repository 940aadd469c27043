"""Org-wide installs on Enterprise Grid: one bot token for an organization, acting in the workspaces it was added to.

An org admin installs the app for the whole organization (the app's manifest sets `org_deploy_enabled`); the app is
in no workspace yet until the admin adds it to some (https://api.slack-gov.com/enterprise/org-wide-apps, "An
organization-wide app isn't automatically added to every workspace"). The token's calls act in the workspace their
arguments name: an explicit `team_id`, else the workspace holding the channel, user, trigger, view or file they name.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .api_common import Params
from .state import JSON, SlackError
from .workspace import Workspace

# Methods whose reference page lists `team_id` as "required if org token is used" (e.g.
# https://docs.slack.dev/reference/methods/conversations.create, conversations.list, users.list, users.conversations;
# https://api.slack-gov.com/enterprise/apps/changes-apis lists such methods). Without it they answer
# `missing_argument`; a workspace the org token was not added to answers `team_access_not_granted` (errors these
# pages list).
NEEDS_TEAM = frozenset({"conversations.create", "conversations.list", "users.list", "users.conversations"})
_BY_CHANNEL = ("channel", "channel_id", "channels")
_BY_USER = ("user", "user_id", "users")
T = TypeVar("T")


@dataclass
class Org:
    """An Enterprise Grid organization the app was installed into org-wide."""

    enterprise_id: str
    name: str
    home: Workspace  # the organization itself: where the token acts when a call names no workspace
    teams: dict[str, Workspace] = field(default_factory=dict)  # workspaces the org admin added the app to


def org_home(enterprise_id: str, name: str, *, app_id: str, tag: str, clock: Any) -> Workspace:
    """The organization as a workspace-shaped context: the org-wide bot user and nothing else."""
    # The org-wide bot user's id starts with W like other org-level users (the `bot_user_id` "W0XXXX" of the sample
    # oauth.v2.access answer in https://api.slack.com/enterprise/apps/reference).
    short = enterprise_id.removeprefix("E")
    home = Workspace(team_id=enterprise_id, domain=enterprise_id.lower(), team_name=name, app_id=app_id, tag=tag,
                     bot_user_id=f"W{short}BOT", bot_id=f"B{short}BOT", humans=(), with_bot=True, clock=clock)
    home.channels.clear()  # no #general: an organization has no channels of its own here
    home.messages.clear()
    home.enterprise_id, home.enterprise_name, home.org_level = enterprise_id, name, True
    home.installed = False
    return home


def add_to(org: Org, ws: Workspace) -> None:
    """The org admin adds the org-wide app to one workspace of the organization: the org's bot user joins it."""
    if ws.enterprise_id != org.enterprise_id:
        raise ValueError(f"{ws.team_id} is not a workspace of {org.enterprise_id}")
    if ws.installed or ws.bot_user_id in ws.users:
        raise ValueError(f"{ws.team_id} already has the app installed on its own")
    ws.bot_user_id, ws.bot_id = org.home.bot_user_id, org.home.bot_id
    ws.org_install = True
    ws.install_bot()
    org.teams[ws.team_id] = ws


def remove_all(org: Org) -> list[Workspace]:
    """The org-wide install is gone: its bot user leaves every workspace it was added to."""
    gone = list(org.teams.values())
    for ws in gone:
        ws.uninstall_bot()
        ws.org_install = False
    org.teams.clear()
    org.home.installed = False
    return gone


def _first(values: Iterable[T]) -> T | None:
    return next(iter(values), None)


def _refs(p: Params, names: Iterable[str]) -> list[str]:
    return [ref for name in names for ref in p.csv(name)[:1]]


def _file_ids(p: Params) -> list[str]:
    ids = [ref for name in ("file", "file_id") for ref in p.csv(name)[:1]]
    try:
        items = p.structured("files")
    except SlackError:
        items = None
    if isinstance(items, list):
        ids += [str(i.get("id")) for i in items if isinstance(i, dict)]
    return ids


def _holding(org: Org, p: Params) -> Workspace | None:
    """The added workspace that holds what the call names (channels and users first, then triggers, views, files)."""
    teams = list(org.teams.values())
    for ref in _refs(p, _BY_CHANNEL):
        found = _first(ws for ws in teams if ref in ws.channels or ref in ws.users)
        if found is not None:
            return found
    for ref in _refs(p, _BY_USER):
        if (found := _first(ws for ws in teams if ref in ws.users)) is not None:
            return found
    trigger, view, external = p.text("trigger_id"), p.text("view_id"), p.text("external_id")
    for ws in teams:
        if (trigger and trigger in ws.triggers) or (view and view in ws.views) or \
                (external and any(v.external_id == external for v in ws.views.values())):
            return ws
    files = _file_ids(p)
    if (found := _first(ws for ws in teams for f in files if f in ws.files)) is not None:
        return found
    email = (p.text("email") or "").lower()
    return _first(ws for ws in teams for u in ws.users.values() if email and (u.email or "").lower() == email)


def route(org: Org, method: str, params: JSON) -> Workspace:
    """The workspace one call of an org-wide token acts in (the organization itself when it names none)."""
    p = Params(params)
    team = p.text("team_id")
    if team:
        ws = org.teams.get(team)
        if ws is None:
            raise SlackError("team_access_not_granted")
    elif method in NEEDS_TEAM:
        raise SlackError("missing_argument")
    else:
        ws = _holding(org, p) or org.home
    if method == "files.completeUploadExternal" and ws is not org.home:
        # A file uploaded with the org token before any workspace was named waits at the org level; sharing it
        # into a channel brings it into that channel's workspace (the sandbox's model: Slack does not say).
        for file_id in _file_ids(p):
            if file_id in org.home.files:
                ws.files[file_id] = org.home.files.pop(file_id)
    return ws
