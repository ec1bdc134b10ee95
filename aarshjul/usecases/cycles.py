"""Use cases of the yearly cycle: start (or preview, or clone) it, advance it, close or cancel it.

Each use case is one transaction; the emails it causes are queued in that same transaction. The
advance is a reconcile: it compares the cycle's state with the rules and makes up the difference,
so running it twice changes nothing and a crashed run is repaired by the next one.
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
    CycleDefinitionRecord,
    HumanTask,
    Measure,
    Organisation,
    Person,
    StrategyPeriod,
    Unit,
    UnitStep,
)
from aarshjul.domain.cycle_spec import CycleDefinition, parse_definition
from aarshjul.domain.enums import CycleState, MeasureState, TaskState, UnitStepState
from aarshjul.domain.errors import Conflict, CycleDefinitionError, InvalidInput, NotFound
from aarshjul.domain.followups import LIVES_ON_STEP_KEYS
from aarshjul.domain.progression import (
    AdvancePlan,
    CyclePlanner,
    MeasureFact,
    StepFact,
    TaskFact,
)
from aarshjul.runtime import Runtime
from aarshjul.usecases.cycle_support import (
    Contact,
    audit,
    cycle_definition,
    insert_for,
    load_org,
    message_to,
    queue_invitations,
    serialize,
    step_due_dates,
    today_for,
)
from forms.registry import FORMS
from notifications.outbox import enqueue_many

#: Forms whose rows must point at rows that another form records: an action and a critical need
#: serve a unit goal, a measure answers a critical need, the talk's development plan is tied to a
#: critical need (or to a measure, which answers one), an individual goal serves a unit goal. A
#: definition that drops the step recording them would leave the later step impossible to submit.
FORM_INPUTS: dict[str, frozenset[str]] = {
    "action_plan": frozenset({"unit_goals"}),
    "needs_mapping": frozenset({"unit_goals"}),
    "measure_proposal": frozenset({"needs_mapping"}),
    "talk_record": frozenset({"needs_mapping"}),
    "goal_breakdown": frozenset({"unit_goals"}),
}


@dataclass
class AdvanceReport:
    cycle_id: int
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


@dataclass(frozen=True)
class PreviewTask:
    person_id: int
    person_name: str
    unit_id: int
    unit_name: str
    step_key: str
    part_key: str
    form_key: str
    due_on: dt.date


@dataclass(frozen=True)
class CyclePreview:
    year: int
    starts_on: dt.date
    definition_key: str
    definition_version: int
    step_due: dict[str, dt.date]
    first_tasks: list[PreviewTask]


# --- start ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _StartPlan:
    organisation_id: int
    period_id: int
    year: int
    starts_on: dt.date
    definition: CycleDefinition
    step_due: dict[str, dt.date]
    clone_from: int | None


def definition_problems(definition: CycleDefinition) -> list[str]:
    """What keeps a definition from running to the end: a form this product does not have, or a step
    whose form needs what a dropped (or later) step records."""
    problems = []
    for form in sorted({definition.evaluation_form} - set(FORMS)):
        problems.append(f"evaluation_form: no form called {form!r}")
    for step in definition.active_steps:
        earlier: set[str] = set()
        stack = list(definition.effective_dependencies(step.key))
        while stack:
            key = stack.pop()
            if key not in earlier:
                earlier.add(key)
                stack.extend(definition.effective_dependencies(key))
        recorded = {part.form for key in earlier for part in definition.step(key).parts}
        for part in step.parts:
            if part.form not in FORMS:
                problems.append(f"step {step.key}, part {part.key}: no form called {part.form!r}")
            for needed in sorted(FORM_INPUTS.get(part.form, frozenset()) - recorded):
                problems.append(
                    f"step {step.key}, part {part.key}: form {part.form!r} needs what form {needed!r} records, "
                    "but no enabled step before it uses that form"
                )
    return problems


def check_definition(definition: CycleDefinition, source: str = "the cycle definition") -> CycleDefinition:
    """The definition, if a cycle can run on it to the end; else a CycleDefinitionError naming each problem."""
    problems = definition_problems(definition)
    if problems:
        raise CycleDefinitionError(f"{source}: " + "; ".join(problems))
    return definition


def _organisation(session: Session) -> Organisation:
    organisation = session.scalars(select(Organisation).order_by(Organisation.id).limit(1)).first()
    if organisation is None:
        raise Conflict("no organisation has been imported yet")
    return organisation


def _plan_start(
    session: Session,
    runtime: Runtime,
    year: int,
    starts_on: dt.date | None,
    step_due: dict[str, dt.date] | None,
    definition: CycleDefinition | None,
    clone_from: int | None,
) -> _StartPlan:
    today = today_for(runtime.clock(), runtime.settings.zone)
    organisation = _organisation(session)
    periods = list(
        session.scalars(
            select(StrategyPeriod).where(StrategyPeriod.organisation_id == organisation.id).order_by(StrategyPeriod.id)
        )
    )
    if not periods:
        raise Conflict("no strategy period is loaded; load the strategy before starting a cycle")
    period = next((p for p in periods if p.first_year <= year <= p.last_year), None)
    if period is None:
        spans = ", ".join(f"{p.first_year}–{p.last_year}" for p in periods)
        raise InvalidInput("year", f"{year} is outside the strategy period ({spans})")
    due_overrides: dict[str, dt.date] = {}
    if clone_from is not None:
        source = session.get(Cycle, clone_from)
        if source is None:
            raise NotFound(f"cycle {clone_from} does not exist")
        definition = definition or cycle_definition(session, source).shifted_one_year()
        starts_on = starts_on or _one_year_on(source.starts_on)
        # Last year's dates as they were finally fixed (HR may have moved some), one year on.
        due_overrides = {k: _one_year_on(v) for k, v in step_due_dates(source).items()}
    definition = check_definition(definition or runtime.cycle_definition())
    starts_on = starts_on or today
    if starts_on < today:
        raise InvalidInput("starts_on", f"{starts_on.isoformat()} is in the past")
    running = session.scalar(
        select(Cycle.id).where(
            Cycle.organisation_id == organisation.id, Cycle.year == year, Cycle.state == CycleState.RUNNING.value
        )
    )
    if running is not None:
        raise Conflict(f"the cycle for {year} is already running (cycle {running})")
    dates = definition.due_dates(starts_on)
    dates.update({k: v for k, v in due_overrides.items() if k in dates})
    for key, day in (step_due or {}).items():
        if key not in dates:
            raise InvalidInput(f"step_due.{key}", "no such step in the cycle definition")
        dates[key] = day
    for key, day in dates.items():
        if day < starts_on:
            raise InvalidInput(f"step_due.{key}", f"{day.isoformat()} is before the cycle starts")
    return _StartPlan(organisation.id, period.id, year, starts_on, definition, dates, clone_from)


def _one_year_on(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year + 1, day=28)


def _definition_record(session: Session, definition: CycleDefinition, now: dt.datetime) -> int:
    existing = session.scalar(
        select(CycleDefinitionRecord.id).where(
            CycleDefinitionRecord.key == definition.key,
            CycleDefinitionRecord.version == definition.version,
            CycleDefinitionRecord.sha256 == definition.sha256,
        )
    )
    if existing is not None:
        return existing
    record = CycleDefinitionRecord(
        key=definition.key,
        version=definition.version,
        sha256=definition.sha256,
        content=definition.model_dump(mode="json"),
        loaded_at=now,
    )
    session.add(record)
    session.flush()
    return record.id


def start_cycle(
    runtime: Runtime,
    year: int,
    starts_on: dt.date | None = None,
    step_due: dict[str, dt.date] | None = None,
    actor: str = "cli",
    definition: CycleDefinition | None = None,
    clone_from: int | None = None,
) -> int:
    """Start the cycle of ``year``: fix its definition and dates, open the first steps, tell HR."""
    now = runtime.clock()
    with unit_of_work(runtime.sessions) as session:
        serialize(session, "start-cycle")
        plan = _plan_start(session, runtime, year, starts_on, step_due, definition, clone_from)
        cycle = Cycle(
            organisation_id=plan.organisation_id,
            period_id=plan.period_id,
            definition_id=_definition_record(session, plan.definition, now),
            year=plan.year,
            starts_on=plan.starts_on,
            state=CycleState.RUNNING.value,
            step_due={k: v.isoformat() for k, v in plan.step_due.items()},
            cloned_from_id=plan.clone_from,
            created_at=now,
            created_by=actor,
        )
        session.add(cycle)
        session.flush()
        audit(
            session,
            now,
            actor,
            "cycle.start",
            "cycle",
            cycle.id,
            after={
                "year": plan.year,
                "starts_on": plan.starts_on.isoformat(),
                "definition": f"{plan.definition.key} v{plan.definition.version}",
                "step_due": cycle.step_due,
                "cloned_from": plan.clone_from,
            },
        )
        _advance_in(session, runtime, cycle, now)
        org, contacts = load_org(session, cycle.organisation_id, today_for(now, runtime.settings.zone))
        hr = org.hr()
        if hr is not None:
            enqueue_many(
                session,
                [message_to(contacts[hr], f"cycle_started:{cycle.id}", "cycle_started", {"cycle_id": cycle.id}, now)],
                now,
            )
        cycle_id = cycle.id
    runtime.triggers.dispatch()
    return cycle_id


def preview_cycle(
    runtime: Runtime,
    year: int,
    starts_on: dt.date | None = None,
    step_due: dict[str, dt.date] | None = None,
    definition: CycleDefinition | None = None,
    clone_from: int | None = None,
) -> CyclePreview:
    """What starting the cycle would do: its dates, and who gets which first task when. Writes nothing."""
    with runtime.sessions() as session:
        plan = _plan_start(session, runtime, year, starts_on, step_due, definition, clone_from)
        # As of the start date: that is when the first tasks go out.
        now = max(runtime.clock(), _start_moment(plan.starts_on, runtime))
        org, _ = load_org(session, plan.organisation_id, plan.starts_on)
        planner = CyclePlanner(plan.definition, 0, plan.step_due, org, now, runtime.settings.zone)
        advance_plan = planner.plan({}, [], [])
        # Result objects have .keys(), so dict() would take them for mappings; build the dicts by hand.
        names = {
            row.id: row.name
            for row in session.execute(
                select(Person.id, Person.name).where(Person.organisation_id == plan.organisation_id)
            )
        }
        unit_names = {
            row.id: row.name
            for row in session.execute(select(Unit.id, Unit.name).where(Unit.organisation_id == plan.organisation_id))
        }
    first = [
        PreviewTask(
            person_id=t.assignee_id,
            person_name=names.get(t.assignee_id, ""),
            unit_id=t.unit_id,
            unit_name=unit_names.get(t.unit_id, ""),
            step_key=t.step_key,
            part_key=t.part_key,
            form_key=t.form_key,
            due_on=t.due_on,
        )
        for t in advance_plan.new_tasks
    ]
    return CyclePreview(plan.year, plan.starts_on, plan.definition.key, plan.definition.version, plan.step_due, first)


def _start_moment(day: dt.date, runtime: Runtime) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(8, 0), tzinfo=runtime.settings.zone).astimezone(dt.UTC)


def clone_last_year(runtime: Runtime, actor: str = "cli", starts_on: dt.date | None = None) -> int:
    """Start next year's cycle from the latest cycle's definition, with every date one year on."""
    with runtime.sessions() as session:
        latest = session.scalars(
            select(Cycle)
            .where(Cycle.state != CycleState.CANCELLED.value)
            .order_by(Cycle.year.desc(), Cycle.id.desc())
            .limit(1)
        ).first()
    if latest is None:
        raise Conflict("there is no earlier cycle to clone")
    return start_cycle(runtime, latest.year + 1, starts_on=starts_on, actor=actor, clone_from=latest.id)


# --- advance ----------------------------------------------------------------------------------


def advance_cycle(runtime: Runtime, cycle_id: int, now: dt.datetime | None = None) -> AdvanceReport:
    """Open every unit step whose inputs are in, create the tasks that are due, close finished steps."""
    now = now or runtime.clock()
    with unit_of_work(runtime.sessions) as session:
        serialize(session, f"advance:{cycle_id}")
        cycle = session.get(Cycle, cycle_id)
        if cycle is None:
            raise NotFound(f"cycle {cycle_id} does not exist")
        report = _advance_in(session, runtime, cycle, now)
    if report.invitations_queued:
        runtime.triggers.dispatch()
    return report


def _advance_in(session: Session, runtime: Runtime, cycle: Cycle, now: dt.datetime) -> AdvanceReport:
    report = AdvanceReport(cycle.id)
    zone = runtime.settings.zone
    if cycle.state != CycleState.RUNNING.value or today_for(now, zone) < cycle.starts_on:
        # A cycle started ahead of time opens its first steps on its start date (the sweep does it).
        return report
    definition = cycle_definition(session, cycle)
    org, contacts = load_org(session, cycle.organisation_id, today_for(now, zone))
    step_rows = session.execute(
        select(UnitStep.id, UnitStep.unit_id, UnitStep.step_key, UnitStep.state, UnitStep.due_on).where(
            UnitStep.cycle_id == cycle.id
        )
    ).all()
    step_ids = {(r.unit_id, r.step_key): r.id for r in step_rows}
    steps = {(r.unit_id, r.step_key): StepFact(UnitStepState(r.state), r.due_on) for r in step_rows}
    tasks = [
        TaskFact(
            r.id,
            r.natural_key,
            r.unit_id,
            r.step_key,
            r.part_key,
            TaskState(r.state),
            r.subject_person_id,
            r.measure_id,
        )
        for r in session.execute(
            select(
                HumanTask.id,
                HumanTask.natural_key,
                HumanTask.unit_id,
                HumanTask.step_key,
                HumanTask.part_key,
                HumanTask.state,
                HumanTask.subject_person_id,
                HumanTask.measure_id,
            ).where(HumanTask.cycle_id == cycle.id, HumanTask.step_key.not_in(LIVES_ON_STEP_KEYS))
        )
    ]
    measures = [
        MeasureFact(r.id, r.unit_id, MeasureState(r.state), r.revision)
        for r in session.execute(
            select(Measure.id, Measure.unit_id, Measure.state, Measure.revision).where(Measure.cycle_id == cycle.id)
        )
    ]
    plan = CyclePlanner(definition, cycle.id, step_due_dates(cycle), org, now, zone).plan(steps, tasks, measures)
    _write_plan(session, cycle.id, plan, step_ids, contacts, now, report)
    return report


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
            "state": c.state.value,
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
            "b_state": c.state.value,
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
            .values(state=TaskState.CANCELLED.value, closed_at=now)
        )
        report.tasks_cancelled = len(plan.cancel_task_ids)

    if plan.new_tasks:
        rows = [_task_row(cycle_id, t, now) for t in plan.new_tasks]
        created = session.execute(
            insert(HumanTask)
            .on_conflict_do_nothing(index_elements=["natural_key"])
            .returning(HumanTask.id, HumanTask.assignee_id, HumanTask.link_version),
            rows,
        ).all()
        report.tasks_created = len(created)
        report.invitations_queued = queue_invitations(
            session, [(r.id, r.assignee_id, r.link_version) for r in created], contacts, now
        )
    report.unassignable = plan.unassignable


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
        "state": TaskState.OPEN.value,
        "due_on": task.due_on,
        "reminders_sent": task.reminders_sent,
        "escalation_level": 0,
        "link_version": 1,
        "created_at": now,
        "submitted_at": None,
        "closed_at": None,
    }


# --- close and cancel -------------------------------------------------------------------------


def _running_cycle(session: Session, cycle_id: int) -> Cycle:
    cycle = session.get(Cycle, cycle_id)
    if cycle is None:
        raise NotFound(f"cycle {cycle_id} does not exist")
    if cycle.state != CycleState.RUNNING.value:
        raise Conflict(f"cycle {cycle_id} is {cycle.state}, not running")
    return cycle


def _stop(session: Session, cycle: Cycle, now: dt.datetime) -> int:
    """Stop a cycle's open step tasks (evaluation and follow-up tasks live on); returns how many were cancelled."""
    result = session.execute(
        update(HumanTask)
        .where(
            HumanTask.cycle_id == cycle.id,
            HumanTask.step_key.not_in(LIVES_ON_STEP_KEYS),
            HumanTask.state.in_([TaskState.OPEN.value, TaskState.RETURNED.value]),
        )
        .values(state=TaskState.CANCELLED.value, closed_at=now)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def close_cycle(runtime: Runtime, cycle_id: int, actor: str, force: bool = False) -> None:
    """HR closes a cycle once every unit has finished it (``force`` closes it anyway and stops open tasks)."""
    now = runtime.clock()
    with unit_of_work(runtime.sessions) as session:
        serialize(session, f"advance:{cycle_id}")
        cycle = _running_cycle(session, cycle_id)
        # A unit an org import has since removed will never finish; it does not hold the cycle open.
        unfinished = session.scalar(
            select(func.count())
            .select_from(UnitStep)
            .join(Unit, Unit.id == UnitStep.unit_id)
            .where(
                UnitStep.cycle_id == cycle_id,
                Unit.active.is_(True),
                UnitStep.state.not_in([UnitStepState.DONE.value, UnitStepState.SKIPPED.value]),
            )
        )
        if unfinished and not force:
            raise Conflict(f"{unfinished} unit steps of cycle {cycle_id} are not finished yet")
        cancelled = _stop(session, cycle, now)
        cycle.state, cycle.closed_at = CycleState.CLOSED.value, now
        audit(
            session,
            now,
            actor,
            "cycle.close",
            "cycle",
            cycle_id,
            before={"state": CycleState.RUNNING.value, "unfinished_steps": unfinished},
            after={"state": CycleState.CLOSED.value, "tasks_cancelled": cancelled},
        )


def cancel_cycle(runtime: Runtime, cycle_id: int, actor: str) -> None:
    """Stop a running cycle; its year may be started again."""
    now = runtime.clock()
    with unit_of_work(runtime.sessions) as session:
        serialize(session, f"advance:{cycle_id}")
        cycle = _running_cycle(session, cycle_id)
        cancelled = _stop(session, cycle, now)
        cycle.state, cycle.closed_at = CycleState.CANCELLED.value, now
        audit(
            session,
            now,
            actor,
            "cycle.cancel",
            "cycle",
            cycle_id,
            before={"state": CycleState.RUNNING.value},
            after={"state": CycleState.CANCELLED.value, "tasks_cancelled": cancelled},
        )


def running_cycle_ids(runtime: Runtime) -> list[int]:
    with runtime.sessions() as session:
        return list(session.scalars(select(Cycle.id).where(Cycle.state == CycleState.RUNNING.value).order_by(Cycle.id)))


def definition_of(runtime: Runtime, cycle_id: int) -> CycleDefinition:
    with runtime.sessions() as session:
        cycle = session.get(Cycle, cycle_id)
        if cycle is None:
            raise NotFound(f"cycle {cycle_id} does not exist")
        record = session.get(CycleDefinitionRecord, cycle.definition_id)
        if record is None:
            raise NotFound(f"cycle {cycle_id} has no definition")
        return parse_definition(record.content)
