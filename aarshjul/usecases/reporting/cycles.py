"""The cycles as HR sees them: the list, the latest one, one cycle with its definition."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from aarshjul.db.models import (
    Cycle,
    CycleDefinitionRecord,
)
from aarshjul.domain.cycle_spec import CycleDefinition, parse_definition
from aarshjul.domain.enums import CycleState
from aarshjul.domain.errors import NotFound
from aarshjul.usecases.reporting.board_model import CycleInfo, _Model


def latest_cycle_id(session: Session) -> int | None:
    """The running cycle of the latest year, else the latest cycle of any state."""
    return session.scalar(
        select(Cycle.id)
        .order_by((Cycle.state == CycleState.RUNNING).desc(), Cycle.year.desc(), Cycle.id.desc())
        .limit(1)
    )


def load_cycle(session: Session, cycle_id: int) -> tuple[Cycle, CycleDefinition]:
    cycle = session.get(Cycle, cycle_id)
    if cycle is None:
        raise NotFound(f"cycle {cycle_id} does not exist")
    record = session.get(CycleDefinitionRecord, cycle.definition_id)
    if record is None:
        raise NotFound(f"cycle {cycle_id} has no stored definition")
    return cycle, parse_definition(record.content, f"cycle {cycle_id} definition")


def _cycle_info(cycle: Cycle, definition: CycleDefinition) -> CycleInfo:
    return CycleInfo(
        id=cycle.id,
        year=cycle.year,
        state=cycle.state,
        starts_on=cycle.starts_on,
        definition_key=definition.key,
        definition_version=definition.version,
    )


class CycleSummary(BaseModel):
    model_config = _Model
    id: int
    year: int
    state: str
    starts_on: dt.date
    step_due: dict[str, dt.date]
    cloned_from_id: int | None
    created_at: dt.datetime
    created_by: str
    closed_at: dt.datetime | None


def list_cycles(session: Session) -> list[CycleSummary]:
    return [
        CycleSummary(
            id=c.id,
            year=c.year,
            state=c.state,
            starts_on=c.starts_on,
            step_due={k: dt.date.fromisoformat(v) for k, v in c.step_due.items()},
            cloned_from_id=c.cloned_from_id,
            created_at=c.created_at,
            created_by=c.created_by,
            closed_at=c.closed_at,
        )
        for c in session.scalars(select(Cycle).order_by(Cycle.year.desc(), Cycle.id.desc()))
    ]
