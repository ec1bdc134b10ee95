"""Schema migrations through Alembic: the release step (``aarshjul db upgrade``) and the check that a
web process makes instead of migrating.

Two upgrades at once (two hosts released together) must not both create the tables: the upgrade
holds a lock for its whole transaction. On PostgreSQL that is a transaction advisory lock; on
SQLite the transaction holds the database's write lock from its first statement (the upgrade
begins IMMEDIATE, as every unit of work). The second upgrade waits, then finds the schema current and does nothing.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from aarshjul.db.engine import WRITE

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
#: The advisory lock every upgrade takes on PostgreSQL (any 64-bit number that nothing else uses).
MIGRATION_LOCK_ID = int.from_bytes(hashlib.sha256(b"aarshjul:migrations").digest()[:8], "big", signed=True)


class SchemaNotCurrent(RuntimeError):
    """The database is behind the code (or ahead of it); ``aarshjul db upgrade`` is the release step."""


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def lock_for_migration(connection: Connection) -> None:
    """Wait until no other upgrade runs; held until the transaction ends."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID})


def upgrade(engine: Engine) -> None:
    """Bring the database to the newest schema; safe to run on every start and from two hosts at once."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    # A writer from the start (BEGIN IMMEDIATE on SQLite), as every unit of work.
    with engine.execution_options(**WRITE).begin() as connection:
        lock_for_migration(connection)
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def check_current(engine: Engine) -> None:
    """Raise ``SchemaNotCurrent`` unless the database is at the code's newest revision. Changes nothing."""
    heads = set(ScriptDirectory.from_config(alembic_config(str(engine.url))).get_heads())
    with engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    if current != heads:
        found = ", ".join(sorted(current)) or "no schema"
        raise SchemaNotCurrent(
            f"the database is at {found}, the code needs {', '.join(sorted(heads))}: "
            "run `aarshjul db upgrade` (the release step) before starting the web processes"
        )
