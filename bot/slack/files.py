"""Files shared in Slack: finding a file id in a reference, and reading a shared file's bytes with the bot token."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.collectors.http import mib
from bot.deps import Deps
from bot.errors import RetroError
from bot.record import chain

MAX_FILE_BYTES = 50 * 1024 * 1024


_FILE_ID = re.compile(r"(?:^|/)(F[A-Z0-9]{6,})(?:/|$)")


def file_id_in(ref: str) -> str | None:
    """The Slack file id in a reference (`F0123ABC` or a files.slack.com / permalink URL), if any."""
    m = _FILE_ID.search(ref.strip())
    return m.group(1) if m else None


def require_shared_in(info: dict[str, Any], channel_id: str) -> None:
    """Refuse a file that was not shared in this channel: the bot can read files of channels the caller cannot."""
    shares = info.get("shares") or {}
    places = {*(info.get("channels") or []), *(info.get("groups") or []), *(info.get("ims") or []),
              *(shares.get("public") or {}), *(shares.get("private") or {})}
    if channel_id not in places:
        raise RetroError(f"File {info.get('id') or ''} was not shared in this channel; share it here first.")


async def read_shared_file(client: AsyncWebClient, file_id: str, *, channel_id: str, cap: int,
                           sink: Callable[[bytes], object], label: str | None = None, timeout: float = 60.0,
                           error: type[RetroError] = RetroError) -> tuple[dict[str, Any], int]:
    """Stream a Slack file shared in `channel_id` into `sink` with the bot token, refused past `cap` bytes; returns
    Slack's file info and the size read. Every failure is an `error` naming the file (or `label`)."""
    what = label or f"file {file_id}"
    try:
        info = (await client.files_info(file=file_id))["file"]
    except SlackApiError as exc:
        raise error(f"Slack could not give {what}: {exc.response.get('error')}.") from None
    require_shared_in(info, channel_id)
    url = info.get("url_private_download") or info.get("url_private")
    if not url:
        raise error(f"Slack gave no download address for {what}.")
    if int(info.get("size") or 0) > cap:
        raise error(f"{what} is {mib(int(info['size']))}, more than the {mib(cap)} limit.")
    size = 0
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as http, http.get(
                url, headers={"Authorization": f"Bearer {client.token}"}, allow_redirects=False) as resp:
            if resp.status != 200:
                raise error(f"Downloading {what} from Slack failed with HTTP {resp.status}.")
            async for chunk in resp.content.iter_chunked(65536):
                size += len(chunk)
                if size > cap:
                    raise error(f"{what} is larger than the {mib(cap)} limit.")
                sink(chunk)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise error(f"Downloading {what} from Slack failed ({type(exc).__name__}).") from None
    return info, size


async def file_digest(client: AsyncWebClient, file_id: str, *, channel_id: str) -> tuple[str, dict[str, object]]:
    """A Slack file shared in `channel_id`: its SHA-256 and metadata (hashed as it streams, never held whole)."""
    digest = hashlib.sha256()
    info, size = await read_shared_file(client, file_id, channel_id=channel_id, cap=MAX_FILE_BYTES, sink=digest.update)
    return digest.hexdigest(), {"id": file_id, "name": info.get("name"), "mimetype": info.get("mimetype"), "size": size}


@dataclass(frozen=True)
class SharedFiles:
    """Files shared by one message in a channel."""

    ids: tuple[str, ...]
    channel: str
    user: str | None
    ts: str | None


async def hash_shared_files(client: AsyncWebClient, deps: Deps, incident_id: int, shared: SharedFiles) -> None:
    """Download files shared in an incident channel and chain their SHA-256 digests (or why it failed)."""
    for fid in shared.ids:
        try:
            digest, meta = await file_digest(client, fid, channel_id=shared.channel)
            data: dict[str, Any] = {"file": meta, "sha256": digest, "message_ts": shared.ts}
        except (RetroError, SlackApiError, OSError) as exc:
            data = {"file": {"id": fid}, "error": str(exc)[:300], "message_ts": shared.ts}
        async with deps.session() as session:
            await chain.append(session, incident_id=incident_id, kind="file_hashed", at=deps.now(),
                               actor=shared.user, slack_ts=shared.ts, data=data)
            await session.commit()
