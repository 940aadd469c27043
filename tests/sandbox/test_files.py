"""Files as Slack serves them: remote files that only link elsewhere, and what a file URL answers to each token."""

from __future__ import annotations

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient

from sandbox import SlackDriver, SlackEmulator
from tests.sandbox.conftest import TOKEN

OUTSIDE = "https://docs.example.org/d/1e8Ltkv/edit"


async def test_a_remote_file_is_only_a_link_to_another_host(emulator: SlackEmulator, client: AsyncWebClient,
                                                           driver: SlackDriver) -> None:
    file_id = await driver.share_external_file("alice", "#general", "Q3 feature audit", OUTSIDE)
    info = (await client.files_info(file=file_id))["file"]
    assert info["is_external"] is True and info["mode"] == "external" and info["external_type"] == "gdrive"
    assert info["url_private"] == OUTSIDE and info["external_url"] == OUTSIDE
    assert "url_private_download" not in info and info["size"] == 0
    assert info["channels"] == ["C0GENERAL"]
    shared = driver.messages("#general")[-1]
    assert shared["subtype"] == "file_share" and shared["files"][0]["url_private"] == OUTSIDE
    # Slack hosts none of its bytes: its own file address does not serve it, even with the token.
    async with aiohttp.ClientSession() as http, http.get(
            f"{emulator.base_url}/files/{file_id}/Q3 feature audit", headers={"Authorization": f"Bearer {TOKEN}"}) as r:
        assert r.status == 404


async def test_a_file_url_answers_each_kind_of_token(emulator: SlackEmulator, client: AsyncWebClient,
                                                     driver: SlackDriver) -> None:
    file_id = await driver.share_file("alice", "#general", "scores.csv", b"id,score\n1,0.9\n")
    info = (await client.files_info(file=file_id))["file"]
    emulator.add_workspace("T0OTHER", name="Other", domain="other")
    foreign = emulator.bot_token_for("T0OTHER")
    async with aiohttp.ClientSession() as http:
        async with http.get(info["url_private_download"], headers={"Authorization": f"Bearer {TOKEN}"}) as r:
            body = await r.read()
            assert r.status == 200 and body == b"id,score\n1,0.9\n" and len(body) == info["size"]
        async with http.get(info["url_private"], allow_redirects=False) as r:
            assert r.status == 302 and r.headers["Location"].startswith("/signin")  # no token: sent to sign in
        for token in ("xoxb-not-a-token", foreign):  # a token Slack does not take for this file: 200 and a web page
            async with http.get(info["url_private"], headers={"Authorization": f"Bearer {token}"},
                                allow_redirects=False) as r:
                page = await r.read()
                assert r.status == 200 and r.content_type == "text/html"
                assert page.startswith(b"<!DOCTYPE html>") and b"score" not in page


async def test_downloads_redirected_to_a_cdn_host(emulator: SlackEmulator, client: AsyncWebClient,
                                                  driver: SlackDriver) -> None:
    file_id = await driver.share_file("alice", "#general", "scores.csv", b"id,score\n1,0.9\n")
    url = (await client.files_info(file=file_id))["file"]["url_private"]
    emulator.hosted.cdn_redirect = True
    async with aiohttp.ClientSession() as http:
        async with http.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, allow_redirects=False) as r:
            assert r.status == 302
            location = r.headers["Location"]
        assert location.startswith(f"/cdn/{file_id}/scores.csv?sig=")
        async with http.get(emulator.base_url + location) as r:  # pre-signed: no token needed
            assert r.status == 200 and await r.read() == b"id,score\n1,0.9\n"
        async with http.get(emulator.base_url + location.split("?")[0] + "?sig=forged") as r:
            assert r.status == 403
        async with http.get(url, allow_redirects=False) as r:  # no token: still the sign-in redirect
            assert r.headers["Location"].startswith("/signin")


async def test_a_file_host_that_refuses_the_token_answers_its_sign_in_page(emulator: SlackEmulator,
                                                                          client: AsyncWebClient,
                                                                          driver: SlackDriver) -> None:
    file_id = await driver.share_file("alice", "#general", "scores.csv", b"id,score\n1,0.9\n")
    url = (await client.files_info(file=file_id))["file"]["url_private_download"]
    emulator.hosted.refuse_tokens = True
    async with aiohttp.ClientSession() as http, http.get(url, headers={"Authorization": f"Bearer {TOKEN}"},
                                                         allow_redirects=False) as r:
        assert r.status == 200 and r.content_type == "text/html" and b"score" not in await r.read()
    assert (await client.files_info(file=file_id))["ok"] is True  # the Web API still takes the same token
