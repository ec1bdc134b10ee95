"""Engines and sessions. Nothing is created at import time; callers build them from settings.

Two kinds of transaction: a session that begins by itself on its first query
(``with runtime.sessions() as session``) reads, and a transaction begun on purpose (``unit_of_work``,
``runtime.sessions.begin()``) writes. On SQLite the difference matters: a reader begins a deferred
transaction (a snapshot of the WAL that never blocks a writer and is never blocked by one), while a
writer begins IMMEDIATE and so holds the single write lock from its first statement to its commit,
which keeps two writers from both reading and then failing to upgrade. On PostgreSQL both are
ordinary READ COMMITTED transactions; rows are locked only where a use case says so.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

#: The execution option a unit of work sets on its connection; the SQLite begin hook reads it.
SQLITE_BEGIN = "aarshjul_sqlite_begin"
WRITE = {SQLITE_BEGIN: "IMMEDIATE"}


def pool_size_for(cpus: int | None = None) -> int:
    """Connections per process, and the web tier's worker threads: a request holds one connection
    for its whole life, so the two are sized together. A few per core keeps both cores busy while
    some threads wait on the database; beyond that, threads only queue for the GIL and the SQLite
    write lock (measured with bench/http_submit.py)."""
    return max(4, 2 * (cpus or os.cpu_count() or 1) + 2)


def make_engine(url: str, **kwargs: Any) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("connect_args", {"timeout": 30, "check_same_thread": False})
        if parsed.database and parsed.database != ":memory:":
            kwargs.setdefault("pool_size", pool_size_for())
            kwargs.setdefault("max_overflow", pool_size_for())
        engine = create_engine(url, **kwargs)
        _configure_sqlite(engine)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() in ("", "psycopg2"):
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", pool_size_for())
    kwargs.setdefault("max_overflow", pool_size_for())
    return create_engine(url, **kwargs)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite's own transaction handling would begin lazily and only before writes; we issue
        # BEGIN ourselves, deferred for reads and IMMEDIATE for units of work (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get(SQLITE_BEGIN, "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")


class AppSession(Session):
    """A session whose explicitly begun transaction is a writer (see the module's docstring)."""

    def begin(self, nested: bool = False) -> SessionTransaction:
        transaction = super().begin(nested=nested)
        if not nested:
            self.connection(execution_options=WRITE)
        return transaction


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, class_=AppSession, expire_on_commit=False)


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction for one use case: commits once at the end, rolls back on any error.

    It starts at once as a writer (BEGIN IMMEDIATE on SQLite), so two use cases never both read
    and then fail to upgrade to writing."""
    session = factory()
    try:
        session.begin()
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def is_postgresql(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"
