"""Persistence: SQLModel tables, the async engine and Alembic migrations."""

# Tables declared outside models.py register on SQLModel.metadata with the package, so that Alembic, the engine
# and the tests always see all of them.
import storage.alert_tables
import storage.loop_tables
import storage.name_tables  # noqa: F401
