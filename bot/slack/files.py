"""Files shared in Slack: finding a file id in a reference, and reading a shared file's bytes with the bot token.

The bot token goes only to Slack's file hosts, over https (plus the origins RETRO_FILE_HOSTS lists): a remote file's
`url_private` may point anywhere. What comes back must be the file: a redirect, a web page (Slack's sign-in page when
the token is not taken) or a size other than files.info's is refused, never hashed.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from yarl import URL

from bot.collectors.http import mib
from bot.config import Origin, Settings
from bot.deps import Deps
from bot.errors import NotFoundError, RetroError
from bot.record import channel_files

MAX_FILE_BYTES = 50 * 1024 * 1024
# Where Slack serves files: the commercial and the GovSlack file hosts.
SLACK_FILE_HOSTS = ("files.slack.com", "files.slack-gov.com")

# An id alone, a permalink (`…/files/U…/F…/name`) or a file URL (`…/files-pri/T…-F…/name`).
_FILE_ID = re.compile(r"(?:^|/|/T[A-Z0-9]+-)(F[A-Z0-9]{6,})(?:/|$)")


def file_id_in(ref: str) -> str | None:
    """The Slack file id in a reference (`F0123ABC`, a permalink or a file URL, Slack's `<…|label>` markup
    included), if any."""
    m = _FILE_ID.search(ref.strip().strip("<>").split("|", 1)[0])
    return m.group(1) if m else None


async def shared_file_id(deps: Deps, incident_id: int, ref: str, *, hint: str) -> str:
    """The file a reference names: its id, its link, or the name of a file shared in the incident's channel; an
    unknown name is refused with the channel's latest files, then `hint`."""
    found = file_id_in(ref)
    if found:
        return found
    async with deps.session() as session:
        files = await channel_files.shared_files(session, incident_id)
    match = channel_files.find(files, ref)
    if match is None:
        raise NotFoundError(f"{channel_files.not_shared(ref, files)} {hint}")
    return match.id


def require_shared_in(info: dict[str, Any], channel_id: str) -> None:
    """Refuse a file that was not shared in this channel: the bot can read files of channels the caller cannot."""
    shares = info.get("shares") or {}
    places = {*(info.get("channels") or []), *(info.get("groups") or []), *(info.get("ims") or []),
              *(shares.get("public") or {}), *(shares.get("private") or {})}
    if channel_id not in places:
        raise RetroError(f"File {info.get('id') or ''} was not shared in this channel; share it here first.")


def token_origins(settings: Settings) -> frozenset[Origin]:
    """Where a download may carry the bot token: Slack's file hosts and SLACK_API_URL's host, over https only, and
    the origins RETRO_FILE_HOSTS lists (the local stack lists its sandbox there)."""
    found = {("https", host, 443) for host in SLACK_FILE_HOSTS}
    api = URL(settings.slack_api_url)
    if api.scheme == "https" and api.host:
        found.add(("https", api.host.rstrip("."), api.port or 443))
    return frozenset(found | settings.file_hosts)


def is_external(info: dict[str, Any]) -> bool:
    """Whether Slack only links to this file (a remote file: Google Drive, an app's files.remote.add)."""
    return info.get("is_external") is True or info.get("mode") == "external"


def external_address(info: dict[str, Any]) -> str:
    """Where a remote file lives (its `external_url`, else its `url_private`, which points there)."""
    return str(info.get("external_url") or info.get("url_private") or "")


def host_of(address: str) -> str:
    """The host of an address, for messages ('no host' when it has none)."""
    try:
        return URL(address).host or "no host"
    except ValueError:
        return "no host"


async def file_info(client: AsyncWebClient, file_id: str, *, channel_id: str, what: str,
                    error: type[RetroError] = RetroError) -> dict[str, Any]:
    """files.info for a file that must have been shared in `channel_id`."""
    try:
        info: dict[str, Any] = (await client.files_info(file=file_id))["file"]
    except SlackApiError as exc:
        raise error(f"Slack could not give {what}: {exc.response.get('error')}.") from None
    require_shared_in(info, channel_id)
    return info


def download_address(info: dict[str, Any], settings: Settings, *, what: str, cap: int,
                     error: type[RetroError] = RetroError) -> tuple[URL, int]:
    """The address to fetch a Slack-hosted file from and the size files.info gives it, once both can be trusted."""
    if is_external(info):
        raise error(f"{what} is an external file at {host_of(external_address(info))}: Slack only links to it, so "
                    "Retro does not download it. Share the file itself in the channel, or add its link as evidence.")
    raw = info.get("url_private_download") or info.get("url_private")
    if not isinstance(raw, str) or not raw:
        raise error(f"Slack gave no download address for {what}.")
    size = info.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise error(f"Slack gave no size for {what}, so a download of it could not be checked.")
    if size > cap:
        raise error(f"{what} is {mib(size)}, more than the {mib(cap)} limit.")
    try:
        url = URL(raw)
        origin = (url.scheme, (url.host or "").rstrip("."), url.port)
    except ValueError:
        raise error(f"Slack gave an unreadable download address for {what}.") from None
    if origin not in token_origins(settings) or url.user is not None or url.password is not None:
        scheme = "" if url.scheme == "https" else f" over {url.scheme or 'no scheme'}"
        raise error(f"Slack gave a download address for {what} on {url.host or 'no host'}{scheme}, which is not a "
                    "Slack file host; Retro did not send its token there.")
    return url, size


