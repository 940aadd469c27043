"""Configuration fails at start with one line naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.catalog import load_catalog
from bot.config import Settings, load_settings
from bot.errors import ConfigError

REQUIRED_CATEGORIES = {"data-drift", "data-quality", "training-serving-skew", "model-regression", "config-error",
                       "upstream-dependency", "infrastructure", "fairness-safety", "adversarial"}


def test_http_mode_needs_signing_secret() -> None:
    s = Settings(slack_bot_token="xoxb-1", slack_signing_secret=None)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="^SLACK_SIGNING_SECRET is required"):
        s.check_for_serve()


def test_socket_mode_needs_xapp_token() -> None:
    s = Settings(slack_bot_token="xoxb-1", slack_app_token="nope")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="SLACK_APP_TOKEN"):
        s.check_for_serve()


def test_bad_bot_token_is_named() -> None:
    s = Settings(slack_bot_token="xoxp-user", slack_signing_secret="s")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="SLACK_BOT_TOKEN"):
        s.check_for_serve()


@pytest.mark.parametrize("token", ["short", "sixteen chars with spaces"])
def test_a_weak_alert_token_is_refused_at_start(token: str) -> None:
    s = Settings(slack_bot_token="xoxb-1", slack_signing_secret="s", retro_alert_token=token)
    with pytest.raises(ConfigError, match="^RETRO_ALERT_TOKEN must be at least 16 characters"):
        s.check_for_serve()
    assert token not in repr(s)
    Settings(slack_bot_token="xoxb-1", slack_signing_secret="s",
             retro_alert_token="0123456789abcdef").check_for_serve()


def test_malformed_variable_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "not-a-port")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert str(err.value).startswith("PORT:") and "\n" not in str(err.value)


def test_secrets_never_print() -> None:
    s = Settings(slack_bot_token="xoxb-very-secret", slack_signing_secret="shh")  # type: ignore[arg-type]
    assert "very-secret" not in repr(s) and "shh" not in str(s)


def test_defaults_fit_ml_incidents() -> None:
    catalog = load_catalog()
    assert {c.id for c in catalog.categories} >= REQUIRED_CATEGORIES
    assert [s.level for s in catalog.severities] == [1, 2, 3, 4]
    assert all(s.criteria for s in catalog.severities)
    assert {"commander", "scribe", "comms", "ml-owner", "data-owner", "ops"} <= {r.id for r in catalog.roles}


def test_team_config_overrides_and_is_validated(tmp_path: Path) -> None:
    good = tmp_path / "retro.yml"
    good.write_text("timezone: Europe/Berlin\nrole_assignment: anyone\n")
    catalog = load_catalog(good)
    assert catalog.timezone == "Europe/Berlin" and catalog.role_assignment == "anyone"
    bad = tmp_path / "bad.yml"
    bad.write_text("timezone: Mars/Olympus\n")
    with pytest.raises(ConfigError, match="RETRO_CONFIG: timezone"):
        load_catalog(bad)


def test_missing_config_file_is_named(tmp_path: Path) -> None:
    s = Settings(slack_bot_token="xoxb-1", slack_signing_secret="s",  # type: ignore[arg-type]
                 retro_config=tmp_path / "absent.yml")
    with pytest.raises(ConfigError, match="RETRO_CONFIG"):
        s.check_for_serve()


def test_the_web_views_public_address_is_https_or_this_machines_own() -> None:
    base = {"slack_bot_token": "xoxb-1", "slack_signing_secret": "s"}
    with pytest.raises(ConfigError, match="^RETRO_PUBLIC_URL must be https://"):
        Settings(**base, retro_public_url="http://retro.example.com").check_for_serve()  # type: ignore[arg-type]
    for fine in ("https://retro.example.com", "http://127.0.0.1:3000", "http://localhost:3000"):
        Settings(**base, retro_public_url=fine).check_for_serve()  # type: ignore[arg-type]
    Settings(**base, retro_public_url="http://retro.example.com", retro_web=False).check_for_serve()  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="RETRO_PUBLIC_URL"):
        load_settings(retro_public_url="ftp://retro.example.com")
    assert Settings(retro_public_url="https://retro.example.com/").web_base == "https://retro.example.com/web"
    assert Settings(retro_public_url="https://retro.example.com", retro_web=False).web_base is None
