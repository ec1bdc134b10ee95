"""Loading the snapshots the cycle rules work on, and writing their results in bulk.

Shared by the cycle use cases (start, advance, sweep, task administration). Every loader is one
set-based query; writers take lists and issue one statement per kind of change.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from aarshjul.clock import local_date
from aarshjul.db.models import AuditEvent, Cycle, CycleDefinitionRecord, Person, Unit
from aarshjul.domain.cycle_spec import CycleDefinition, parse_definition
from aarshjul.domain.enums import Role
from aarshjul.domain.progression import OrgChart, OrgPerson, OrgUnit
from notifications.outbox import OutgoingMessage, enqueue_many


@dataclass(frozen=True)
class Contact:
    id: int
    email: str
    language: str


def insert_for(session: Session) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT DO NOTHING."""
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def serialize(session: Session, name: str) -> None:
    """Let only one transaction at a time do this kind of work.

    SQLite transactions already run one at a time (BEGIN IMMEDIATE); PostgreSQL gets a transaction
    advisory lock, released at commit, so two advances of a cycle or two sweeps never overlap.
    """
    if session.get_bind().dialect.name == "postgresql":
        lock_id = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": lock_id})


def load_org(session: Session, organisation_id: int, today: dt.date) -> tuple[OrgChart, dict[int, Contact]]:
    """The organisation as of ``today`` (who is active, who leads what) and everyone's address."""
    units = [
        OrgUnit(id=row.id, parent_id=row.parent_id, leader_id=row.leader_id, active=bool(row.active))
        for row in session.execute(
            select(Unit.id, Unit.parent_id, Unit.leader_id, Unit.active).where(Unit.organisation_id == organisation_id)
        )
    ]
    people: list[OrgPerson] = []
    contacts: dict[int, Contact] = {}
    rows = session.execute(
        select(
            Person.id,
            Person.unit_id,
            Person.role,
            Person.active_from,
            Person.active_to,
            Person.deputy_id,
            Person.email,
            Person.language,
        ).where(Person.organisation_id == organisation_id)
    )
    for row in rows:
        active = (row.active_from is None or row.active_from <= today) and (
            row.active_to is None or today <= row.active_to
        )
        people.append(OrgPerson(row.id, row.unit_id, Role(row.role), active, row.deputy_id))
        contacts[row.id] = Contact(row.id, row.email, row.language)
    return OrgChart(units, people), contacts


def cycle_definition(session: Session, cycle: Cycle) -> CycleDefinition:
    record = session.get(CycleDefinitionRecord, cycle.definition_id)
    if record is None:  # a foreign key guards this; kept for a clear message on a damaged database
        raise LookupError(f"cycle {cycle.id} has no definition record")
    return parse_definition(record.content, f"cycle {cycle.id} definition")


def step_due_dates(cycle: Cycle) -> dict[str, dt.date]:
    return {key: dt.date.fromisoformat(value) for key, value in cycle.step_due.items()}


def today_for(now: dt.datetime, zone: ZoneInfo) -> dt.date:
    return local_date(now, zone)


def digest(parts: Iterable[object]) -> str:
    """A short stable fingerprint of what an email is about, for its idempotency key."""
    return hashlib.sha256(",".join(str(p) for p in parts).encode()).hexdigest()[:32]


def queue_invitations(
    session: Session,
    new_tasks: Sequence[tuple[int, int, int]],
    contacts: dict[int, Contact],
    now: dt.datetime,
) -> int:
    """One invitation per person listing all their new tasks. ``new_tasks`` holds (task id, assignee
    id, link version); the key comes from those, so re-running after a crash queues nothing twice."""
    by_person: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for task_id, assignee_id, link_version in new_tasks:
        by_person[assignee_id].append((task_id, link_version))
    messages = []
    for person_id, items in sorted(by_person.items()):
        contact = contacts.get(person_id)
        if contact is None:
            continue
        items.sort()
        messages.append(
            OutgoingMessage(
                idempotency_key=f"task_invitation:{person_id}:{digest(f'{t}.{v}' for t, v in items)}",
                to_email=contact.email,
                language=contact.language,
                template="task_invitation",
                context={"task_ids": [t for t, _ in items]},
                not_before=now,
                recipient_id=person_id,
            )
        )
    return enqueue_many(session, messages, now)


def message_to(contact: Contact, key: str, template: str, context: dict[str, Any], now: dt.datetime) -> OutgoingMessage:
    return OutgoingMessage(
        idempotency_key=key,
        to_email=contact.email,
        language=contact.language,
        template=template,
        context=context,
        not_before=now,
        recipient_id=contact.id,
    )


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
