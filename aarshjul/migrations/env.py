"""Alembic environment: the URL comes from the caller (``aarshjul db upgrade``) or the settings."""

from __future__ import annotations

from typing import Any, Literal, cast

from alembic import context
from sqlalchemy import String

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


def _render_item(type_: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    """A ``TextEnum`` column is plain text in the schema: the generated migration says ``sa.String``, so it
    does not depend on the domain's enums (adding a member is no schema change)."""
    if type_ == "type" and isinstance(obj, TextEnum):
        return f"sa.String(length={cast(String, obj.impl_instance).length})"
    return False


def run_migrations_offline() -> None:
    context.configure(
        url=url, target_metadata=target_metadata, literal_binds=True, render_as_batch=True, render_item=_render_item
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is not None:
        context.configure(
            connection=connectable, target_metadata=target_metadata, render_as_batch=True, render_item=_render_item
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection, target_metadata=target_metadata, render_as_batch=True, render_item=_render_item
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
