"""Installation tokens at rest: sealed on save, opened on find, migrated from plain rows, rotated to a new key."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from cryptography.fernet import Fernet
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from sqlalchemy import text

from bot.app import cli
from bot.app.wiring import build_deps
from bot.config import Settings
from bot.deps import Deps
from bot.slack.oauth import RetroInstallationStore
from storage.db import create_engine
from storage.migrate import alembic_config, current_revision, head_revision, upgrade_async
from storage.oauth_tables import BOTS, INSTALLATIONS, SECRET_COLUMNS
from storage.token_cipher import ENV, TokenCipher, TokenKeyError, is_sealed
from tests.conftest import PG_SKIP
from tests.databases import PostgresSchema, sqlite_url, wipe

CLIENT_ID = "1111.2222"
SECRETS = {"bot_token": "xoxb-17-acme-bot-token", "bot_refresh_token": "xoxe-1-acme-bot-refresh",
           "user_token": "xoxp-17-acme-user-token", "user_refresh_token": "xoxe-1-acme-user-refresh",
           "incoming_webhook_url": "https://hooks.slack.com/services/T0ACME/B0HOOK/s3cr3t"}


def installation(team: str = "T0ACME", **secrets: str) -> Installation:
    """An install with every kind of secret slack_sdk stores."""
    v = {**SECRETS, **secrets}
    return Installation(app_id="A0RETRO", enterprise_id=None, team_id=team, team_name="Acme", user_id="U0ALICE",
                        bot_id="B0RETRO", bot_user_id="U0RETRO", bot_scopes="commands,chat:write",
                        user_scopes="search:read", incoming_webhook_channel="#alerts",
                        incoming_webhook_channel_id="C0ALERTS", incoming_webhook_configuration_url="https://x.test/",
                        installed_at=datetime(2026, 3, 12, 9, 0, tzinfo=UTC).timestamp(), bot_token=v["bot_token"],
                        bot_refresh_token=v["bot_refresh_token"], user_token=v["user_token"],
                        user_refresh_token=v["user_refresh_token"], incoming_webhook_url=v["incoming_webhook_url"])


async def dump(url: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of the two installation tables, as stored."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return {t: [dict(r) for r in (await conn.execute(text(f"SELECT * FROM {t} ORDER BY id"))).mappings()]
                    for t in (BOTS, INSTALLATIONS)}
    finally:
        await engine.dispose()


def stored_secrets(rows: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Every non-null secret value in a dump."""
    return [row[c] for t, cols in SECRET_COLUMNS.items() for row in rows[t] for c in cols if row[c] is not None]


async def deps_for(url: str, key: str) -> Deps:
    """The process's dependencies on a database, with an encryption key."""
    return build_deps(Settings(database_url=url, retro_encryption_key=key))


