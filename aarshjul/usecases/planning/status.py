"""The yearly status of the plan, as HR reports it to the council: for each measure of the plan that
runs in the year, whether it was planned, started and done, its evaluation, and the money planned and
spent (where the evaluation reported it).

- planned: the measure runs in the year by the plan;
- started: its start date (else the first of January of its first year) has come, in the year or before;
- done: its evaluation was submitted by the end of the year.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from aarshjul.domain.errors import InvalidInput
from aarshjul.domain.planning import ZERO, nok, parse_amount
from aarshjul.usecases.planning.plan import PlanPeriod, PlanVersionInfo, competence_plan
from aarshjul.usecases.planning.versions import in_force
from aarshjul.usecases.shared.money import NOK

_Model = ConfigDict(frozen=True)


class MeasureYearStatus(BaseModel):
    model_config = _Model
    id: int
    title: str
    area_name: str
    unit_name: str
    scope: str
    first_year: int
    last_year: int
    planned: bool
    started: bool
    done: bool
    starts_on: dt.date | None
    evaluated_on: dt.date | None = Field(description="When its evaluation was submitted, if it is in")
    criteria_met: str | None = Field(description="yes / partly / no, from the evaluation")
    cost_planned: NOK = Field(description="Its cost lines of the year")
    cost_spent: NOK | None = Field(description="What the evaluation reported as spent, if it did")


class StatusTotals(BaseModel):
    model_config = _Model
    measures: int
    started: int
    done: int
    evaluations: int
    cost_planned: NOK
    cost_spent: NOK = Field(description="The sum of the costs reported spent")


class YearlyStatus(BaseModel):
    model_config = _Model
    period: PlanPeriod
    year: int
    as_of: dt.date
    version_in_force: PlanVersionInfo | None
    measures: list[MeasureYearStatus]
    totals: StatusTotals


def _spent(answers: dict[str, object]) -> Decimal | None:
    value = answers.get("cost_spent")
    if value in (None, ""):
        return None
    try:
        return nok(parse_amount(str(value)))
    except ValueError:
        return None


def yearly_status(session: Session, year: int, today: dt.date, period_id: int | None = None) -> YearlyStatus:
    plan = competence_plan(session, period_id)
    if not plan.period.first_year <= year <= plan.period.last_year:
        raise InvalidInput("year", f"a year of the strategy period ({plan.period.first_year}–{plan.period.last_year})")
    end = min(dt.date(year, 12, 31), today)
    rows: list[MeasureYearStatus] = []
    for area in plan.areas:
        for m in area.measures:
            if year not in m.years:
                continue
            start = m.starts_on or dt.date(m.first_year, 1, 1)
            evaluation = m.evaluation
            submitted = evaluation.submitted_at.date() if evaluation and evaluation.submitted_at else None
            # As of the end of the year (or today, in the running year): a later evaluation is not in yet.
            evaluated_on = submitted if submitted is not None and submitted <= end else None
            answers = evaluation.answers if evaluation and evaluated_on else {}
            criteria = answers.get("criteria_met")
            rows.append(
                MeasureYearStatus(
                    id=m.id,
                    title=m.title,
                    area_name=area.name,
                    unit_name=m.unit_name,
                    scope=m.scope,
                    first_year=m.first_year,
                    last_year=m.last_year,
                    planned=True,
                    started=start <= end or evaluated_on is not None,
                    done=evaluated_on is not None,
                    starts_on=m.starts_on,
                    evaluated_on=evaluated_on,
                    criteria_met=str(criteria) if criteria else None,
                    cost_planned=sum((c.amount for c in m.costs if c.year == year), ZERO),
                    cost_spent=_spent(answers),
                )
            )
    return YearlyStatus(
        period=plan.period,
        year=year,
        as_of=today,
        version_in_force=in_force(session, plan.period.id),
        measures=rows,
        totals=StatusTotals(
            measures=len(rows),
            started=sum(r.started for r in rows),
            done=sum(r.done for r in rows),
            evaluations=sum(r.evaluated_on is not None for r in rows),
            cost_planned=sum((r.cost_planned for r in rows), ZERO),
            cost_spent=sum((r.cost_spent for r in rows if r.cost_spent is not None), ZERO),
        ),
    )
