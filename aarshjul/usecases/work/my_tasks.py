"""A signed-in person's own tasks ("my tasks"): every open one, and the receipts of what they sent.

The email with the link is no longer the only way to a task: someone signed in through single sign-on
sees here the links they were sent. A link is made afresh from the task's current link version, so
it is the very link of the newest email, and it opens the form as that link does (the talk forms
still check who may read them). Reads only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select

from aarshjul.db.models import Cycle, HumanTask, Person, Submission, Unit
from aarshjul.domain.cycle_spec import LocalizedText
from aarshjul.domain.enums import TaskState
from aarshjul.runtime import Runtime
from aarshjul.signing import TaskLinkClaims, task_token
from aarshjul.usecases.work.links import LinkRefused, Mode, mode_of
from aarshjul.usecases.work.opening import task_names


@dataclass(frozen=True)
class MyTask:
    href: str  #: the task's link, as a path on this site
    step_name: LocalizedText
    part_name: LocalizedText
    unit_name: str
    subject_name: str | None  #: the employee a talk form is about
    cycle_year: int
    due_on: dt.date
    mode: Mode
    returned: bool  #: sent back for changes
    submitted_version: int | None  #: the newest submitted version, for the receipt
    submitted_at: dt.datetime | None


@dataclass(frozen=True)
class MyTasks:
    name: str
    open: list[MyTask]  #: to fill in, soonest due first
    done: list[MyTask]  #: submitted, with their receipt (amendable or read only)


def my_tasks(runtime: Runtime, person_id: int) -> MyTasks:
    now = runtime.clock()
    secret = runtime.settings.secret()
    newest = (
        select(Submission.task_id, func.max(Submission.version).label("version"))
        .where(Submission.is_draft.is_(False))
        .group_by(Submission.task_id)
        .subquery()
    )
    with runtime.sessions() as session:
        person = session.get(Person, person_id)
        rows = session.execute(
            select(HumanTask, Cycle, Unit.name, newest.c.version)
            .join(Cycle, Cycle.id == HumanTask.cycle_id)
            .join(Unit, Unit.id == HumanTask.unit_id)
            .outerjoin(newest, newest.c.task_id == HumanTask.id)
            .where(HumanTask.assignee_id == person_id, HumanTask.state != TaskState.CANCELLED)
            .order_by(HumanTask.due_on, HumanTask.id)
        ).all()
        open_tasks: list[MyTask] = []
        done: list[MyTask] = []
        for task, cycle, unit_name, version in rows:
            try:
                mode = mode_of(session, runtime, task, cycle, now)
            except LinkRefused:  # expired: its link no longer opens it either
                continue
            _number, step_name, part_name = task_names(session, task, cycle)
            subject = session.get(Person, task.subject_person_id) if task.subject_person_id else None
            token = task_token(secret, TaskLinkClaims(task.id, task.assignee_id, task.link_version))
            item = MyTask(
                href=f"/t/{token}",
                step_name=step_name,
                part_name=part_name,
                unit_name=unit_name,
                subject_name=subject.name if subject is not None else None,
                cycle_year=cycle.year,
                due_on=task.due_on,
                mode=mode,
                returned=task.state == TaskState.RETURNED,
                submitted_version=version,
                submitted_at=task.submitted_at,
            )
            (open_tasks if mode is Mode.EDIT else done).append(item)
    return MyTasks(person.name if person is not None else "", open_tasks, done)
