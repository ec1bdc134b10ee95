"""Measure proposals waiting for HR, with the chain each answers."""

from __future__ import annotations

import datetime as dt

from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from aarshjul.db.models import (
    CompetenceArea,
    CriticalNeed,
    Measure,
    StrategicGoal,
    Unit,
    UnitGoal,
)
from aarshjul.domain.enums import MeasureScope, MeasureState
from aarshjul.domain.planning import CostLine, total_of
from aarshjul.usecases.planning.plan import CostLineView, MeasureDescription, _description, _line_view
from aarshjul.usecases.shared.costs import costs_of
from aarshjul.usecases.shared.money import Amounts


class MeasureProposal(MeasureDescription):
    """A measure as HR sees it when deciding: the description and the chain it answers."""

    id: int
    cycle_id: int
    state: str
    revision: int
    unit_id: int
    unit_name: str
    need_id: int
    need_title: str
    need_strategy: str
    area_name: str | None
    unit_goal: str
    strategic_goal: str
    hr_comment: str
    starts_on: dt.date | None = None
    costs: list[CostLineView] = Field(default_factory=list, description="Estimated cost lines (NOK)")
    cost: Amounts | None = None

    def cost_lines(self) -> list[CostLine]:
        return [CostLine(c.year, c.kind, c.amount, c.funding, c.scheme) for c in self.costs]


def measure_proposals(
    session: Session, cycle_id: int | None = None, states: tuple[str, ...] = (MeasureState.PROPOSED,)
) -> list[MeasureProposal]:
    query = (
        select(Measure, Unit.name, CriticalNeed, CompetenceArea.name, UnitGoal.title, StrategicGoal.title)
        .join(Unit, Unit.id == Measure.unit_id)
        .join(CriticalNeed, CriticalNeed.id == Measure.critical_need_id)
        .outerjoin(CompetenceArea, CompetenceArea.id == CriticalNeed.competence_area_id)
        .join(UnitGoal, UnitGoal.id == CriticalNeed.unit_goal_id)
        .join(StrategicGoal, StrategicGoal.id == UnitGoal.strategic_goal_id)
        .where(Measure.state.in_(states), Measure.scope == MeasureScope.UNIT)
        .order_by(Measure.id)
    )
    if cycle_id is not None:
        query = query.where(Measure.cycle_id == cycle_id)
    rows = session.execute(query).all()
    costs = costs_of(session, (r[0].id for r in rows))
    return [
        MeasureProposal(
            **_description(m),
            id=m.id,
            cycle_id=m.cycle_id,
            state=m.state,
            revision=m.revision,
            unit_id=m.unit_id,
            unit_name=unit_name,
            need_id=need.id,
            need_title=need.title,
            need_strategy=need.strategy,
            area_name=area_name,
            unit_goal=goal,
            strategic_goal=strategic,
            hr_comment=m.hr_comment,
            starts_on=m.starts_on,
            costs=[_line_view(c) for c in costs.get(m.id, [])],
            cost=Amounts.of(total_of(costs.get(m.id, []))),
        )
        for m, unit_name, need, area_name, goal, strategic in rows
    ]
