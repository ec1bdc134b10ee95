"""Messages a use case queues in its own transaction: invitations grouped per person, one message to a contact."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy.orm import Session

from aarshjul.usecases.shared.org import Contact
from notifications.outbox import OutgoingMessage, enqueue_many


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
