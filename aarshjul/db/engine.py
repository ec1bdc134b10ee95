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
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

#: How long a writer waits for SQLite's write lock before giving up.
BUSY_SECONDS = 30
_HOLDS_WRITER = "aarshjul_holds_writer"
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
        kwargs.setdefault("connect_args", {"timeout": BUSY_SECONDS, "check_same_thread": False})
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
        cursor.execute(f"PRAGMA busy_timeout={BUSY_SECONDS * 1000}")
        cursor.close()

    # SQLite lets one transaction write at a time, and one waiting for the lock polls with sleeps that
    # grow to 100 ms: under many concurrent submissions the slowest waited seconds. Writers of this
    # process queue on a lock here instead and start the moment the writer before them commits;
    # other processes (the Prefect runner) still meet SQLite's own busy wait.
    writer = threading.RLock()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get(SQLITE_BEGIN, "DEFERRED")
        if mode != "IMMEDIATE":
            connection.exec_driver_sql(f"BEGIN {mode}")
            return
        if not writer.acquire(timeout=BUSY_SECONDS):
            raise OperationalError("BEGIN IMMEDIATE", None, TimeoutError("database is locked"))
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            writer.release()
            raise
        connection.info[_HOLDS_WRITER] = True

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _on_end(connection: Any) -> None:
        if connection.info.pop(_HOLDS_WRITER, False):
            writer.release()


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
