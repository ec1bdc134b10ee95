"""HR actions on a running cycle that no other use case covers: remind everyone late on a step."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlalchemy import select

from aarshjul.clock import local_date
from aarshjul.db.engine import unit_of_work
from aarshjul.db.models import Cycle, HumanTask
from aarshjul.domain.enums import ACTIONABLE_TASK_STATES, CycleState
from aarshjul.domain.errors import Conflict, InvalidInput, NotFound
from aarshjul.runtime import Runtime
from aarshjul.usecases.shared.cycles import cycle_definition
from aarshjul.usecases.shared.mail import digest, message_to
from aarshjul.usecases.shared.org import load_org
from aarshjul.usecases.shared.writes import audit
from notifications.outbox import enqueue_many


def remind_late(runtime: Runtime, cycle_id: int, step_key: str, actor: str) -> int:
    """One reminder email to each person with a late task on the step. Returns how many emails were queued.

    The idempotency key holds the day and the tasks, so pressing the button twice on one day sends
    nothing twice, while a reminder the next day goes out again.
    """
    now = runtime.clock()
    today = local_date(now, runtime.settings.zone)
    with unit_of_work(runtime.sessions) as session:
        cycle = session.get(Cycle, cycle_id)
        if cycle is None:
            raise NotFound(f"cycle {cycle_id} does not exist")
        if cycle.state != CycleState.RUNNING:
            raise Conflict(f"cycle {cycle_id} is {cycle.state}, not running")
        if step_key not in {s.key for s in cycle_definition(session, cycle).active_steps}:
            raise InvalidInput("step_key", f"no step {step_key!r} in this cycle")
        rows = session.execute(
            select(HumanTask.id, HumanTask.assignee_id, HumanTask.due_on).where(
                HumanTask.cycle_id == cycle_id,
                HumanTask.step_key == step_key,
                HumanTask.state.in_(ACTIONABLE_TASK_STATES),
                HumanTask.due_on < today,
            )
        ).all()
        by_person: dict[int, list[int]] = defaultdict(list)
        latest_due: dict[int, dt.date] = {}
        for task_id, assignee_id, due_on in rows:
            by_person[assignee_id].append(task_id)
            latest_due[assignee_id] = max(due_on, latest_due.get(assignee_id, due_on))
        _, contacts = load_org(session, cycle.organisation_id, today)
        messages = [
            message_to(
                contacts[person_id],
                f"late_reminder:{person_id}:{today.isoformat()}:{digest(sorted(task_ids))}",
                "task_reminder",
                # Negative: the email says how many days late the least late task is.
                {"task_ids": sorted(task_ids), "days_left": (latest_due[person_id] - today).days},
                now,
            )
            for person_id, task_ids in sorted(by_person.items())
            if person_id in contacts
        ]
        queued = enqueue_many(session, messages, now)
        audit(
            session,
            now,
            actor,
            "cycle.remind_late",
            "cycle",
            cycle_id,
            after={"step_key": step_key, "people": len(messages), "tasks": len(rows), "queued": queued},
        )
    if queued:
        runtime.triggers.dispatch()
    return queued
