"""Schema migrations through Alembic, callable from the CLI, the service and the tests."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from aarshjul.db.engine import WRITE

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(engine: Engine) -> None:
    """Bring the database to the newest schema; safe to run on every start."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    # A writer from the start (BEGIN IMMEDIATE on SQLite), as every unit of work.
    with engine.execution_options(**WRITE).begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
