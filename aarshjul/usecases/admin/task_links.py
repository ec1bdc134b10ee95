"""HR revokes a task's link: every link sent for the task stops working at once.

Links are signed, not stored, so revoking raises the task's ``link_version``; a link carrying an
older version then shows "this link has been replaced". The assignee is not left without a way in:
a fresh link goes to their address on file (a leaked link is usually a forwarded email, and the
address on file is still theirs), in the same transaction as the revocation.
"""

from __future__ import annotations

from aarshjul.db.engine import unit_of_work
from aarshjul.db.models import HumanTask, Person
from aarshjul.domain.enums import TaskState
from aarshjul.domain.errors import Conflict, NotFound
from aarshjul.runtime import Runtime
from aarshjul.usecases.shared.writes import audit
from notifications.outbox import OutgoingMessage, enqueue


def revoke_task_link(runtime: Runtime, task_id: int, actor: str) -> int:
    """Make every earlier link to the task invalid and email the assignee a new one. Returns the new version."""
    now = runtime.clock()
    with unit_of_work(runtime.sessions) as session:
        task = session.get(HumanTask, task_id, with_for_update=True)
        if task is None:
            raise NotFound(f"task {task_id} does not exist")
        if task.state == TaskState.CANCELLED or task.closed_at is not None:
            raise Conflict(f"task {task_id} is closed; its link no longer opens it for input")
        before = task.link_version
        task.link_version += 1
        audit(
            session,
            now,
            actor,
            "task.link_revoked",
            "task",
            task.id,
            before={"link_version": before},
            after={"link_version": task.link_version},
        )
        assignee = session.get(Person, task.assignee_id)
        if assignee is not None:
            enqueue(
                session,
                OutgoingMessage(
                    idempotency_key=f"new_link:revoked:{task.id}:{task.link_version}",
                    to_email=assignee.email,
                    language=assignee.language,
                    template="new_link",
                    context={"task_ids": [task.id]},
                    not_before=now,
                    recipient_id=assignee.id,
                ),
                now,
            )
        version = task.link_version
    runtime.triggers.dispatch()
    return version
