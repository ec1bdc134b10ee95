"""Shared fixtures for every test layer.

Database tests take the ``runtime`` fixture; it runs each of them on SQLite and, when
AARSHJUL_TEST_POSTGRES_URL is set (``scripts/test`` sets it), a second time on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from aarshjul.clock import ManualClock
from aarshjul.db.engine import make_engine, make_session_factory
from aarshjul.db.models import Base
from aarshjul.runtime import Runtime
from aarshjul.settings import Settings

POSTGRES_URL = os.environ.get("AARSHJUL_TEST_POSTGRES_URL", "")
BACKENDS = ["sqlite", "postgresql"] if POSTGRES_URL else ["sqlite"]
TEST_SECRET = "test-secret-0123456789-abcdefghijklmnopqrstuvwxyz"


@pytest.fixture(scope="session")
def postgres_engine() -> Iterator[Engine]:
    engine = make_engine(POSTGRES_URL)
    with engine.begin() as connection:
        Base.metadata.drop_all(connection)
        Base.metadata.create_all(connection)
    yield engine
    engine.dispose()


def _truncate_all(engine: Engine) -> None:
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(dt.datetime(2027, 1, 4, 7, 0, tzinfo=dt.UTC))


@pytest.fixture
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data_dir = tmp_path_factory.mktemp("data")
    return Settings(data_dir=data_dir, secret_key=TEST_SECRET, base_url="http://testserver")


@pytest.fixture
def runtime(backend: str, settings: Settings, clock: ManualClock, request: pytest.FixtureRequest) -> Iterator[Runtime]:
    """A runtime on a fresh, empty database of the given backend, with a manual clock."""
    if backend == "postgresql":
        engine = request.getfixturevalue("postgres_engine")
        _truncate_all(engine)
        settings = settings.model_copy(update={"database_url": POSTGRES_URL})
        yield Runtime(settings=settings, engine=engine, sessions=make_session_factory(engine), clock=clock)
        return
    engine = make_engine(settings.resolved_database_url)
    Base.metadata.create_all(engine)
    yield Runtime(settings=settings, engine=engine, sessions=make_session_factory(engine), clock=clock)
    engine.dispose()
