"""Everything the form behind a link shows. Reads only: opening a link never changes anything."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from aarshjul.db.models import (
    Cycle,
    HumanTask,
    Person,
    Submission,
    Unit,
)
from aarshjul.domain.cycle_spec import LocalizedText
from aarshjul.domain.enums import FormKey
from aarshjul.domain.errors import NotFound
from aarshjul.domain.followups import EVALUATION_NAME, FOLLOW_UP_NAME, FOLLOW_UP_STEP_KEY
from aarshjul.runtime import Runtime
from aarshjul.usecases.shared.cycles import cycle_definition, today_for
from aarshjul.usecases.shared.privacy import may_read_talk
from aarshjul.usecases.work.form_context import FormContextView, task_inputs
from aarshjul.usecases.work.links import Mode, guard_privacy, mode_of, task_by_link, visible_versions
from forms.fields import FormRules
from forms.registry import draft_problems


@dataclass(frozen=True)
class VersionInfo:
    version: int
    is_draft: bool
    created_at: dt.datetime


@dataclass(frozen=True)
class TaskInfo:
    id: int
    cycle_id: int
    cycle_year: int
    form_key: str
    step_key: str
    step_number: int | None
    step_name: LocalizedText
    part_name: LocalizedText
    unit_name: str
    assignee_name: str
    subject_name: str | None
    due_on: dt.date
    state: str
    submitted_at: dt.datetime | None
    mode: Mode
    first_year: int
    last_year: int


@dataclass(frozen=True)
class OpenedTask:
    task: TaskInfo
    context: FormContextView
    rules: FormRules
    choices: dict[str, list[tuple[int, str]]]
    data: dict[str, Any]  #: the newest version (draft or not), or empty
    data_is_draft: bool
    submitted_data: dict[str, Any]  #: the newest submitted version, or empty
    submitted: VersionInfo | None  #: the newest submitted version
    versions: list[VersionInfo]


def _names(session: Session, task: HumanTask, cycle: Cycle) -> tuple[int | None, LocalizedText, LocalizedText]:
    definition = cycle_definition(session, cycle)
    try:
        step = definition.step(task.step_key)
        return step.number, step.name, step.part(task.part_key).name
    except KeyError:
        if task.step_key == FOLLOW_UP_STEP_KEY:
            return None, FOLLOW_UP_NAME, FOLLOW_UP_NAME
        return None, EVALUATION_NAME, EVALUATION_NAME


def _data_of(session: Session, task_id: int, version: VersionInfo | None) -> dict[str, Any]:
    if version is None:
        return {}
    data = session.scalar(
        select(Submission.data).where(Submission.task_id == task_id, Submission.version == version.version)
    )
    return dict(data) if isinstance(data, dict) else {}


def open_task(runtime: Runtime, token: str) -> OpenedTask:
    """Everything the form of a link shows. Reads only."""
    now = runtime.clock()
    today = today_for(now, runtime.settings.zone)
    with runtime.sessions() as session:
        task, cycle = task_by_link(session, runtime, token)
        mode = mode_of(runtime, task, cycle, now)
        guard_privacy(session, task, today)
        inputs = task_inputs(session, task, today)
        if task.form_key == FormKey.GOAL_BREAKDOWN and not may_read_talk(session, task, task.assignee_id, today):
            inputs.context.record = None
        unit = session.get(Unit, task.unit_id)
        assignee = session.get(Person, task.assignee_id)
        subject = session.get(Person, task.subject_person_id) if task.subject_person_id else None
        if unit is None or assignee is None:  # foreign keys guard these
            raise NotFound(f"task {task.id} is incomplete")
        number, step_name, part_name = _names(session, task, cycle)
        versions = [VersionInfo(r.version, bool(r.is_draft), r.created_at) for r in visible_versions(session, task)]
        submitted = next((v for v in reversed(versions) if not v.is_draft), None)
        submitted_data = _data_of(session, task.id, submitted)
        latest = versions[-1] if versions else None
        data, data_is_draft = submitted_data, False
        if latest is not None and latest.is_draft:
            draft = _data_of(session, task.id, latest)
            # A draft stored before drafts were checked may be of any size; one that breaks the
            # form's shape or limits is not shown (the page would take minutes), the submission is.
            if not draft_problems(task.form_key, draft, None):
                data, data_is_draft = draft, True
        info = TaskInfo(
            id=task.id,
            cycle_id=cycle.id,
            cycle_year=cycle.year,
            form_key=task.form_key,
            step_key=task.step_key,
            step_number=number,
            step_name=step_name,
            part_name=part_name,
            unit_name=unit.name,
            assignee_name=assignee.name,
            subject_name=subject.name if subject else None,
            due_on=task.due_on,
            state=task.state,
            submitted_at=task.submitted_at,
            mode=mode,
            first_year=inputs.rules.first_year,
            last_year=inputs.rules.last_year,
        )
        return OpenedTask(
            task=info,
            context=inputs.context,
            rules=inputs.rules,
            choices=inputs.choices,
            data=data,
            data_is_draft=data_is_draft,
            submitted_data=submitted_data,
            submitted=submitted,
            versions=versions,
        )
