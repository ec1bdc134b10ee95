"""The advance of a cycle: a reconcile that opens every unit step whose inputs are in, creates the
tasks that are due and closes finished steps, in one transaction with the invitations it causes.

Running it twice changes nothing and a crashed run is repaired by the next one.

A submission changes only its own unit: steps wait only for steps of the same unit, and every task,
measure and step a unit's plan reads is the unit's own. So the advance after a submission is scoped
to that unit (``unit_id``) and costs the same in an organisation of 500 as of 50,000 people. The
submission also records that the advance is owed (``shared.advances``), and the advance clears it.
The full reconcile (no ``unit_id``) runs on demand, when a cycle starts, and as the sweep's safety net
(``reconcile_cycle``): in full on the first sweep of a day, else only where an advance is still owed.
Scoped advances of different units of a cycle may run at once; a full advance runs alone.

A triggered advance run (``advance_owed``) advances every unit still owed, not only the one that
first asked: triggers coalesce into one pending run per cycle (``shared.coalescing``), and the owed
records say what the later triggers wanted. Each advance keeps the tasks nobody could be given in
the units it planned (``cycle.unassignable``), in its own transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.orm import Session

from aarshjul.db.engine import unit_of_work
from aarshjul.db.models import (
    Cycle,
    HumanTask,
    Measure,
    Unit,
    UnitStep,
)
from aarshjul.domain.enums import CycleState, TaskState, UnitStepState
from aarshjul.domain.errors import NotFound
from aarshjul.domain.followups import LIVES_ON_STEP_KEYS
from aarshjul.domain.progression import (
    AdvancePlan,
    CyclePlanner,
    MeasureFact,
    StepFact,
    TaskFact,
)
from aarshjul.runtime import Runtime
from aarshjul.usecases.cycle.unassignable import keep_unassignable
from aarshjul.usecases.shared.advances import owed, paid
from aarshjul.usecases.shared.cycles import cycle_definition, step_due_dates, today_for
from aarshjul.usecases.shared.mail import queue_invitations
from aarshjul.usecases.shared.org import Contact, load_org, load_org_around
from aarshjul.usecases.shared.writes import insert_for, serialize, serialize_shared


@dataclass
class AdvanceReport:
    cycle_id: int
    unit_id: int | None = None  #: the one unit advanced; None for the whole cycle
    steps_opened: int = 0
    steps_done: int = 0
    steps_skipped: int = 0
    tasks_created: int = 0
    tasks_cancelled: int = 0
    invitations_queued: int = 0
    unassignable: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(
            self.steps_opened or self.steps_done or self.steps_skipped or self.tasks_created or self.tasks_cancelled
        )


def advance_cycle(
    runtime: Runtime, cycle_id: int, now: dt.datetime | None = None, unit_id: int | None = None
) -> AdvanceReport:
    """Open every unit step whose inputs are in, create the tasks that are due, close finished steps:
    in one unit (``unit_id``, what a submission there can change) or in the whole cycle."""
    now = now or runtime.clock()
    with unit_of_work(runtime.sessions) as session:
        if unit_id is None:
            serialize(session, f"advance:{cycle_id}")
        else:
            serialize_shared(session, f"advance:{cycle_id}")
            serialize(session, f"advance:{cycle_id}:u{unit_id}")
        cycle = _cycle(session, cycle_id)
        report = _advance_in(session, runtime, cycle, now, None if unit_id is None else [unit_id])
    if report.invitations_queued:
        runtime.triggers.dispatch()
    return report


def advance_owed(
    runtime: Runtime, cycle_id: int, now: dt.datetime | None = None, unit_id: int | None = None
) -> AdvanceReport:
    """The advance a trigger asked for: ``unit_id`` and every other unit of the cycle whose advance is
    owed. Triggers coalesce (one pending run per cycle answers a burst of them), so the run's own
    parameter names only the first unit that asked; what the others asked for is in the owed records,
    written with their submissions and read here after the run began."""
    now = now or runtime.clock()
    with unit_of_work(runtime.sessions) as session:
        serialize(session, f"advance:{cycle_id}")
        cycle = _cycle(session, cycle_id)
        units = sorted(set(owed(session, cycle_id)) | ({unit_id} if unit_id is not None else set()))
        report = _advance_in(session, runtime, cycle, now, units) if units else AdvanceReport(cycle_id)
    if report.invitations_queued:
        runtime.triggers.dispatch()
    return report


def reconcile_cycle(runtime: Runtime, cycle_id: int, now: dt.datetime | None = None) -> AdvanceReport:
    """The sweep's safety net. The whole cycle on the first sweep of each local day (people start and
    leave on dates, a cycle opens on its start date) and after an org import; otherwise only the
    units whose advance is still owed (a trigger was lost), which is usually none."""
    now = now or runtime.clock()
    with unit_of_work(runtime.sessions) as session:
        serialize(session, f"advance:{cycle_id}")
        cycle = _cycle(session, cycle_id)
        if cycle.reconciled_on == today_for(now, runtime.settings.zone):
            units = sorted(owed(session, cycle_id))
            report = _advance_in(session, runtime, cycle, now, units) if units else AdvanceReport(cycle_id)
        else:
            report = _advance_in(session, runtime, cycle, now, None)
    if report.invitations_queued:
        runtime.triggers.dispatch()
    return report


def _cycle(session: Session, cycle_id: int) -> Cycle:
    cycle = session.get(Cycle, cycle_id)
    if cycle is None:
        raise NotFound(f"cycle {cycle_id} does not exist")
    return cycle


# The reads of an advance, built once: a scoped advance runs after every submission, and building
# and coercing the statements cost more than running them (bench/complete_step.py).
_STEP = cast(Table, UnitStep.__table__).c
_TASK = cast(Table, HumanTask.__table__).c
_MEASURE = cast(Table, Measure.__table__).c
_STEPS = select(_STEP.id, _STEP.unit_id, _STEP.step_key, _STEP.state, _STEP.due_on).where(
    _STEP.cycle_id == bindparam("cycle_id")
)
_TASKS = select(
    _TASK.id,
    _TASK.natural_key,
    _TASK.unit_id,
    _TASK.step_key,
    _TASK.part_key,
    _TASK.state,
    _TASK.subject_person_id,
    _TASK.measure_id,
).where(_TASK.cycle_id == bindparam("cycle_id"), _TASK.step_key.not_in(LIVES_ON_STEP_KEYS))
_MEASURES = select(_MEASURE.id, _MEASURE.unit_id, _MEASURE.state, _MEASURE.revision).where(
    _MEASURE.cycle_id == bindparam("cycle_id")
)
_READS = (_STEPS, _TASKS, _MEASURES)
_READS_IN = (
    _STEPS.where(_STEP.unit_id.in_(bindparam("unit_ids", expanding=True))),
    _TASKS.where(_TASK.unit_id.in_(bindparam("unit_ids", expanding=True))),
    _MEASURES.where(_MEASURE.unit_id.in_(bindparam("unit_ids", expanding=True))),
)


#: Units planned together in a whole-cycle advance of a large organisation: memory stays that of a
#: thousand units' tasks whatever its size, and each part is still a handful of statements. An
#: organisation this size or smaller is read whole, in one go.
UNITS_AT_A_TIME = 1_000
_ACTIVE_UNITS = select(Unit.id).where(Unit.organisation_id == bindparam("organisation_id"), Unit.active.is_(True))


def _advance_in(
    session: Session, runtime: Runtime, cycle: Cycle, now: dt.datetime, units: list[int] | None = None
) -> AdvanceReport:
    """Advance the cycle in ``units`` (None: all of it, a thousand units at a time) and clear the
    advances that were owed there."""
    report = AdvanceReport(cycle.id, units[0] if units is not None and len(units) == 1 else None)
    zone = runtime.settings.zone
    today = today_for(now, zone)
    if cycle.state != CycleState.RUNNING:
        paid(session, cycle.id, owed(session, cycle.id))  # nothing is owed to a closed cycle
        return report
    if today < cycle.starts_on:
        # A cycle started ahead of time opens its first steps on its start date (the sweep does it).
        return report
    asked = owed(session, cycle.id, units)
    if units is not None:
        _advance_units(session, runtime, cycle, now, units, report)
    else:
        every = list(session.scalars(_ACTIVE_UNITS, {"organisation_id": cycle.organisation_id}))
        if len(every) <= UNITS_AT_A_TIME:
            _advance_units(session, runtime, cycle, now, None, report)
        for start in range(0, len(every), UNITS_AT_A_TIME) if len(every) > UNITS_AT_A_TIME else ():
            _advance_units(session, runtime, cycle, now, every[start : start + UNITS_AT_A_TIME], report)
        if cycle.reconciled_on != today:
            cycle.reconciled_on = today
    keep_unassignable(session, cycle.id, units, report.unassignable, now)
    paid(session, cycle.id, asked)
    return report


def _advance_units(
    session: Session, runtime: Runtime, cycle: Cycle, now: dt.datetime, units: list[int] | None, report: AdvanceReport
) -> None:
    """Plan and write ``units`` (None: every unit, the organisation read whole)."""
    zone = runtime.settings.zone
    today = today_for(now, zone)
    params: dict[str, object]
    if units is None:
        org, contacts = load_org(session, cycle.organisation_id, today)
        reads, params = _READS, {"cycle_id": cycle.id}
    else:
        org, contacts = load_org_around(session, cycle.organisation_id, units, [], today)
        reads, params = _READS_IN, {"cycle_id": cycle.id, "unit_ids": units}
    connection = session.connection()
    steps_read, tasks_read, measures_read = reads
    step_rows = connection.execute(steps_read, params).all()
    step_ids = {(r.unit_id, r.step_key): r.id for r in step_rows}
    steps = {(r.unit_id, r.step_key): StepFact(r.state, r.due_on) for r in step_rows}
    tasks = [TaskFact(*row) for row in connection.execute(tasks_read, params)]
    measures = [MeasureFact(*row) for row in connection.execute(measures_read, params)]
    planner = CyclePlanner(cycle_definition(session, cycle), cycle.id, step_due_dates(cycle), org, now, zone)
    plan = planner.plan(steps, tasks, measures, units=units)
    _write_plan(session, cycle.id, plan, step_ids, contacts, now, report)


def _write_plan(
    session: Session,
    cycle_id: int,
    plan: AdvancePlan,
    step_ids: dict[tuple[int, str], int],
    contacts: dict[int, Contact],
    now: dt.datetime,
    report: AdvanceReport,
) -> None:
    insert = insert_for(session)
    started = {UnitStepState.OPEN, UnitStepState.DONE, UnitStepState.SKIPPED}
    finished = {UnitStepState.DONE, UnitStepState.SKIPPED}
    new_steps = [
        {
            "cycle_id": cycle_id,
            "unit_id": c.unit_id,
            "step_key": c.step_key,
            "state": c.state,
            "due_on": c.due_on,
            "opened_at": now if c.state in started else None,
            "done_at": now if c.state in finished else None,
        }
        for c in plan.step_changes
        if c.is_new
    ]
    if new_steps:
        session.execute(
            insert(UnitStep).on_conflict_do_nothing(index_elements=["cycle_id", "unit_id", "step_key"]), new_steps
        )
    changed = [
        {
            "b_id": step_ids[(c.unit_id, c.step_key)],
            "b_state": c.state,
            "b_opened": now if c.state in started else None,
            "b_done": now if c.state in finished else None,
        }
        for c in plan.step_changes
        if not c.is_new
    ]
    if changed:
        table = cast(Table, UnitStep.__table__)
        session.execute(
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values(
                state=bindparam("b_state"),
                opened_at=func.coalesce(table.c.opened_at, bindparam("b_opened", type_=table.c.opened_at.type)),
                done_at=bindparam("b_done", type_=table.c.done_at.type),
            ),
            changed,
        )
    for change in plan.step_changes:
        if change.state is UnitStepState.OPEN:
            report.steps_opened += 1
        elif change.state is UnitStepState.DONE:
            report.steps_done += 1
        elif change.state is UnitStepState.SKIPPED:
            report.steps_skipped += 1

    if plan.cancel_task_ids:
        session.execute(
            update(HumanTask)
            .where(HumanTask.id.in_(plan.cancel_task_ids))
            .values(state=TaskState.CANCELLED, closed_at=now)
        )
        report.tasks_cancelled += len(plan.cancel_task_ids)

    if plan.new_tasks:
        rows = [_task_row(cycle_id, t, now) for t in plan.new_tasks]
        table = cast(Table, HumanTask.__table__)
        # Through the connection: the ORM's bulk path costs more per row than the insert itself.
        created = (
            session.connection()
            .execute(
                insert(table)
                .on_conflict_do_nothing(index_elements=["natural_key"])
                .returning(table.c.id, table.c.assignee_id, table.c.link_version),
                rows,
            )
            .all()
        )
        report.tasks_created += len(created)
        report.invitations_queued += queue_invitations(
            session, [(r.id, r.assignee_id, r.link_version) for r in created], contacts, now
        )
    report.unassignable += plan.unassignable  # a whole-cycle advance writes a thousand units at a time


def _task_row(cycle_id: int, task: Any, now: dt.datetime) -> dict[str, Any]:
    return {
        "natural_key": task.natural_key,
        "cycle_id": cycle_id,
        "unit_id": task.unit_id,
        "step_key": task.step_key,
        "part_key": task.part_key,
        "form_key": task.form_key,
        "subject_person_id": task.subject_id,
        "measure_id": task.measure_id,
        "assignee_id": task.assignee_id,
        "state": TaskState.OPEN,
        "due_on": task.due_on,
        "reminders_sent": task.reminders_sent,
        "escalation_level": 0,
        "link_version": 1,
        "created_at": now,
        "submitted_at": None,
        "closed_at": None,
    }
