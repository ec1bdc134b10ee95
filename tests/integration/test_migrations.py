"""The Alembic migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from aarshjul.db.engine import make_engine
from aarshjul.db.migrate import upgrade
from aarshjul.db.models import Base
from tests.conftest import POSTGRES_URL


def _assert_matches_models(engine) -> None:  # type: ignore[no-untyped-def]
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == [], f"models and migrations differ (run scripts/regen-initial-migration): {diff}"


def test_upgrade_builds_the_model_schema_on_sqlite(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    upgrade(engine)
    upgrade(engine)  # running it again is a no-op
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    _assert_matches_models(engine)
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"


def test_upgrade_builds_the_model_schema_on_postgresql(request) -> None:  # type: ignore[no-untyped-def]
    if not POSTGRES_URL:
        return  # the SQLite test above covers this machine; scripts/test always sets the URL
    url = request.getfixturevalue("postgres_url")
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS migration_check CASCADE"))
        connection.execute(text("CREATE SCHEMA migration_check"))
    schema_engine = make_engine(url, connect_args={"options": "-csearch_path=migration_check"})
    try:
        upgrade(schema_engine)
        _assert_matches_models(schema_engine)
    finally:
        schema_engine.dispose()
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA migration_check CASCADE"))
        engine.dispose()
