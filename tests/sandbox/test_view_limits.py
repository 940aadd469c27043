"""Slack's caps on views (modals and the App Home), select menus and text inputs, each at and one past the cap."""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from sandbox import SlackDriver, SlackEmulator, SlackError


def plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text}


def option(n: int, **extra: Any) -> dict[str, Any]:
    return {"text": plain(f"option {n}"), "value": str(n), **extra}


def select_input(**element: Any) -> dict[str, Any]:
    return {"type": "input", "block_id": "pick", "label": plain("Pick"),
            "element": {"type": "static_select", "action_id": "pick", **element}}


def text_input(**element: Any) -> dict[str, Any]:
    return {"type": "input", "block_id": "words", "label": plain("Words"),
            "element": {"type": "plain_text_input", "action_id": "words", **element}}


def modal(*blocks: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"type": "modal", "title": plain("Limits"), "submit": plain("Save"), "close": plain("Cancel"),
            "blocks": list(blocks) or [{"type": "divider"}], **fields}


async def refused(call: Any) -> list[str]:
    with pytest.raises(SlackApiError) as info:
        await call
    assert info.value.response["error"] == "invalid_arguments"
    return list(info.value.response["response_metadata"]["messages"])


async def open_modal(emulator: SlackEmulator, client: AsyncWebClient, view: dict[str, Any]) -> Any:
    return await client.views_open(trigger_id=emulator.issue_trigger("alice"), view=view)


async def test_a_modal_takes_100_blocks_and_the_home_tab_too(emulator: SlackEmulator, client: AsyncWebClient,
                                                             driver: SlackDriver) -> None:
    dividers = [{"type": "divider"}] * 100
    await open_modal(emulator, client, modal(*dividers))
    assert "/blocks" in (await refused(open_modal(emulator, client, modal(*dividers, {"type": "divider"}))))[0]
    await client.views_publish(user_id="U0ALICE", view={"type": "home", "blocks": dividers})
    home = driver.home_view("alice")
    assert home is not None and len(home["blocks"]) == 100
    await refused(client.views_publish(user_id="U0ALICE", view={"type": "home", "blocks": [*dividers, *dividers]}))
    home = driver.home_view("alice")
    assert home is not None and len(home["blocks"]) == 100  # the refused view did not replace it


@pytest.mark.parametrize(("field", "at_cap", "over"), [
    ("title", plain("t" * 24), plain("t" * 25)),
    ("close", plain("c" * 24), plain("c" * 25)),
    ("submit", plain("s" * 24), plain("s" * 25)),
    ("private_metadata", "m" * 3000, "m" * 3001),
    ("callback_id", "i" * 255, "i" * 256),
    ("external_id", "e" * 255, "e" * 256),
])
async def test_modal_fields_at_their_cap_and_one_past(emulator: SlackEmulator, client: AsyncWebClient, field: str,
                                                      at_cap: Any, over: Any) -> None:
    await open_modal(emulator, client, modal(**{field: at_cap}))
    problems = await refused(open_modal(emulator, client, modal(**{field: over})))
    assert any(f"/view/{field}" in p for p in problems), problems


async def test_a_select_menu_offers_at_most_100_options(emulator: SlackEmulator, client: AsyncWebClient) -> None:
    await open_modal(emulator, client, modal(select_input(options=[option(n) for n in range(100)])))
    problems = await refused(open_modal(emulator, client, modal(select_input(options=[option(n)
                                                                                      for n in range(101)]))))
    assert "/blocks/0/element/options" in problems[0]
    long_label = {"text": plain("x" * 76), "value": "1"}
    assert await refused(open_modal(emulator, client, modal(select_input(options=[long_label]))))
    described = option(1, description=plain("d" * 75))
    await open_modal(emulator, client, modal(select_input(options=[described])))
    problems = await refused(open_modal(emulator, client, modal(select_input(
        options=[option(1, description=plain("d" * 76))]))))
    assert "/options/0/description" in problems[0]


async def test_option_groups_are_checked_and_hold_100_options_in_all(emulator: SlackEmulator,
                                                                     client: AsyncWebClient) -> None:
    def groups(sizes: list[int], label: str = "Group") -> list[dict[str, Any]]:
        start = [sum(sizes[:i]) for i in range(len(sizes))]
        return [{"label": plain(label), "options": [option(start[i] + n) for n in range(size)]}
                for i, size in enumerate(sizes)]

    await open_modal(emulator, client, modal(select_input(option_groups=groups([50, 50]))))
    problems = await refused(open_modal(emulator, client, modal(select_input(option_groups=groups([50, 51])))))
    assert "/blocks/0/element/option_groups" in problems[0]
    assert await refused(open_modal(emulator, client, modal(select_input(option_groups=groups([1], "g" * 76)))))
    assert await refused(open_modal(emulator, client, modal(select_input(option_groups=groups([1]) * 101))))
    both = select_input(options=[option(1)], option_groups=groups([1]))
    assert await refused(open_modal(emulator, client, modal(both)))
    assert await refused(open_modal(emulator, client, modal(select_input())))


@pytest.mark.parametrize("element", [{"max_length": 3001}, {"max_length": 0}, {"min_length": 3001},
                                     {"min_length": -1}, {"min_length": 10, "max_length": 5}])
async def test_text_input_lengths_must_be_within_0_and_3000(emulator: SlackEmulator, client: AsyncWebClient,
                                                            element: dict[str, Any]) -> None:
    await open_modal(emulator, client, modal(text_input(min_length=0, max_length=3000)))
    problems = await refused(open_modal(emulator, client, modal(text_input(**element))))
    assert "/blocks/0/element/" in problems[0]


async def test_the_client_will_not_submit_text_past_max_length(emulator: SlackEmulator, client: AsyncWebClient,
                                                               driver: SlackDriver) -> None:
    bounded = (await open_modal(emulator, client, modal(text_input(max_length=10, min_length=3))))["view"]["id"]
    with pytest.raises(SlackError) as long:
        await driver.submit_view("alice", bounded, {"words": "w" * 11})
    assert long.value.error == "input_too_long" and long.value.extra["fields"] == ["words"]
    with pytest.raises(SlackError) as short:
        await driver.submit_view("alice", bounded, {"words": "ww"})
    assert short.value.error == "input_too_short"
    assert [v["id"] for v in driver.views_open_for("alice")] == [bounded]  # nothing was sent: the modal stays
    await client.views_update(view_id=bounded, view=modal(text_input()))
    with pytest.raises(SlackError) as unbounded:
        await driver.submit_view("alice", bounded, {"words": "w" * 3001})
    assert unbounded.value.error == "input_too_long"
