"""The audit log as HR reads it: who did what, when, with the state before and after."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aarshjul.db.models import AuditEvent, Person

_Model = ConfigDict(frozen=True)


class AuditEntry(BaseModel):
    model_config = _Model
    id: int
    occurred_at: dt.datetime
    actor: str
    actor_name: str | None
    action: str
    object_type: str
    object_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class AuditPage(BaseModel):
    model_config = _Model
    total: int
    offset: int
    limit: int
    entries: list[AuditEntry]


def audit_log(
    session: Session, *, limit: int = 100, offset: int = 0, action: str | None = None, actor: str | None = None
) -> AuditPage:
    """Newest first. ``action`` matches a prefix ("cycle." for every cycle action)."""
    conditions = []
    if action:
        conditions.append(AuditEvent.action.startswith(action, autoescape=True))
    if actor:
        conditions.append(AuditEvent.actor == actor)
    total = session.scalar(select(func.count()).select_from(AuditEvent).where(*conditions)) or 0
    events = list(
        session.scalars(
            select(AuditEvent)
            .where(*conditions)
            .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
            .limit(limit)
            .offset(offset)
        )
    )
    person_ids = sorted(
        {int(e.actor.split(":", 1)[1]) for e in events if e.actor.startswith("person:") and e.actor[7:].isdigit()}
    )
    names = {
        pid: name for pid, name in session.execute(select(Person.id, Person.name).where(Person.id.in_(person_ids)))
    }
    entries = [
        AuditEntry(
            id=e.id,
            occurred_at=e.occurred_at,
            actor=e.actor,
            actor_name=names.get(int(e.actor[7:])) if e.actor.startswith("person:") and e.actor[7:].isdigit() else None,
            action=e.action,
            object_type=e.object_type,
            object_id=e.object_id,
            before=e.before,
            after=e.after,
        )
        for e in events
    ]
    return AuditPage(total=total, offset=offset, limit=limit, entries=entries)
