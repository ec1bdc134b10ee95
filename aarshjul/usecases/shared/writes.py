"""Writing in bulk and one at a time: the dialect's INSERT, serialising a kind of work, audit events."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, insert, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from aarshjul.db.models import AuditEvent

_AUDIT = insert(cast(Table, AuditEvent.__table__))


def insert_for(session: Session) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT DO NOTHING."""
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def _lock_id(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def serialize(session: Session, name: str) -> None:
    """Let only one transaction at a time do this kind of work.

    SQLite transactions that write already run one at a time (BEGIN IMMEDIATE); PostgreSQL gets a
    transaction advisory lock, released at commit, so two full advances of a cycle or two sweeps
    never overlap, and no scoped advance overlaps a full one (``serialize_shared``).
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _lock_id(name)})


def serialize_shared(session: Session, name: str) -> None:
    """Share this kind of work with others that share it, but not with one that ``serialize``s it:
    advances of different units of a cycle run side by side, the cycle's full advance alone."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock_shared(:id)"), {"id": _lock_id(name)})


def audit(
    session: Session,
    now: dt.datetime,
    actor: str,
    action: str,
    object_type: str,
    object_id: object,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    # One INSERT at once, not an object for the flush: nothing reads an audit event back in the
    # transaction that writes it, and the unit of work costs more than the statement.
    session.connection().execute(
        _AUDIT,
        {
            "occurred_at": now,
            "actor": actor,
            "action": action,
            "object_type": object_type,
            "object_id": str(object_id),
            "before": before,
            "after": after,
        },
    )


def audit_many(
    session: Session,
    now: dt.datetime,
    actor: str,
    action: str,
    object_type: str,
    events: Sequence[tuple[object, dict[str, Any] | None, dict[str, Any] | None]],
) -> None:
    """Many audit events of one kind in one statement: ``events`` holds (object id, before, after)."""
    if events:
        session.execute(
            insert(AuditEvent),
            [
                {
                    "occurred_at": now,
                    "actor": actor,
                    "action": action,
                    "object_type": object_type,
                    "object_id": str(object_id),
                    "before": before,
                    "after": after,
                }
                for object_id, before, after in events
            ],
        )
