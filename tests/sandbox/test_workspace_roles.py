"""Workspace roles as users.info reports them: one primary owner (also an owner and an admin), admins, members."""

from __future__ import annotations

from slack_sdk.web.async_client import AsyncWebClient

from sandbox import SlackEmulator

FLAGS = ("is_primary_owner", "is_owner", "is_admin")


async def test_the_seeded_people_hold_the_roles_the_readme_lists(client: AsyncWebClient) -> None:
    flags = {}
    for name, uid in (("alice", "U0ALICE"), ("bob", "U0BOB"), ("carol", "U0CAROL"), ("retro", "U0BOT")):
        user = (await client.users_info(user=uid))["user"]
        flags[name] = tuple(user[f] for f in FLAGS)
    assert flags == {"alice": (True, True, True), "bob": (False, False, True), "carol": (False, False, False),
                     "retro": (False, False, False)}


async def test_an_added_owner_is_an_admin_too(emulator: SlackEmulator, client: AsyncWebClient) -> None:
    uid = emulator.workspace.add_user("olga", role="owner")
    user = (await client.users_info(user=uid))["user"]
    assert tuple(user[f] for f in FLAGS) == (False, True, True)
    members = (await client.users_list())["members"]
    assert sum(m["is_primary_owner"] for m in members) == 1  # a workspace has exactly one
