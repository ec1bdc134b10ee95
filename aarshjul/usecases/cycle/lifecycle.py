"""A cycle's end: HR closes it (or cancels it); and which cycles are running."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from aarshjul.db.engine import unit_of_work
from aarshjul.db.models import (
    Cycle,
    HumanTask,
    Unit,
    UnitStep,
)
from aarshjul.domain.enums import CycleState, TaskState, UnitStepState
from aarshjul.domain.errors import Conflict, NotFound
from aarshjul.domain.followups import LIVES_ON_STEP_KEYS
from aarshjul.runtime import Runtime
from aarshjul.usecases.shared.writes import audit, serialize


def _running_cycle(session: Session, cycle_id: int) -> Cycle:
    cycle = session.get(Cycle, cycle_id)
    if cycle is None:
        raise NotFound(f"cycle {cycle_id} does not exist")
    if cycle.state != CycleState.RUNNING:
        raise Conflict(f"cycle {cycle_id} is {cycle.state}, not running")
    return cycle


def _stop(session: Session, cycle: Cycle, now: dt.datetime) -> int:
    """Stop a cycle's open step tasks (evaluation and follow-up tasks live on); returns how many were cancelled."""
    result = session.execute(
        update(HumanTask)
        .where(
            HumanTask.cycle_id == cycle.id,
            HumanTask.step_key.not_in(LIVES_ON_STEP_KEYS),
            HumanTask.state.in_([TaskState.OPEN, TaskState.RETURNED]),
        )
        .values(state=TaskState.CANCELLED, closed_at=now)
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
                UnitStep.state.not_in([UnitStepState.DONE, UnitStepState.SKIPPED]),
            )
        )
        if unfinished and not force:
            raise Conflict(f"{unfinished} unit steps of cycle {cycle_id} are not finished yet")
        cancelled = _stop(session, cycle, now)
        cycle.state, cycle.closed_at = CycleState.CLOSED, now
        audit(
            session,
            now,
            actor,
            "cycle.close",
            "cycle",
            cycle_id,
            before={"state": CycleState.RUNNING, "unfinished_steps": unfinished},
            after={"state": CycleState.CLOSED, "tasks_cancelled": cancelled},
        )


def cancel_cycle(runtime: Runtime, cycle_id: int, actor: str) -> None:
    """Stop a running cycle; its year may be started again."""
    now = runtime.clock()
    with unit_of_work(runtime.sessions) as session:
        serialize(session, f"advance:{cycle_id}")
        cycle = _running_cycle(session, cycle_id)
        cancelled = _stop(session, cycle, now)
        cycle.state, cycle.closed_at = CycleState.CANCELLED, now
        audit(
            session,
            now,
            actor,
            "cycle.cancel",
            "cycle",
            cycle_id,
            before={"state": CycleState.RUNNING},
            after={"state": CycleState.CANCELLED, "tasks_cancelled": cancelled},
        )


def running_cycle_ids(runtime: Runtime) -> list[int]:
    with runtime.sessions() as session:
        return list(session.scalars(select(Cycle.id).where(Cycle.state == CycleState.RUNNING).order_by(Cycle.id)))


def year_of_cycle(runtime: Runtime, cycle_id: int) -> int | None:
    """The cycle's year, for naming its runs; None if there is no such cycle."""
    with runtime.sessions() as session:
        return session.scalar(select(Cycle.year).where(Cycle.id == cycle_id))
