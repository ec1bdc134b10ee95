"""One unit of a cycle in detail: its steps' dates, open tasks, and what it submitted.

Per-employee forms stay private: HR sees that they happened, not what was said."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from pydantic import BaseModel, Field
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, aliased

from aarshjul.db.models import (
    HumanTask,
    Person,
    Submission,
    Unit,
    UnitStep,
)
from aarshjul.domain.enums import TaskState
from aarshjul.domain.errors import NotFound
from aarshjul.usecases.reporting.board import ACTIONABLE_TASK_STATES, _cell_state, _TaskNames
from aarshjul.usecases.reporting.board_model import (
    CellState,
    CycleInfo,
    FollowUps,
    LocalizedName,
    _Model,
    localized,
)
from aarshjul.usecases.reporting.cycles import _cycle_info, load_cycle
from aarshjul.usecases.reporting.followups import follow_up_counts
from aarshjul.usecases.shared.answers import FormField, flatten, name_references
from forms.registry import FORMS


class SubmittedForm(BaseModel):
    model_config = _Model
    task_id: int
    step_key: str
    part_key: str
    form_key: str
    task_name: LocalizedName
    submitted_at: dt.datetime | None
    submitted_by: str
    about_person: str | None = Field(default=None, description="For per-employee forms: whose talk or goals")
    private: bool = Field(description="True for per-employee forms: HR sees that it happened, not what was said")
    fields: list[FormField]


class OpenTask(BaseModel):
    model_config = _Model
    task_id: int
    step_key: str
    part_key: str
    form_key: str
    task_name: LocalizedName
    assignee_id: int
    assignee_name: str
    due_on: dt.date
    days_late: int
    escalation_rung: int
    state: str


class UnitStepDates(BaseModel):
    model_config = _Model
    step_key: str
    number: int
    names: LocalizedName
    state: CellState
    due_on: dt.date | None
    opened_at: dt.datetime | None
    done_at: dt.datetime | None


class UnitDetail(BaseModel):
    model_config = _Model
    cycle: CycleInfo
    unit_id: int
    unit_name: str
    leader_name: str | None
    steps: list[UnitStepDates]
    open_tasks: list[OpenTask]
    submitted: list[SubmittedForm]
    follow_ups: FollowUps = Field(default_factory=FollowUps, description="Follow-ups of the unit's talks")


def unit_detail(session: Session, cycle_id: int, unit_id: int, *, today: dt.date) -> UnitDetail:
    cycle, definition = load_cycle(session, cycle_id)
    unit = session.get(Unit, unit_id)
    if unit is None or unit.organisation_id != cycle.organisation_id:
        raise NotFound(f"unit {unit_id} does not exist")
    leader = session.get(Person, unit.leader_id) if unit.leader_id else None
    stored = {
        r.step_key: r
        for r in session.execute(
            select(UnitStep.step_key, UnitStep.state, UnitStep.due_on, UnitStep.opened_at, UnitStep.done_at).where(
                UnitStep.cycle_id == cycle.id, UnitStep.unit_id == unit.id
            )
        )
    }
    assignee = aliased(Person)
    subject = aliased(Person)
    tasks = session.execute(
        select(HumanTask, assignee.name, subject.name)
        .join(assignee, assignee.id == HumanTask.assignee_id)
        .outerjoin(subject, subject.id == HumanTask.subject_person_id)
        .where(HumanTask.cycle_id == cycle.id, HumanTask.unit_id == unit.id)
        .order_by(HumanTask.id)
    ).all()
    late: dict[str, int] = defaultdict(int)
    escalated: dict[str, int] = defaultdict(int)
    open_tasks: list[OpenTask] = []
    task_names = _TaskNames(definition)
    for task, assignee_name, _ in tasks:
        if task.state not in ACTIONABLE_TASK_STATES:
            continue
        days = (today - task.due_on).days
        late[task.step_key] += days > 0
        escalated[task.step_key] += task.escalation_level > 0
        open_tasks.append(
            OpenTask(
                task_id=task.id,
                step_key=task.step_key,
                part_key=task.part_key,
                form_key=task.form_key,
                task_name=LocalizedName.model_validate(task_names(task.step_key, task.part_key)),
                assignee_id=task.assignee_id,
                assignee_name=assignee_name,
                due_on=task.due_on,
                days_late=max(days, 0),
                escalation_rung=task.escalation_level,
                state=task.state,
            )
        )
    submitted_tasks = [(t, s) for t, _, s in tasks if t.state == TaskState.SUBMITTED]
    latest = _latest_submissions(session, [t.id for t, _ in submitted_tasks])
    submitters = sorted({s.submitted_by_id for s in latest.values()})
    names = {
        pid: name for pid, name in session.execute(select(Person.id, Person.name).where(Person.id.in_(submitters)))
    }
    # Per-employee forms stay private: HR sees that they happened, not what was said.
    answers = name_references(
        session,
        [
            []
            if task.subject_person_id is not None or task.id not in latest
            else flatten(latest[task.id].data, FORMS.get(task.form_key))
            for task, _ in submitted_tasks
        ],
    )
    submitted = []
    for (task, subject_name), fields in zip(submitted_tasks, answers, strict=True):
        submission = latest.get(task.id)
        private = task.subject_person_id is not None
        submitted.append(
            SubmittedForm(
                task_id=task.id,
                step_key=task.step_key,
                part_key=task.part_key,
                form_key=task.form_key,
                task_name=LocalizedName.model_validate(task_names(task.step_key, task.part_key)),
                submitted_at=task.submitted_at,
                submitted_by=names.get(submission.submitted_by_id, "") if submission else "",
                about_person=subject_name,
                private=private,
                fields=fields,
            )
        )
    steps = [
        UnitStepDates(
            step_key=step.key,
            number=step.number,
            names=LocalizedName(**localized(step.name.get)),
            state=CellState(
                _cell_state(
                    stored[step.key].state if step.key in stored else None,
                    late[step.key],
                    escalated[step.key],
                )
            ),
            due_on=stored[step.key].due_on if step.key in stored else None,
            opened_at=stored[step.key].opened_at if step.key in stored else None,
            done_at=stored[step.key].done_at if step.key in stored else None,
        )
        for step in definition.active_steps
    ]
    counts = follow_up_counts(session, cycle.id).get(unit.id)
    return UnitDetail(
        cycle=_cycle_info(cycle, definition),
        unit_id=unit.id,
        unit_name=unit.name,
        leader_name=leader.name if leader else None,
        steps=steps,
        open_tasks=open_tasks,
        submitted=submitted,
        follow_ups=FollowUps(done=counts.done, open=counts.open) if counts else FollowUps(),
    )


def _latest_submissions(session: Session, task_ids: list[int]) -> dict[int, Submission]:
    if not task_ids:
        return {}
    newest = (
        select(Submission.task_id, func.max(Submission.version).label("version"))
        .where(Submission.task_id.in_(task_ids), Submission.is_draft.is_(False))
        .group_by(Submission.task_id)
        .subquery()
    )
    rows = session.scalars(
        select(Submission).join(
            newest, and_(Submission.task_id == newest.c.task_id, Submission.version == newest.c.version)
        )
    )
    return {s.task_id: s for s in rows}
