"""slack_sdk's installation and OAuth-state tables, declared on our metadata so Alembic owns them too."""

from __future__ import annotations

from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore
from sqlalchemy import MetaData, Table

INSTALLATIONS = "slack_installations"
BOTS = "slack_bots"
OAUTH_STATES = "slack_oauth_states"


def declare(metadata: MetaData) -> list[Table]:
    """Add the three tables (same shape the stores build for themselves) to `metadata`."""
    return [
        AsyncSQLAlchemyInstallationStore.build_installations_table(metadata, INSTALLATIONS),
        AsyncSQLAlchemyInstallationStore.build_bots_table(metadata, BOTS),
        AsyncSQLAlchemyOAuthStateStore.build_oauth_states_table(metadata, OAUTH_STATES),
    ]
