"""Where the bot token may go for a file: Slack's file hosts over https, SLACK_API_URL's host over https, and the
origins RETRO_FILE_HOSTS lists, compared as the HTTP client will connect (scheme, host, port)."""

from __future__ import annotations

from typing import Any

import pytest

from bot.config import Settings, load_settings
from bot.errors import ConfigError, RetroError
from bot.slack.files import download_address


def info(url: str, **extra: Any) -> dict[str, Any]:
    return {"id": "F0ABCDEF1", "url_private": url, "size": 12, "mimetype": "text/csv", **extra}


def settings(**values: str) -> Settings:
    return load_settings(**values)


@pytest.mark.parametrize("url", [
    "https://files.slack.com/files-pri/T0-F0ABCDEF1/scores.csv",
    "https://FILES.slack.com./files-pri/T0-F0ABCDEF1/scores.csv",
    "https://files.slack-gov.com/files-pri/T0-F0ABCDEF1/scores.csv",
    "https://files.slack.com:443/files-pri/T0-F0ABCDEF1/scores.csv",
])
def test_slack_file_hosts_over_https_get_the_token(url: str) -> None:
    address, size = download_address(info(url), settings(), what="file F0ABCDEF1", cap=1024)
    assert size == 12 and address.host is not None and address.host.rstrip(".").lower().startswith("files.slack")


@pytest.mark.parametrize("url", [
    "http://files.slack.com/files-pri/T0-F0ABCDEF1/scores.csv",  # not https
    "https://files.slack.com.evil.example/files-pri/scores.csv",
    "https://files.slack.com@evil.example/files-pri/scores.csv",  # the host is evil.example
    "https://user:pw@files.slack.com/files-pri/scores.csv",
    "https://files.slack.com:8443/files-pri/scores.csv",
    "https://evil.example/?u=https://files.slack.com/",
    "https://127.0.0.1:9/files/F0ABCDEF1/scores.csv",
    "ftp://files.slack.com/scores.csv",
    "//files.slack.com/scores.csv",
])
def test_any_other_address_is_refused_before_a_request(url: str) -> None:
    with pytest.raises(RetroError, match="not a Slack file host|unreadable"):
        download_address(info(url), settings(), what="file F0ABCDEF1", cap=1024)


def test_slack_api_urls_host_is_trusted_over_https_only() -> None:
    gov = settings(slack_api_url="https://slack-gov.com/api/")
    assert download_address(info("https://slack-gov.com/files-pri/x.csv"), gov, what="f", cap=1024)[1] == 12
    sandbox = settings(slack_api_url="http://127.0.0.1:8123/api/")
    with pytest.raises(RetroError, match="over http, which is not a Slack file host"):
        download_address(info("http://127.0.0.1:8123/files/F0ABCDEF1/x.csv"), sandbox, what="f", cap=1024)


def test_retro_file_hosts_adds_exact_origins() -> None:
    local = settings(slack_api_url="http://127.0.0.1:8123/api/", retro_file_hosts="http://127.0.0.1:8123")
    assert download_address(info("http://127.0.0.1:8123/files/F0ABCDEF1/x.csv"), local, what="f", cap=1024)[1] == 12
    for other in ("http://127.0.0.1:8124/files/x.csv", "https://127.0.0.1:8123/files/x.csv"):
        with pytest.raises(RetroError, match="not a Slack file host"):
            download_address(info(other), local, what="f", cap=1024)
    bare = settings(retro_file_hosts="files.example.com, https://files2.example.com:8443")
    assert bare.file_hosts == {("https", "files.example.com", 443), ("https", "files2.example.com", 8443)}


@pytest.mark.parametrize("value", ["ftp://files.example.com", "https://files.example.com/path", "https://u@x",
                                   "https://x:99999", "http://"])
def test_a_malformed_retro_file_hosts_is_one_line_naming_it(value: str) -> None:
    with pytest.raises(ConfigError, match=r"^RETRO_FILE_HOSTS: .*is not a host or an http\(s\)://host\[:port\] origin"):
        load_settings(retro_file_hosts=value)


def test_external_files_and_files_without_a_size_are_not_downloaded() -> None:
    remote = info("https://docs.example.org/d/1/edit", is_external=True, mode="external", size=0)
    with pytest.raises(RetroError, match="external file at docs.example.org: Slack only links to it"):
        download_address(remote, settings(), what="file F0ABCDEF1", cap=1024)
    sizeless = {k: v for k, v in info("https://files.slack.com/files-pri/T0-F0ABCDEF1/x.csv").items() if k != "size"}
    with pytest.raises(RetroError, match="Slack gave no size"):
        download_address(sizeless, settings(), what="file F0ABCDEF1", cap=1024)
