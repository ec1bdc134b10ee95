"""Small helpers for cycle tests: act as the people of the demo organisation would, straight on the
database (the forms engineer's submit use case is tested on its own), and read back what happened."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from aarshjul.db.engine import unit_of_work
from aarshjul.db.models import Base, HumanTask, Measure, Notification, StrategicGoal, UnitStep
from aarshjul.domain.enums import MeasureState, TaskState
from aarshjul.runtime import Runtime
from tests.builders import add_measure


def at(day: str, hour: int = 7) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour), tzinfo=dt.UTC)


def open_tasks(runtime: Runtime, **where: Any) -> list[HumanTask]:
    with runtime.sessions() as session:
        query = select(HumanTask).where(HumanTask.state.in_([TaskState.OPEN.value, TaskState.RETURNED.value]))
        for column, value in where.items():
            query = query.where(getattr(HumanTask, column) == value)
        return list(session.scalars(query.order_by(HumanTask.id)))


def submit(runtime: Runtime, tasks: list[HumanTask]) -> None:
    """Submit the tasks as their assignees would (state and time only)."""
    if not tasks:
        return
    with unit_of_work(runtime.sessions) as session:
        session.execute(
            update(HumanTask)
            .where(HumanTask.id.in_([t.id for t in tasks]))
            .values(state=TaskState.SUBMITTED.value, submitted_at=runtime.clock())
        )


def propose_measure(
    runtime: Runtime, cycle_id: int, unit_id: int, owner_id: int, evaluate_on: dt.date | None, last_year: int
) -> int:
    """What submitting a measure proposal leaves behind: a goal, a critical need and a proposed measure."""
    with unit_of_work(runtime.sessions) as session:
        goal_id = session.scalars(select(StrategicGoal.id).order_by(StrategicGoal.id)).first()
        assert goal_id is not None
        measure = add_measure(
            session,
            cycle_id=cycle_id,
            unit_id=unit_id,
            owner_id=owner_id,
            strategic_goal_id=goal_id,
            title="Tiltak",
            state=MeasureState.PROPOSED,
            evaluate_on=evaluate_on,
            year=last_year,
        )
        return measure.id


def approve(runtime: Runtime, measure_id: int) -> None:
    """HR approves: the measure is approved and the approval task submitted, in one go."""
    with unit_of_work(runtime.sessions) as session:
        session.execute(
            update(Measure)
            .where(Measure.id == measure_id)
            .values(state=MeasureState.APPROVED.value, decided_at=runtime.clock())
        )
        session.execute(
            update(HumanTask)
            .where(HumanTask.measure_id == measure_id, HumanTask.state == TaskState.OPEN.value)
            .values(state=TaskState.SUBMITTED.value, submitted_at=runtime.clock())
        )


def step_states(runtime: Runtime, cycle_id: int) -> dict[tuple[int, str], str]:
    with runtime.sessions() as session:
        rows = session.execute(
            select(UnitStep.unit_id, UnitStep.step_key, UnitStep.state).where(UnitStep.cycle_id == cycle_id)
        )
        return {(r.unit_id, r.step_key): r.state for r in rows}


def notifications(runtime: Runtime, template: str | None = None) -> list[Notification]:
    with runtime.sessions() as session:
        query = select(Notification).order_by(Notification.id)
        if template is not None:
            query = query.where(Notification.template == template)
        return list(session.scalars(query))


def invited_task_ids(runtime: Runtime) -> Counter[int]:
    """How often each task was named in an invitation: exactly once is right."""
    counts: Counter[int] = Counter()
    for message in notifications(runtime, "task_invitation"):
        counts.update(message.context["task_ids"])
    return counts


def dump_database(session: Session) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in primary-key order: two dumps are equal iff nothing changed."""
    dump = {}
    for table in Base.metadata.sorted_tables:
        order = list(table.primary_key.columns)
        dump[table.name] = [tuple(row) for row in session.execute(select(table).order_by(*order))]
    return dump
