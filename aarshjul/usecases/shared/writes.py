"""Writing in bulk and one at a time: the dialect's INSERT, serialising a kind of work, audit events."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from aarshjul.db.models import AuditEvent


def insert_for(session: Session) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT DO NOTHING."""
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


#: The lock every writer of the organisation's people and units takes (the file import, SCIM requests).
ORGANISATION_LOCK = "organisation"


def serialize(session: Session, name: str) -> None:
    """Let only one transaction at a time do this kind of work.

    SQLite transactions already run one at a time (BEGIN IMMEDIATE); PostgreSQL gets a transaction
    advisory lock, released at commit, so two advances of a cycle or two sweeps never overlap.
    """
    if session.get_bind().dialect.name == "postgresql":
        lock_id = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": lock_id})


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
    session.add(
        AuditEvent(
            occurred_at=now,
            actor=actor,
            action=action,
            object_type=object_type,
            object_id=str(object_id),
            before=before,
            after=after,
        )
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