async def read_shared_file(client: AsyncWebClient, file_id: str, *, settings: Settings, channel_id: str, cap: int,
                           sink: Callable[[bytes], object], label: str | None = None, timeout: float = 60.0,
                           error: type[RetroError] = RetroError) -> tuple[dict[str, Any], int]:
    """Stream a Slack file shared in `channel_id` into `sink` with the bot token, refused past `cap` bytes; returns
    Slack's file info and the size read. Every failure is an `error` naming the file (or `label`), and `sink` may
    then hold part of a wrong answer: callers keep its bytes only when this returns."""
    what = label or f"file {file_id}"
    info = await file_info(client, file_id, channel_id=channel_id, what=what, error=error)
    url, expected = download_address(info, settings, what=what, cap=cap, error=error)
    return info, await _fetch(url, str(client.token), info, expected=expected, cap=cap, sink=sink, what=what,
                              timeout=timeout, error=error)


async def _fetch(url: URL, token: str, info: dict[str, Any], *, expected: int, cap: int,
                 sink: Callable[[bytes], object], what: str, timeout: float, error: type[RetroError]) -> int:
    size = 0
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as http, http.get(
                url, headers={"Authorization": f"Bearer {token}"}, allow_redirects=False) as resp:
            if 300 <= resp.status < 400:
                # Never followed: the token would go wherever the redirect points.
                where = host_of(resp.headers.get("Location", ""))
                raise error(f"Downloading {what} was redirected (HTTP {resp.status} to {where}); Retro does not "
                            "follow redirects with its token, so the file was not read.")
            if resp.status != 200:
                raise error(f"Downloading {what} from Slack failed with HTTP {resp.status}.")
            if resp.content_type == "text/html" and info.get("mimetype") != "text/html":
                raise error(f"Slack answered with a web page instead of {what} (its sign-in page: the bot token "
                            "was not accepted for this file).")
            async for chunk in resp.content.iter_chunked(65536):
                size += len(chunk)
                if size > cap:
                    raise error(f"{what} is larger than the {mib(cap)} limit.")
                if size > expected:
                    break
                sink(chunk)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise error(f"Downloading {what} from Slack failed ({type(exc).__name__}).") from None
    if size != expected:
        got = f"more than {expected}" if size > expected else str(size)
        raise error(f"The download of {what} was {got} bytes, but Slack lists the file as {expected} bytes; it was "
                    "not the file.")
    return size


async def file_digest(client: AsyncWebClient, file_id: str, *, settings: Settings,
                      channel_id: str) -> tuple[str, dict[str, object]]:
    """A Slack file shared in `channel_id`: its SHA-256 and metadata (hashed as it streams, never held whole)."""
    digest = hashlib.sha256()
    info, size = await read_shared_file(client, file_id, settings=settings, channel_id=channel_id,
                                        cap=MAX_FILE_BYTES, sink=digest.update)
    return digest.hexdigest(), {"id": file_id, "name": info.get("name"), "mimetype": info.get("mimetype"), "size": size}


@dataclass(frozen=True)
class SharedFiles:
    """Files shared by one message in a channel."""

    ids: tuple[str, ...]
    channel: str
    user: str | None
    ts: str | None


async def shared_file_record(client: AsyncWebClient, settings: Settings, file_id: str, *,
                             channel_id: str) -> dict[str, Any]:
    """What the chain keeps of a file shared in an incident channel: its digest and metadata; for an external file,
    the reference alone (never fetched); or why it could not be hashed."""
    what = f"file {file_id}"
    try:
        info = await file_info(client, file_id, channel_id=channel_id, what=what)
        if is_external(info):
            address = external_address(info)
            return {"file": {"id": file_id, "name": info.get("name") or info.get("title"),
                             "external_type": info.get("external_type") or "", "external_url": address},
                    "external": True,
                    "error": f"external file at {host_of(address)}: Slack only links to it, so its reference was "
                             "recorded and it was not downloaded"}
        digest = hashlib.sha256()
        url, expected = download_address(info, settings, what=what, cap=MAX_FILE_BYTES)
        size = await _fetch(url, str(client.token), info, expected=expected, cap=MAX_FILE_BYTES, sink=digest.update,
                            what=what, timeout=60.0, error=RetroError)
    except (RetroError, SlackApiError, OSError) as exc:
        return {"file": {"id": file_id}, "error": str(exc)[:300]}
    return {"file": {"id": file_id, "name": info.get("name"), "mimetype": info.get("mimetype"), "size": size},
            "sha256": digest.hexdigest()}
