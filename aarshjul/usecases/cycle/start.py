"""Starting the year's cycle: preview it, start it, or clone last year's with every date one year on.

Starting is one transaction: the definition and dates are fixed, the first steps open and HR is told."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from aarshjul.db.engine import unit_of_work
from aarshjul.db.models import (
    Cycle,
    CycleDefinitionRecord,
    Organisation,
    Person,
    StrategyPeriod,
    Unit,
)
from aarshjul.domain.cycle_spec import CycleDefinition
from aarshjul.domain.enums import CycleState
from aarshjul.domain.errors import Conflict, InvalidInput, NotFound
from aarshjul.domain.progression import (
    CyclePlanner,
)
from aarshjul.runtime import Runtime
from aarshjul.usecases.cycle.advance import _advance_in
from aarshjul.usecases.cycle.definitions import check_definition
from aarshjul.usecases.shared.cycles import cycle_definition, step_due_dates, today_for
from aarshjul.usecases.shared.mail import message_to
from aarshjul.usecases.shared.org import load_org
from aarshjul.usecases.shared.writes import audit, serialize
from notifications.outbox import enqueue_many


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


@dataclass(frozen=True)
class _StartPlan:
    organisation_id: int
    period_id: int
    year: int
    starts_on: dt.date
    definition: CycleDefinition
    step_due: dict[str, dt.date]
    clone_from: int | None


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
            Cycle.organisation_id == organisation.id, Cycle.year == year, Cycle.state == CycleState.RUNNING
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
            state=CycleState.RUNNING,
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
            .where(Cycle.state != CycleState.CANCELLED)
            .order_by(Cycle.year.desc(), Cycle.id.desc())
            .limit(1)
        ).first()
    if latest is None:
        raise Conflict("there is no earlier cycle to clone")
    return start_cycle(runtime, latest.year + 1, starts_on=starts_on, actor=actor, clone_from=latest.id)
