"""Rate limiting with Retry-After, and the files_upload_v2 flow end to end."""

from __future__ import annotations

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from sandbox import SlackDriver, SlackEmulator
from tests.sandbox.conftest import TOKEN, SlackClock


async def test_every_nth_call_is_429_with_retry_after_and_not_applied(emulator: SlackEmulator,
                                                                    slack_clock: SlackClock) -> None:
    emulator.ratelimit(3, retry_after=7, methods={"chat.postMessage"})
    url = f"{emulator.api_url}chat.postMessage"
    headers = {"Authorization": f"Bearer {TOKEN}"}
    seen = []
    async with aiohttp.ClientSession() as http:
        for i in range(6):
            slack_clock.advance(1)  # within Slack's own pace of one message a second per channel
            async with http.post(url, json={"channel": "C0GENERAL", "text": f"m{i}"}, headers=headers) as r:
                seen.append((r.status, r.headers.get("Retry-After"), (await r.json())["ok"]))
        async with http.post(f"{emulator.api_url}auth.test", headers=headers) as r:
            assert r.status == 200
    assert seen == [(200, None, True), (200, None, True), (429, "7", False)] * 2
    texts = [m.text for m in emulator.workspace.messages["C0GENERAL"].values()]
    assert texts == ["m0", "m1", "m3", "m4"]
    assert emulator.call_count("chat.postMessage") == 4
    assert emulator.call_count("chat.postMessage", include_ratelimited=True) == 6
    assert emulator.calls_for("chat.postMessage")[2].error == "ratelimited"


async def test_plain_client_sees_ratelimited_error(emulator: SlackEmulator, client: AsyncWebClient) -> None:
    emulator.ratelimit(1)
    with pytest.raises(SlackApiError) as info:
        await client.auth_test()
    assert info.value.response.status_code == 429
    assert info.value.response["error"] == "ratelimited"
    assert info.value.response.headers["Retry-After"] == "1"


async def test_slack_sdk_retry_handler_gets_through(emulator: SlackEmulator, slack_clock: SlackClock) -> None:
    emulator.ratelimit(3, retry_after=0)
    client = AsyncWebClient(token=TOKEN, base_url=emulator.api_url,
                            retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=2)])
    for i in range(3):
        slack_clock.advance(1)  # within Slack's own pace of one message a second per channel
        await client.chat_postMessage(channel="C0GENERAL", text=f"m{i}")
    texts = [m.text for m in emulator.workspace.messages["C0GENERAL"].values()]
    assert texts == ["m0", "m1", "m2"]
    assert emulator.call_count(include_ratelimited=True) == 4 and emulator.call_count() == 3
    emulator.ratelimit(None)
    assert (await client.auth_test())["ok"] is True


async def test_files_upload_v2_end_to_end(emulator: SlackEmulator, client: AsyncWebClient,
                                          driver: SlackDriver) -> None:
    ch = (await client.conversations_create(name="inc-files"))["channel"]["id"]
    root = (await client.chat_postMessage(channel=ch, text="evidence thread"))["ts"]
    result = await client.files_upload_v2(channel=ch, content=b"loss,0.1\nloss,0.9\n", filename="metrics.csv",
                                          title="Metrics", initial_comment="attached metrics", thread_ts=root)
    file_id = result["file"]["id"]
    info = (await client.files_info(file=file_id))["file"]
    assert info["name"] == "metrics.csv" and info["title"] == "Metrics" and info["size"] == 18
    assert info["channels"] == [ch] and info["mimetype"] == "text/csv"
    shared = [m for m in driver.messages(ch) if m.get("files")]
    assert len(shared) == 1
    assert shared[0]["subtype"] == "file_share" and shared[0]["text"] == "attached metrics"
    assert shared[0]["thread_ts"] == root and shared[0]["files"][0]["id"] == file_id
    async with aiohttp.ClientSession() as http:
        async with http.get(info["url_private"], headers={"Authorization": f"Bearer {TOKEN}"}) as r:
            assert r.status == 200 and await r.read() == b"loss,0.1\nloss,0.9\n"
        async with http.get(info["url_private"]) as r:
            # Without the token you end on the sign-in page, not the file.
            assert r.status == 200 and r.content_type == "text/html"
            assert b"loss" not in await r.read()
        async with http.get(info["url_private"], allow_redirects=False) as r:
            assert r.status == 302


async def test_upload_into_channel_without_membership_fails(emulator: SlackEmulator,
                                                            client: AsyncWebClient) -> None:
    outside = emulator.create_channel("elsewhere", members=["alice"])
    with pytest.raises(SlackApiError) as info:
        await client.files_upload_v2(channel=outside, content=b"x", filename="x.txt")
    assert info.value.response["error"] == "not_in_channel"
    with pytest.raises(SlackApiError) as missing:
        await client.files_info(file="F404")
    assert missing.value.response["error"] == "file_not_found"


async def test_user_shared_file_is_downloadable(emulator: SlackEmulator, driver: SlackDriver) -> None:
    file_id = await driver.share_file("alice", "#general", "trace.log", b"OOM at step 12", title="Trace")
    f = emulator.workspace.files[file_id]
    assert f.user == "U0ALICE" and f.shares["C0GENERAL"]
    msg = driver.messages("#general")[-1]
    assert msg["subtype"] == "file_share" and msg["files"][0]["title"] == "Trace"
