"""Rate limits that hold across every web process: token buckets in the database.

A ``RateLimit`` lets ``capacity`` requests through at once and refills at ``capacity`` per ``period``
seconds. ``allow`` charges one request to several limits in one transaction (for example one per
client address and one per email address typed) and answers whether every one of them had a token;
each limit is charged either way, so a refused request still counts. ``forget`` empties the record
of one key (after a successful sign-in, say).

Each bucket is one row, changed by one UPSERT whose arithmetic runs in the database, so two web
processes charging the same key at the same moment cannot both spend the last token. Keys are
hashed with the limit's name: no address is stored in clear. Rows whose bucket has refilled are
deleted as requests come in, so the table holds only the keys that are being limited.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Float, case, cast, delete, literal, select
from sqlalchemy.orm import Session

from aarshjul.db.engine import unit_of_work
from aarshjul.db.models import RateLimitBucket
from aarshjul.runtime import Runtime
from aarshjul.usecases.shared.writes import insert_for

#: Refilled rows deleted per request at most: the clean-up never makes one request slow.
PURGE_BATCH = 200


@dataclass(frozen=True)
class RateLimit:
    name: str  #: distinguishes limits that see the same value ("new-link:client", "sign-in:account")
    capacity: int
    period: float  #: seconds to refill an empty bucket

    def __post_init__(self) -> None:
        if self.capacity < 1 or self.period <= 0:
            raise ValueError("a rate limit needs a capacity of at least 1 and a positive period")

    @property
    def rate(self) -> float:
        return self.capacity / self.period

    def bucket_key(self, value: str) -> str:
        return hashlib.sha256(f"{self.name}\x00{value}".encode()).hexdigest()


def allow(runtime: Runtime, charges: Sequence[tuple[RateLimit, str]]) -> bool:
    """Charge one request to each ``(limit, value)``; True when every limit still had a token."""
    now = runtime.clock().timestamp()
    # Buckets are charged in key order, so two transactions that share buckets lock them in the same
    # order and never wait for each other in a circle (PostgreSQL row locks).
    keyed = sorted(((limit.bucket_key(value), limit) for limit, value in charges), key=lambda pair: pair[0])
    with unit_of_work(runtime.sessions) as session:
        results = [_charge(session, key, limit, now) for key, limit in keyed]
        _purge(session, now)
    return all(results)


def forget(runtime: Runtime, limit: RateLimit, value: str) -> None:
    """Start ``value`` afresh under ``limit`` (a full bucket)."""
    with unit_of_work(runtime.sessions) as session:
        session.execute(delete(RateLimitBucket).where(RateLimitBucket.key == limit.bucket_key(value)))


def _charge(session: Session, key: str, limit: RateLimit, now: float) -> bool:
    table = RateLimitBucket.__table__
    capacity = float(limit.capacity)
    refilled = table.c.tokens + (literal(now) - table.c.updated_at) * limit.rate
    level = case((refilled > capacity, literal(capacity)), else_=refilled)
    took = level >= 1.0
    left = case((took, level - 1.0), else_=level)
    statement = insert_for(session)(table).values(
        key=key,
        tokens=capacity - 1.0,
        updated_at=now,
        full_at=now + 1.0 / limit.rate,
        allowed=True,
    )
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.key],
        set_={
            "tokens": left,
            "updated_at": now,
            "full_at": literal(now) + (literal(capacity) - left) / limit.rate,
            "allowed": took,
        },
    ).returning(table.c.allowed)
    return bool(session.execute(statement).scalar_one())


def _purge(session: Session, now: float) -> None:
    full = select(RateLimitBucket.key).where(RateLimitBucket.full_at <= cast(literal(now), Float)).limit(PURGE_BATCH)
    if session.get_bind().dialect.name == "postgresql":
        # Rows another request is charging right now are left for a later purge instead of waited for.
        full = full.with_for_update(skip_locked=True)
    session.execute(delete(RateLimitBucket).where(RateLimitBucket.key.in_(full.scalar_subquery())))
