"""Writing to the outbox. Callers pass their own session so the row commits with the change that causes it.

The idempotency key is unique: queuing the same message twice (a re-run advance, a retried sweep)
inserts nothing the second time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from aarshjul.db.models import Notification
from aarshjul.domain.enums import NotificationState


@dataclass(frozen=True)
class OutgoingMessage:
    idempotency_key: str
    to_email: str
    language: str
    template: str
    context: dict[str, Any]
    not_before: dt.datetime
    recipient_id: int | None = None
    expires_at: dt.datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def enqueue_many(session: Session, messages: Sequence[OutgoingMessage], now: dt.datetime) -> int:
    """Queue messages in one statement; rows whose key already exists are left alone. Returns rows added."""
    if not messages:
        return 0
    rows = [
        {
            "idempotency_key": m.idempotency_key,
            "recipient_id": m.recipient_id,
            "to_email": m.to_email,
            "language": m.language,
            "template": m.template,
            "context": m.context,
            "state": NotificationState.PENDING,
            "not_before": m.not_before,
            "expires_at": m.expires_at,
            "attempts": 0,
            "created_at": now,
        }
        for m in messages
    ]
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = cast(Table, Notification.__table__)
    statement = insert(table).on_conflict_do_nothing(index_elements=["idempotency_key"])
    # Through the connection: thousands of reminders in one sweep need no ORM bookkeeping.
    inserted = session.connection().execute(statement.returning(table.c.id), rows).all()
    return len(inserted)


def enqueue(session: Session, message: OutgoingMessage, now: dt.datetime) -> bool:
    """Queue one message; False when a message with the same key was queued before."""
    return enqueue_many(session, [message], now) == 1
