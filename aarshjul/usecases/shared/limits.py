"""Limits shared by every process of the service: fixed-window counters kept in the database.

A ``Limit`` allows ``allowed`` hits per ``window`` for each key (an account, a client address). The
caller counts hits inside its own transaction, so a limit holds across processes and restarts:

    if is_over(session, SIGN_IN_PER_ADDRESS, address, now): ...refuse...
    count_hit(session, SIGN_IN_PER_ADDRESS, address, now)

Keys are stored as SHA-256, so the table holds no address or email in clear. The table cannot grow
without bound: a counter lives for one window, and counting a hit deletes the scope's counters whose
window has passed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from sqlalchemy import case, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from aarshjul.db.models import LimitCounter


@dataclass(frozen=True)
class Limit:
    scope: str  #: what is limited; one counter per key within it
    allowed: int  #: hits per window
    window: dt.timedelta


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def hits(session: Session, limit: Limit, key: str, now: dt.datetime) -> int:
    """Hits counted for ``key`` in the window running at ``now``."""
    row = session.execute(
        select(LimitCounter.hits, LimitCounter.window_start).where(
            LimitCounter.scope == limit.scope, LimitCounter.key_hash == key_hash(key)
        )
    ).first()
    if row is None or row.window_start + limit.window <= now:
        return 0
    return int(row.hits)


def is_over(session: Session, limit: Limit, key: str, now: dt.datetime) -> bool:
    return hits(session, limit, key, now) >= limit.allowed


def count_hit(session: Session, limit: Limit, key: str, now: dt.datetime) -> None:
    """One more hit for ``key``: a new window when the last one has passed. One statement, so two
    processes counting at once both count."""
    session.execute(
        delete(LimitCounter).where(LimitCounter.scope == limit.scope, LimitCounter.window_start <= now - limit.window)
    )
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(LimitCounter).values(scope=limit.scope, key_hash=key_hash(key), window_start=now, hits=1)
    expired = LimitCounter.window_start <= now - limit.window
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[LimitCounter.scope, LimitCounter.key_hash],
            set_={
                "hits": case((expired, 1), else_=LimitCounter.hits + 1),
                "window_start": case((expired, now), else_=LimitCounter.window_start),
            },
        )
    )


def forget(session: Session, limit: Limit, key: str) -> None:
    """Start ``key`` afresh (after a successful sign-in, say)."""
    session.execute(
        delete(LimitCounter).where(LimitCounter.scope == limit.scope, LimitCounter.key_hash == key_hash(key))
    )
