"""The Alembic migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from aarshjul.db.engine import make_engine
from aarshjul.db.migrate import MIGRATION_LOCK_ID, SchemaNotCurrent, check_current, upgrade
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


def _upgrade_in_background(engine) -> tuple[threading.Thread, list[BaseException]]:  # type: ignore[no-untyped-def]
    errors: list[BaseException] = []

    def run() -> None:
        try:
            upgrade(engine)
        except BaseException as exc:  # the test reports it
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, errors


def _holding_lock_then_two_upgrades(engine, hold) -> None:  # type: ignore[no-untyped-def]
    """While ``hold`` keeps the lock, two upgrades wait; once it lets go, both finish and one did the work."""
    with hold():
        first, first_errors = _upgrade_in_background(engine)
        second, second_errors = _upgrade_in_background(engine)
        time.sleep(1.5)
        assert first.is_alive() and second.is_alive()  # both wait for the lock
    first.join(60)
    second.join(60)
    assert not first_errors and not second_errors, first_errors + second_errors
    check_current(engine)
    _assert_matches_models(engine)


def test_upgrades_take_turns_on_sqlite(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")

    @contextmanager
    def hold():  # type: ignore[no-untyped-def]
        with engine.connect() as connection:  # another upgrade (or any writer) holds the write lock
            transaction = connection.begin()
            connection.execute(text("CREATE TABLE held (x INTEGER)"))
            yield
            transaction.rollback()

    _holding_lock_then_two_upgrades(engine, hold)


def test_upgrades_take_turns_on_postgresql(request) -> None:  # type: ignore[no-untyped-def]
    if not POSTGRES_URL:
        return  # scripts/test always sets the URL
    url = request.getfixturevalue("postgres_url")
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS migration_turns CASCADE"))
        connection.execute(text("CREATE SCHEMA migration_turns"))
    # Without the migration lock the two upgrades block each other on the catalogue; the timeout turns
    # that into an error instead of a hung test.
    schema_engine = make_engine(url, connect_args={"options": "-csearch_path=migration_turns -clock_timeout=20000"})

    @contextmanager
    def hold():  # type: ignore[no-untyped-def]
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": MIGRATION_LOCK_ID})
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": MIGRATION_LOCK_ID})

    try:
        _holding_lock_then_two_upgrades(schema_engine, hold)
    finally:
        schema_engine.dispose()
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA migration_turns CASCADE"))
        engine.dispose()


def test_the_check_web_processes_make_changes_nothing(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    with pytest.raises(SchemaNotCurrent, match="aarshjul db upgrade"):
        check_current(engine)
    assert inspect(engine).get_table_names() == []
    upgrade(engine)
    check_current(engine)
