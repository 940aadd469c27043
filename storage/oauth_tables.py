"""slack_sdk's installation and OAuth-state tables, declared on our metadata so Alembic owns them too.

The columns that hold secrets (tokens, refresh tokens, the incoming-webhook URL, which lets anyone post) store
ciphertext (storage/token_cipher.py), so they are unbounded text instead of slack_sdk's String(200).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore
from sqlalchemy import MetaData, Table, Text, and_, column, select, table, update
from sqlalchemy.engine import Connection
from sqlalchemy.types import TypeEngine

from storage.token_cipher import SealedText, TokenCipher

INSTALLATIONS = "slack_installations"
BOTS = "slack_bots"
OAUTH_STATES = "slack_oauth_states"
SECRET_COLUMNS: dict[str, tuple[str, ...]] = {
    BOTS: ("bot_token", "bot_refresh_token"),
    INSTALLATIONS: ("bot_token", "bot_refresh_token", "user_token", "user_refresh_token", "incoming_webhook_url"),
}


def _secret_type(tbl: Table, kind: TypeEngine[str]) -> Table:
    for name in SECRET_COLUMNS[tbl.name]:
        tbl.c[name].type = kind
    return tbl


def declare(metadata: MetaData) -> list[Table]:
    """Add the three tables (slack_sdk's shapes, secret columns widened to text) to `metadata`."""
    return [
        _secret_type(AsyncSQLAlchemyInstallationStore.build_installations_table(metadata, INSTALLATIONS), Text()),
        _secret_type(AsyncSQLAlchemyInstallationStore.build_bots_table(metadata, BOTS), Text()),
        AsyncSQLAlchemyOAuthStateStore.build_oauth_states_table(metadata, OAUTH_STATES),
    ]


def sealed_tables(cipher: TokenCipher) -> tuple[Table, Table]:
    """(bots, installations) for an installation store: the same tables, their secrets sealed by `cipher`."""
    metadata = MetaData()
    sealed = SealedText(cipher)
    return (_secret_type(AsyncSQLAlchemyInstallationStore.build_bots_table(metadata, BOTS), sealed),
            _secret_type(AsyncSQLAlchemyInstallationStore.build_installations_table(metadata, INSTALLATIONS), sealed))


def rewrite_secrets(conn: Connection, change: Callable[[str], str | None],
                    columns: Mapping[str, tuple[str, ...]] = SECRET_COLUMNS) -> int:
    """Replace every stored secret `s` with `change(s)` (None: leave it); returns how many rows changed.

    Each row is updated only if its secrets are still what was read, so a token a running server saves meanwhile is
    never overwritten with an older one (that row is simply left for the next run).
    """
    changed = 0
    for name, secrets in columns.items():
        tbl = table(name, column("id"), *(column(c) for c in secrets))
        for row in conn.execute(select(tbl)).mappings().all():
            new = {c: change(row[c]) for c in secrets if row[c] is not None}
            new = {c: v for c, v in new.items() if v is not None and v != row[c]}
            if not new:
                continue
            same = [tbl.c[c].is_(None) if row[c] is None else tbl.c[c] == row[c] for c in secrets]
            done = conn.execute(update(tbl).where(and_(tbl.c.id == row["id"], *same)).values(**new))
            changed += done.rowcount
    return changed
