""" "Send me a new link": a person types an email address; if it is the address on file of someone
with open tasks, a ``new_link`` message listing them is queued to that address.

Nothing is bumped: links are signed and stay valid, and the links in the email are made when it is
sent, from each task's current assignee and link version, so a revoked link is replaced by a working
one. The answer to the caller never depends on whether the address is known.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import and_, func, or_, select

from aarshjul.db.engine import unit_of_work
from aarshjul.db.models import HumanTask, Person
from aarshjul.domain.addresses import normalise_email
from aarshjul.domain.enums import TaskState
from aarshjul.runtime import Runtime
from notifications.outbox import OutgoingMessage, enqueue_many

#: Requests for the same person within one window queue one email.
WINDOW = dt.timedelta(minutes=15)
#: A new-link email that could not go out within a day is stale; the person will ask again.
LIFETIME = dt.timedelta(days=1)


def request_new_link(runtime: Runtime, address: str, now: dt.datetime | None = None) -> int:
    """Queue new links for whoever has this address and open tasks. Returns messages queued (0 or more)."""
    now = now or runtime.clock()
    email = normalise_email(address)
    if not email or "@" not in email or len(email) > 254:
        return 0
    window = int(now.timestamp() // WINDOW.total_seconds())
    with unit_of_work(runtime.sessions) as session:
        open_tasks = or_(
            HumanTask.state.in_([TaskState.OPEN, TaskState.RETURNED]),
            and_(HumanTask.state == TaskState.SUBMITTED, HumanTask.closed_at.is_(None)),
        )
        rows = session.execute(
            select(Person.id, Person.email, Person.language, HumanTask.id.label("task_id"))
            .join(HumanTask, HumanTask.assignee_id == Person.id)
            .where(func.lower(Person.email) == email, open_tasks)
            .order_by(Person.id, HumanTask.due_on, HumanTask.id)
        ).all()
        by_person: dict[int, tuple[str, str, list[int]]] = {}
        for row in rows:
            by_person.setdefault(row.id, (row.email, row.language, []))[2].append(row.task_id)
        messages = [
            OutgoingMessage(
                idempotency_key=f"new_link:{person_id}:{window}",
                to_email=to_email,
                language=language,
                template="new_link",
                context={"task_ids": task_ids},
                not_before=now,
                recipient_id=person_id,
                expires_at=now + LIFETIME,
            )
            for person_id, (to_email, language, task_ids) in by_person.items()
        ]
        return enqueue_many(session, messages, now)
