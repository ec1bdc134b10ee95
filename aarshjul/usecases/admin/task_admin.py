"""HR's handling of tasks: reassign them (in bulk too), extend deadlines, and take over the open tasks
of people an org import finds gone.

A reassigned task gets a new ``link_version``: the old assignee's link stops working and the new
assignee gets a fresh one by email. Every HR action leaves an audit event.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from aarshjul.db.engine import unit_of_work
from aarshjul.db.models import Cycle, HumanTask, Organisation, Person, UnitStep
from aarshjul.domain.addresses import normalise_email
from aarshjul.domain.cycle_spec import CycleDefinition
from aarshjul.domain.enums import ACTIONABLE_TASK_STATES, CycleState, TaskState
from aarshjul.domain.errors import Conflict, InvalidInput, NotFound
from aarshjul.domain.followups import LIVES_ON_STEP_KEYS
from aarshjul.domain.schedule import EVALUATION_REMINDERS, reminders_passed
from aarshjul.runtime import Runtime
from aarshjul.usecases.shared.cycles import cycle_definition, today_for
from aarshjul.usecases.shared.mail import digest, message_to, queue_invitations
from aarshjul.usecases.shared.org import load_org
from aarshjul.usecases.shared.writes import audit, audit_many
from notifications.outbox import enqueue_many


def _reassign(session: Session, tasks: Sequence[HumanTask], new_assignee_id: int) -> list[tuple[int, int, int]]:
    """Move tasks to a new assignee in one statement; a new link version kills every link sent before."""
    if not tasks:
        return []
    rows = session.execute(
        update(HumanTask)
        .where(HumanTask.id.in_([t.id for t in tasks]))
        .values(assignee_id=new_assignee_id, link_version=HumanTask.link_version + 1)
        .returning(HumanTask.id, HumanTask.link_version),
        execution_options={"synchronize_session": False},
    ).all()
    versions = {row.id: row.link_version for row in rows}
    for task in tasks:  # keep the loaded objects true to the row, without another query
        set_committed_value(task, "assignee_id", new_assignee_id)
        set_committed_value(task, "link_version", versions[task.id])
    return sorted((task_id, new_assignee_id, version) for task_id, version in versions.items())


def _person_id(session: Session, person: int | str) -> int:
    if isinstance(person, int):
        return person
    found = session.scalar(select(Person.id).where(Person.email == normalise_email(person)))
    if found is None:
        raise InvalidInput("assignee_email", "no person has this email")
    return found


def reassign_tasks(
    runtime: Runtime, task_ids: Sequence[int], new_assignee: int | str, actor: str, cycle_id: int | None = None
) -> int:
    """Give open tasks to someone else (leave, illness, deputy): ``new_assignee`` is a person's id or
    email address; with ``cycle_id`` every task must belong to that cycle. Returns how many were moved."""
    now = runtime.clock()
    if not task_ids:
        raise InvalidInput("task_ids", "choose at least one task")
    with unit_of_work(runtime.sessions) as session:
        new_assignee_id = _person_id(session, new_assignee)
        if cycle_id is not None and session.get(Cycle, cycle_id) is None:
            raise NotFound(f"cycle {cycle_id} does not exist")
        tasks = list(session.scalars(select(HumanTask).where(HumanTask.id.in_(task_ids)).order_by(HumanTask.id)))
        missing = sorted(set(task_ids) - {t.id for t in tasks if cycle_id is None or t.cycle_id == cycle_id})
        if missing:
            raise NotFound(f"tasks {missing} do not exist" + (f" in cycle {cycle_id}" if cycle_id else ""))
        closed = [t.id for t in tasks if t.state not in ACTIONABLE_TASK_STATES]
        if closed:
            raise Conflict(f"tasks {closed} are no longer open and cannot be reassigned")
        organisation_id = session.scalar(select(Organisation.id).order_by(Organisation.id).limit(1))
        if organisation_id is None:
            raise NotFound("no organisation")
        org, contacts = load_org(session, organisation_id, today_for(now, runtime.settings.zone))
        if not org.is_active(new_assignee_id):
            raise InvalidInput("new_assignee_id", "choose an active person")
        before = {t.id: t.assignee_id for t in tasks if t.assignee_id != new_assignee_id}
        tasks = [t for t in tasks if t.id in before]
        moved = _reassign(session, tasks, new_assignee_id)
        audit_many(
            session,
            now,
            actor,
            "task.reassign",
            "task",
            [
                (task_id, {"assignee_id": before[task_id]}, {"assignee_id": new_assignee_id, "link_version": version})
                for task_id, _assignee, version in moved
            ],
        )
        queue_invitations(session, moved, contacts, now)
    runtime.triggers.dispatch()
    return len(moved)


def extend_deadline(
    runtime: Runtime,
    *,
    new_due: dt.date,
    actor: str,
    task_ids: Sequence[int] | None = None,
    unit_id: int | None = None,
    step_key: str | None = None,
    cycle_id: int | None = None,
) -> int:
    """Move a deadline later: for some tasks, for one unit on a step, or for a whole step.

    For a unit or a step the step's deadline moves, and each open task's deadline with it (keeping
    the part's offset: the talk preparation stays two weeks before the talk's deadline). A deadline
    already later than the new one stays as it is, so extending a whole step never takes time from a
    unit that was given more. The reminder ladder starts again from the new date. Returns how many
    tasks changed.
    """
    now = runtime.clock()
    today = today_for(now, runtime.settings.zone)
    if new_due < today:
        raise InvalidInput("new_due", f"{new_due.isoformat()} is in the past")
    if task_ids is None and step_key is None:
        raise InvalidInput("step_key", "name the tasks, a unit and step, or a step")
    with unit_of_work(runtime.sessions) as session:
        if task_ids is not None:
            tasks = list(
                session.scalars(
                    select(HumanTask).where(HumanTask.id.in_(task_ids), HumanTask.state.in_(ACTIONABLE_TASK_STATES))
                )
            )
            new_dates = {t.id: new_due for t in tasks}
            scope: dict[str, object] = {"task_ids": sorted(task_ids)}
        else:
            assert step_key is not None  # checked above
            cycle = _cycle_for(session, cycle_id)
            definition = cycle_definition(session, cycle)
            try:
                step = definition.step(step_key)
            except KeyError as exc:
                raise InvalidInput("step_key", f"no step {step_key} in this cycle") from exc
            query = select(HumanTask).where(
                HumanTask.cycle_id == cycle.id,
                HumanTask.step_key == step_key,
                HumanTask.state.in_(ACTIONABLE_TASK_STATES),
            )
            steps = update(UnitStep).where(
                UnitStep.cycle_id == cycle.id, UnitStep.step_key == step_key, UnitStep.due_on < new_due
            )
            if unit_id is not None:
                query = query.where(HumanTask.unit_id == unit_id)
                steps = steps.where(UnitStep.unit_id == unit_id)
            elif step_key in cycle.step_due and cycle.step_due[step_key] < new_due.isoformat():
                cycle.step_due = {**cycle.step_due, step_key: new_due.isoformat()}
            session.execute(steps.values(due_on=new_due))
            tasks = list(session.scalars(query))
            offsets = {p.key: p.due_offset_days for p in step.parts}
            new_dates = {t.id: max(today, new_due + dt.timedelta(days=offsets.get(t.part_key, 0))) for t in tasks}
            scope = {"cycle_id": cycle.id, "step_key": step_key, "unit_id": unit_id}
        tasks = [t for t in tasks if new_dates[t.id] > t.due_on]
        before = {t.id: t.due_on.isoformat() for t in tasks}
        ladders = _Ladders(session)
        for task in tasks:
            task.due_on = new_dates[task.id]
            task.reminders_sent = reminders_passed(task.due_on, ladders.of(task), now, runtime.settings.zone)
            task.escalation_level = 0
        audit(
            session,
            now,
            actor,
            "deadline.extend",
            "tasks",
            digest(sorted(before)),
            before={"due_on": before, **scope},
            after={"new_due": new_due.isoformat(), "tasks": len(tasks)},
        )
    return len(tasks)


class _Ladders:
    """Each cycle's reminder ladders, its definition read once however many tasks are moved."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._definitions: dict[int, CycleDefinition | None] = {}

    def of(self, task: HumanTask) -> tuple[int, ...]:
        if task.step_key in LIVES_ON_STEP_KEYS:
            return EVALUATION_REMINDERS
        if task.cycle_id not in self._definitions:
            cycle = self.session.get(Cycle, task.cycle_id)
            self._definitions[task.cycle_id] = cycle_definition(self.session, cycle) if cycle is not None else None
        definition = self._definitions[task.cycle_id]
        try:
            return definition.step(task.step_key).reminders_days_before if definition else EVALUATION_REMINDERS
        except KeyError:
            return EVALUATION_REMINDERS