async def found(url: str, key: str) -> tuple[Any, Any]:
    """(bot, installation) as Retro's store finds them with `key`."""
    deps = await deps_for(url, key)
    try:
        store = RetroInstallationStore(CLIENT_ID, deps, TokenCipher(key))
        return (await store.async_find_bot(enterprise_id=None, team_id="T0ACME"),
                await store.async_find_installation(enterprise_id=None, team_id="T0ACME", user_id="U0ALICE"))
    finally:
        await deps.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def blank_url(request: pytest.FixtureRequest, tmp_path: Path,
                    postgres_schema: PostgresSchema | None) -> AsyncIterator[str]:
    """A database with no schema yet, on each backend."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path / "old.db")
        return
    if postgres_schema is None:
        pytest.skip(PG_SKIP)
    await wipe(postgres_schema.url)
    yield postgres_schema.url


async def test_a_saved_install_is_sealed_at_rest_and_found_in_the_clear(database_url: str) -> None:
    key = Fernet.generate_key().decode()
    deps = await deps_for(database_url, key)
    try:
        await RetroInstallationStore(CLIENT_ID, deps, TokenCipher(key)).async_save(installation())
    finally:
        await deps.close()
    rows = await dump(database_url)
    assert len(rows[BOTS]) == 1 and len(rows[INSTALLATIONS]) == 1
    raw = repr(rows)
    for secret in SECRETS.values():
        assert secret not in raw
    assert len(stored_secrets(rows)) == 7 and all(is_sealed(v) for v in stored_secrets(rows))
    bot, inst = await found(database_url, key)
    assert bot.bot_token == SECRETS["bot_token"] and bot.bot_refresh_token == SECRETS["bot_refresh_token"]
    assert {k: getattr(inst, k) for k in SECRETS} == SECRETS
    with pytest.raises(TokenKeyError, match=f"opens with no key in {ENV}"):
        await found(database_url, Fernet.generate_key().decode())


async def test_the_migration_seals_rows_the_old_code_wrote_and_changes_nothing_else(
        blank_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)
    await upgrade_async(blank_url, "0002")
    engine = create_engine(blank_url)
    try:  # what the store did before tokens were sealed: slack_sdk's own, on our tables
        old = AsyncSQLAlchemyInstallationStore(CLIENT_ID, engine, bots_table_name=BOTS,
                                               installations_table_name=INSTALLATIONS)
        await old.async_save(installation())
        await old.async_save(installation("T0GLOBEX", bot_token="xoxb-globex", user_token="xoxp-globex"))
    finally:
        await engine.dispose()
    before = await dump(blank_url)

    with pytest.raises(TokenKeyError, match=f"14 stored Slack secret.* set {ENV} .*nothing was changed"):
        await upgrade_async(blank_url)
    assert await current_revision(blank_url) == "0002" and await dump(blank_url) == before

    key = Fernet.generate_key().decode()
    monkeypatch.setenv(ENV, key)
    await upgrade_async(blank_url)
    after = await dump(blank_url)
    cipher = TokenCipher(key)
    for table, columns in SECRET_COLUMNS.items():
        for old_row, new_row in zip(before[table], after[table], strict=True):
            assert {k: v for k, v in new_row.items() if k not in columns} == \
                   {k: v for k, v in old_row.items() if k not in columns}
            for c in columns:
                assert new_row[c] is None if old_row[c] is None else cipher.open(new_row[c]) == old_row[c]
    assert all(is_sealed(v) for v in stored_secrets(after)) and len(stored_secrets(after)) == 14
    bot, inst = await found(blank_url, key)
    assert bot.bot_token == SECRETS["bot_token"] and inst.user_token == SECRETS["user_token"]

    await upgrade_async(blank_url)  # at head: nothing to do, nothing sealed twice
    assert await dump(blank_url) == after
    await asyncio.to_thread(command.downgrade, alembic_config(blank_url), "0002")
    assert await dump(blank_url) == before


async def test_keys_rotate_reseals_every_row_with_the_newest_key(
        database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    deps = await deps_for(database_url, old_key)
    try:
        store = RetroInstallationStore(CLIENT_ID, deps, TokenCipher(old_key))
        await store.async_save(installation())
        await store.async_save(installation("T0GLOBEX"))
    finally:
        await deps.close()
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv(ENV, f"{new_key},{old_key}")
    assert await asyncio.to_thread(cli.main, ["keys", "rotate"]) == 0
    assert "re-encrypted the tokens of 4 row(s) with the newest key" in capsys.readouterr().out
    bot, inst = await found(database_url, new_key)  # the old key is no longer needed
    assert bot.bot_token == SECRETS["bot_token"] and inst.incoming_webhook_url == SECRETS["incoming_webhook_url"]
    with pytest.raises(TokenKeyError):
        await found(database_url, old_key)

    monkeypatch.setenv(ENV, "not-a-key")
    assert await asyncio.to_thread(cli.main, ["keys", "rotate"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"retro: configuration error: {ENV}:") and "not-a-key" not in err and err.count("\n") == 1


async def test_an_upgrade_with_plain_rows_and_no_key_is_one_line(
        blank_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv(ENV, raising=False)
    await upgrade_async(blank_url, "0002")
    engine = create_engine(blank_url)
    try:
        await AsyncSQLAlchemyInstallationStore(CLIENT_ID, engine, bots_table_name=BOTS,
                                               installations_table_name=INSTALLATIONS).async_save(installation())
    finally:
        await engine.dispose()
    monkeypatch.setenv("DATABASE_URL", blank_url)
    assert await asyncio.to_thread(cli.main, ["db", "upgrade"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"set {ENV}" in err and "Traceback" not in err
    assert await current_revision(blank_url) == "0002"
    monkeypatch.setenv(ENV, Fernet.generate_key().decode())
    assert await asyncio.to_thread(cli.main, ["db", "upgrade"]) == 0
    assert await current_revision(blank_url) == head_revision()


def test_serve_refuses_multi_workspace_without_a_key(monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    for name, value in {"SLACK_CLIENT_ID": CLIENT_ID, "SLACK_CLIENT_SECRET": "s", "SLACK_SIGNING_SECRET": "s"}.items():
        monkeypatch.setenv(name, value)
    for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", ENV):
        monkeypatch.delenv(name, raising=False)
    assert cli.main(["serve"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"retro: configuration error: {ENV} is required with SLACK_CLIENT_ID") and \
        err.count("\n") == 1
    good = Fernet.generate_key().decode()
    monkeypatch.setenv(ENV, f"{good},zz-bogus-key-zz")
    assert cli.main(["serve"]) == 2
    err = capsys.readouterr().err
    assert f"{ENV}: Value error, key 2 of 2 is not a Fernet key" in err
    assert good not in err and "zz-bogus-key-zz" not in err
