"""The tasks nobody could be given (a unit without a leader, a leader without a manager ...): HR's
board lists them, and each advance publishes them in its Prefect artifact."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from aarshjul.db.models import Cycle, UnassignableTask, Unit
from aarshjul.usecases.reporting.board import _TaskNames
from aarshjul.usecases.reporting.board_model import LocalizedName
from aarshjul.usecases.shared.cycles import cycle_definition


class UnassignableView(BaseModel):
    model_config = ConfigDict(frozen=True)
    unit_id: int
    unit_name: str
    task_name: LocalizedName
    noticed_at: dt.datetime


def unassignable_tasks(session: Session, cycle_id: int) -> list[UnassignableView]:
    cycle = session.get(Cycle, cycle_id)
    if cycle is None:
        return []
    rows = session.execute(
        select(UnassignableTask.unit_id, Unit.name, UnassignableTask.step_key, UnassignableTask.part_key)
        .add_columns(UnassignableTask.noticed_at)
        .join(Unit, Unit.id == UnassignableTask.unit_id)
        .where(UnassignableTask.cycle_id == cycle_id)
        .order_by(Unit.name, UnassignableTask.step_key, UnassignableTask.part_key)
    ).all()
    if not rows:
        return []
    names = _TaskNames(cycle_definition(session, cycle))
    return [
        UnassignableView(
            unit_id=unit_id,
            unit_name=unit_name,
            task_name=names(step_key, part_key),
            noticed_at=noticed_at,
        )
        for unit_id, unit_name, step_key, part_key, noticed_at in rows
    ]
