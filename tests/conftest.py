"""Shared fixtures for every test layer.

Database tests take the ``runtime`` fixture; it runs each of them on SQLite and, when
AARSHJUL_TEST_POSTGRES_URL is set (``scripts/test`` sets it), a second time on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from aarshjul.clock import ManualClock
from aarshjul.db.engine import make_engine, make_session_factory
from aarshjul.db.migrate import upgrade
from aarshjul.db.models import Base
from aarshjul.runtime import Runtime
from aarshjul.settings import Settings

# Property tests check what is true of every input, not how fast: on a shared 2-core CI machine a
# per-example deadline only makes them flaky. The number of examples stays bounded.
hypothesis_settings.register_profile(
    "aarshjul", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
hypothesis_settings.load_profile("aarshjul")

POSTGRES_URL = os.environ.get("AARSHJUL_TEST_POSTGRES_URL", "")
BACKENDS = ["sqlite", "postgresql"] if POSTGRES_URL else ["sqlite"]
TEST_SECRET = "test-secret-0123456789-abcdefghijklmnopqrstuvwxyz"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database of this test session's own, so parallel runs on one server never meet."""
    server = make_url(POSTGRES_URL)
    name = f"{server.database}_{os.getpid()}"
    admin = make_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield server.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def postgres_engine(postgres_url: str) -> Iterator[Engine]:
    engine = make_engine(postgres_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def _truncate_all(engine: Engine) -> None:
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[None]:
    """One Prefect test server for the whole session (it takes about 11 s to start)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(dt.datetime(2027, 1, 4, 7, 0, tzinfo=dt.UTC))


@pytest.fixture
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data_dir = tmp_path_factory.mktemp("data")
    # A development environment, as the tests are: the local outbox's pages and mail redirection exist
    # (the service defaults to production; tests of that build their own settings).
    return Settings(data_dir=data_dir, secret_key=TEST_SECRET, base_url="http://testserver", environment="development")


@pytest.fixture
def runtime(backend: str, settings: Settings, clock: ManualClock, request: pytest.FixtureRequest) -> Iterator[Runtime]:
    """A runtime on a fresh, empty database of the given backend, with a manual clock."""
    if backend == "postgresql":
        engine = request.getfixturevalue("postgres_engine")
        _truncate_all(engine)
        settings = settings.model_copy(update={"database_url": request.getfixturevalue("postgres_url")})
        yield Runtime(settings=settings, engine=engine, sessions=make_session_factory(engine), clock=clock)
        return
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)  # the real migrations, every time (about 50 ms on SQLite)
    yield Runtime(settings=settings, engine=engine, sessions=make_session_factory(engine), clock=clock)
    engine.dispose()
