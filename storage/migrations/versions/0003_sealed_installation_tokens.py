"""installation tokens sealed at rest

Revision ID: 0003
Revises: 0002

Widens the secret columns of slack_sdk's installation tables to text (a Fernet token is about 1.4 times its plain
value plus 76 characters, past String(200)) and encrypts the values stored before, with RETRO_ENCRYPTION_KEY from
the environment. With rows to encrypt and no key, it stops before changing anything.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.oauth_tables import rewrite_secrets
from storage.token_cipher import ENV, TokenCipher, TokenKeyError, is_sealed

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The columns as they were when this revision was written (the code's list may grow later, this one must not).
SECRETS = {
    'slack_bots': ('bot_token', 'bot_refresh_token'),
    'slack_installations': ('bot_token', 'bot_refresh_token', 'user_token', 'user_refresh_token',
                            'incoming_webhook_url'),
}


def _count(conn: sa.engine.Connection, sealed: bool) -> int:
    found = 0
    for name, columns in SECRETS.items():
        tbl = sa.table(name, *(sa.column(c) for c in columns))
        for row in conn.execute(sa.select(tbl)).all():
            found += sum(1 for v in row if v is not None and is_sealed(v) == sealed)
    return found


def _cipher_for(conn: sa.engine.Connection, sealed: bool, doing: str) -> TokenCipher | None:
    cipher = TokenCipher.from_environment()
    waiting = _count(conn, sealed)
    if waiting and cipher is None:
        raise TokenKeyError(f"{waiting} stored Slack secret(s) must be {doing} by this migration: set {ENV} "
                            "(`retro keys new encryption` makes one) and run it again; nothing was changed")
    return cipher


def _retype(kind: sa.types.TypeEngine[str], was: sa.types.TypeEngine[str]) -> None:
    for name, columns in SECRETS.items():
        with op.batch_alter_table(name, schema=None) as batch_op:
            for c in columns:
                batch_op.alter_column(c, type_=kind, existing_type=was, existing_nullable=True)


def upgrade() -> None:
    conn = op.get_bind()
    cipher = _cipher_for(conn, sealed=False, doing="encrypted")
    _retype(sa.Text(), sa.String(length=200))
    if cipher is not None:
        rewrite_secrets(conn, lambda v: None if is_sealed(v) else cipher.seal(v), SECRETS)


def downgrade() -> None:
    conn = op.get_bind()
    cipher = _cipher_for(conn, sealed=True, doing="decrypted")
    if cipher is not None:
        rewrite_secrets(conn, lambda v: cipher.open(v) if is_sealed(v) else None, SECRETS)
    _retype(sa.String(length=200), sa.Text())