def _cycle_for(session: Session, cycle_id: int | None) -> Cycle:
    if cycle_id is not None:
        cycle = session.get(Cycle, cycle_id)
    else:
        cycle = session.scalars(
            select(Cycle).where(Cycle.state == CycleState.RUNNING).order_by(Cycle.year.desc()).limit(1)
        ).first()
    if cycle is None:
        raise NotFound("no such cycle" if cycle_id is not None else "no cycle is running")
    return cycle


@dataclass
class LeaverReport:
    reassigned: dict[int, list[int]] = field(default_factory=dict)  #: leaver -> tasks moved to a stand-in
    cancelled: dict[int, list[int]] = field(default_factory=dict)  #: leaver -> tasks about them, stopped


def handle_leavers(session: Session, person_ids: Sequence[int], now: dt.datetime, zone: ZoneInfo) -> LeaverReport:
    """Take care of the open tasks of people who left; runs inside the org import's transaction.

    Tasks about a leader's talk with the leaver (or the leaver's own talk tasks) are stopped: the talk
    will not happen. Every other open task goes to a stand-in (the leaver's deputy, their leader's
    deputy, their leader, the leader above, HR) with a fresh link, and HR is told what moved where.
    """
    report = LeaverReport()
    leavers = frozenset(person_ids)
    if not leavers:
        return report
    tasks = list(
        session.scalars(
            select(HumanTask)
            .where(
                HumanTask.state.in_(ACTIONABLE_TASK_STATES),
                (HumanTask.assignee_id.in_(leavers)) | (HumanTask.subject_person_id.in_(leavers)),
            )
            .order_by(HumanTask.id)
        )
    )
    if not tasks:
        return report
    organisation_id = session.scalar(select(Organisation.id).order_by(Organisation.id).limit(1))
    if organisation_id is None:
        return report
    # The import has already ended the leavers' active period, so "today" sees them as gone.
    org, contacts = load_org(session, organisation_id, today_for(now, zone))
    cancelled: list[int] = []
    moves: dict[tuple[int, int], list[HumanTask]] = defaultdict(list)  # (leaver, stand-in) -> tasks
    for task in tasks:
        if task.subject_person_id in leavers:
            cancelled.append(task.id)
            report.cancelled.setdefault(task.subject_person_id, []).append(task.id)
            continue
        stand_in = org.stand_in_for(task.assignee_id, excluded=leavers)
        if stand_in is None:
            continue
        moves[(task.assignee_id, stand_in)].append(task)
    if cancelled:
        session.execute(
            update(HumanTask).where(HumanTask.id.in_(cancelled)).values(state=TaskState.CANCELLED, closed_at=now)
        )
    moved: list[tuple[int, int, int]] = []
    for (leaver, stand_in), group in sorted(moves.items()):
        group_moved = _reassign(session, group, stand_in)
        moved += group_moved
        report.reassigned.setdefault(leaver, []).extend(t.id for t in group)
        audit_many(
            session,
            now,
            "system:org-import",
            "task.reassign",
            "task",
            [
                (
                    task_id,
                    {"assignee_id": leaver},
                    {"assignee_id": stand_in, "link_version": version, "reason": "leaver"},
                )
                for task_id, _assignee, version in group_moved
            ],
        )
    queue_invitations(session, moved, contacts, now)
    hr = org.hr()
    if hr is not None and hr in contacts:
        messages = []
        for leaver in sorted(set(report.reassigned) | set(report.cancelled)):
            moved_ids = report.reassigned.get(leaver, [])
            stopped = report.cancelled.get(leaver, [])
            context = {"task_ids": moved_ids, "from_person_id": leaver, "cancelled_task_ids": stopped}
            key = f"tasks_reassigned_hr:{leaver}:{digest([*moved_ids, '/', *stopped])}"
            messages.append(message_to(contacts[hr], key, "tasks_reassigned_hr", context, now))
        enqueue_many(session, messages, now)
    return report
