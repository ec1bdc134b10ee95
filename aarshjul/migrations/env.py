"""Alembic environment: the URL comes from the caller (``aarshjul db upgrade``) or the settings."""

from __future__ import annotations

from typing import Any

from alembic import context

from aarshjul.db.engine import make_engine
from aarshjul.db.models import Base
from aarshjul.db.types import TextEnum

config = context.config


def _url() -> str:
    configured = config.get_main_option("sqlalchemy.url")
    if configured:
        return configured
    from aarshjul.settings import get_settings

    return get_settings().resolved_database_url


url = _url()

target_metadata = Base.metadata


def render_item(kind: str, item: Any, autogen_context: Any) -> str | bool:
    """A ``TextEnum`` column is a plain text column in the database: the migration says so, and
    needs neither the enum nor our type to run."""
    if kind == "type" and isinstance(item, TextEnum):
        return f"sa.String(length={getattr(item.impl, 'length', None)})"
    return False


OPTIONS: dict[str, Any] = {"target_metadata": target_metadata, "render_as_batch": True, "render_item": render_item}


def run_migrations_offline() -> None:
    context.configure(url=url, literal_binds=True, **OPTIONS)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is not None:
        context.configure(connection=connectable, **OPTIONS)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(connection=connection, **OPTIONS)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
