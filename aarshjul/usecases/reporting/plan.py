"""The competence plan over the strategy period: areas with their main goal, the approved measures
and the years they run, and the units' needs rolled up by area."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from aarshjul.db.models import (
    Competence,
    CompetenceArea,
    CriticalNeed,
    Cycle,
    HumanTask,
    Measure,
    StrategicGoal,
    StrategyPeriod,
    Submission,
    Unit,
    UnitGoal,
)
from aarshjul.domain.enums import CycleState, FormKey, MeasureState, TaskState
from aarshjul.domain.errors import NotFound
from aarshjul.domain.progression import EVALUATION_STEP_KEY
from aarshjul.usecases.reporting.answers import FormField, flatten
from forms.messages import CHOICE_LABELS
from forms.registry import FORMS

PLANNED_STATES = (MeasureState.APPROVED, MeasureState.EVALUATED)


_Model = ConfigDict(frozen=True)


class PlanPeriod(BaseModel):
    model_config = _Model
    id: int
    name: str
    first_year: int
    last_year: int


class MeasureEvaluation(BaseModel):
    model_config = _Model
    submitted_at: dt.datetime | None
    answers: dict[str, Any] = Field(description="The evaluation form's answers by field key, as submitted")
    fields: list[FormField] = Field(
        default_factory=list,
        description="The answers in the form's order, each labelled with the form's field title (English "
        "message id, shown translated)",
    )


class MeasureDescription(BaseModel):
    """A measure as the lecture's template describes it (what HR decides on and the plan shows)."""

    model_config = _Model
    title: str
    learning_form: str
    target_group: str
    desired_effect: str
    success_criteria: str
    learning_goals: str
    form_and_content: str
    evaluation_method: str
    evaluate_on: dt.date | None
    first_year: int
    last_year: int


def _description(measure: Measure) -> dict[str, Any]:
    return {name: getattr(measure, name) for name in MeasureDescription.model_fields}


class PlanMeasure(MeasureDescription):
    """One approved measure with the chain it answers and, once done, its evaluation."""

    id: int
    state: str
    years: list[int] = Field(description="The period's years in which the measure runs")
    unit_id: int
    unit_name: str
    cycle_year: int
    need_id: int
    need_title: str
    need_strategy: str
    unit_goal: str
    strategic_goal: str
    evaluation: MeasureEvaluation | None = None


class PlanArea(BaseModel):
    model_config = _Model
    id: int | None = Field(description="None for measures whose need names no competence area")
    code: str
    name: str
    main_goal: str
    measures: list[PlanMeasure]


class PassiveCompetence(BaseModel):
    model_config = _Model
    unit_id: int
    unit_name: str
    text: str


class NeedGroup(BaseModel):
    """One critical need as several units named it: the same competence of the catalogue, or for needs
    outside the catalogue the same title (ignoring case and spaces)."""

    model_config = _Model
    title: str
    competence_id: int | None = Field(default=None, description="The catalogue's competence the units named")
    units_count: int
    units: list[str]
    strategies: dict[str, int]
    largest_gap: int = Field(description="Highest level needed minus level today among the units")
    passive: list[PassiveCompetence]


class AreaNeeds(BaseModel):
    model_config = _Model
    area_id: int | None
    area_name: str
    needs: list[NeedGroup]


class CompetencePlan(BaseModel):
    model_config = _Model
    period: PlanPeriod
    years: list[int]
    areas: list[PlanArea]
    needs_cycle_year: int | None = Field(description="The cycle year whose critical needs the roll-up shows")
    needs_by_area: list[AreaNeeds]


def _period(session: Session, period_id: int | None) -> StrategyPeriod:
    if period_id is not None:
        period = session.get(StrategyPeriod, period_id)
        if period is None:
            raise NotFound(f"strategy period {period_id} does not exist")
        return period
    latest_cycle_period = session.scalar(
        select(Cycle.period_id)
        .where(Cycle.state != CycleState.CANCELLED)
        .order_by(Cycle.year.desc(), Cycle.id.desc())
        .limit(1)
    )
    period = (
        session.get(StrategyPeriod, latest_cycle_period)
        if latest_cycle_period is not None
        else session.scalars(select(StrategyPeriod).order_by(StrategyPeriod.last_year.desc()).limit(1)).first()
    )
    if period is None:
        raise NotFound("no strategy period is loaded")
    return period


def competence_plan(session: Session, period_id: int | None = None, needs_year: int | None = None) -> CompetencePlan:
    period = _period(session, period_id)
    years = list(range(period.first_year, period.last_year + 1))
    areas = list(
        session.scalars(
            select(CompetenceArea).where(CompetenceArea.period_id == period.id).order_by(CompetenceArea.position)
        )
    )
    rows = session.execute(
        select(Measure, Unit.name, Cycle.year, CriticalNeed, UnitGoal.title, StrategicGoal.title)
        .join(Cycle, Cycle.id == Measure.cycle_id)
        .join(Unit, Unit.id == Measure.unit_id)
        .join(CriticalNeed, CriticalNeed.id == Measure.critical_need_id)
        .join(UnitGoal, UnitGoal.id == CriticalNeed.unit_goal_id)
        .join(StrategicGoal, StrategicGoal.id == UnitGoal.strategic_goal_id)
        .where(Cycle.period_id == period.id, Measure.state.in_(PLANNED_STATES))
        .order_by(Measure.first_year, Measure.id)
    ).all()
    evaluations = _evaluations(session, [r[0].id for r in rows])
    by_area: dict[int | None, list[PlanMeasure]] = defaultdict(list)
    for measure, unit_name, cycle_year, need, goal_title, strategic_title in rows:
        by_area[need.competence_area_id].append(
            PlanMeasure(
                **_description(measure),
                id=measure.id,
                state=measure.state,
                years=[y for y in years if measure.first_year <= y <= measure.last_year],
                unit_id=measure.unit_id,
                unit_name=unit_name,
                cycle_year=cycle_year,
                need_id=need.id,
                need_title=need.title,
                need_strategy=need.strategy,
                unit_goal=goal_title,
                strategic_goal=strategic_title,
                evaluation=evaluations.get(measure.id),
            )
        )
    plan_areas = [
        PlanArea(id=a.id, code=a.code, name=a.name, main_goal=a.main_goal, measures=by_area.get(a.id, []))
        for a in areas
    ]
    if by_area.get(None):
        plan_areas.append(PlanArea(id=None, code="", name="", main_goal="", measures=by_area[None]))
    needs_cycle_year, needs = _needs_roll_up(session, period, areas, needs_year)
    return CompetencePlan(
        period=PlanPeriod(id=period.id, name=period.name, first_year=period.first_year, last_year=period.last_year),
        years=years,
        areas=plan_areas,
        needs_cycle_year=needs_cycle_year,
        needs_by_area=needs,
    )


def _evaluations(session: Session, measure_ids: list[int]) -> dict[int, MeasureEvaluation]:
    if not measure_ids:
        return {}
    newest = (
        select(Submission.task_id, func.max(Submission.version).label("version"))
        .where(Submission.is_draft.is_(False))
        .group_by(Submission.task_id)
        .subquery()
    )
    rows = session.execute(
        select(HumanTask.measure_id, HumanTask.submitted_at, HumanTask.form_key, Submission.data)
        .join(newest, newest.c.task_id == HumanTask.id)
        .join(Submission, and_(Submission.task_id == newest.c.task_id, Submission.version == newest.c.version))
        .where(
            HumanTask.measure_id.in_(measure_ids),
            HumanTask.step_key == EVALUATION_STEP_KEY,
            HumanTask.state == TaskState.SUBMITTED,
        )
    )
    return {
        measure_id: MeasureEvaluation(submitted_at=submitted_at, answers=data or {}, fields=_labelled(data, form_key))
        for measure_id, submitted_at, form_key, data in rows
    }


def _labelled(data: dict[str, Any] | None, form_key: FormKey) -> list[FormField]:
    """The evaluation's answers labelled with the form's field titles; a choice (criteria met, what
    next) shows the option's label as the form offered it, not its code."""
    return [
        field.model_copy(update={"value": CHOICE_LABELS.get(field.value, field.value)}) if field.coded else field
        for field in flatten(data or {}, FORMS.get(form_key))
    ]


def _needs_roll_up(
    session: Session, period: StrategyPeriod, areas: list[CompetenceArea], year: int | None
) -> tuple[int | None, list[AreaNeeds]]:
    if year is None:
        year = session.scalar(
            select(func.max(Cycle.year))
            .join(CriticalNeed, CriticalNeed.cycle_id == Cycle.id)
            .where(Cycle.period_id == period.id, Cycle.state != CycleState.CANCELLED)
        )
    if year is None:
        return None, []
    rows = session.execute(
        select(CriticalNeed, Unit.name, Competence.name)
        .join(Cycle, Cycle.id == CriticalNeed.cycle_id)
        .join(Unit, Unit.id == CriticalNeed.unit_id)
        .outerjoin(Competence, Competence.id == CriticalNeed.competence_id)
        .where(
            Cycle.period_id == period.id,
            Cycle.year == year,
            Cycle.state != CycleState.CANCELLED,
            CriticalNeed.retired.is_(False),
        )
        .order_by(CriticalNeed.id)
    ).all()
    grouped: dict[int | None, dict[int | str, list[tuple[CriticalNeed, str]]]] = defaultdict(lambda: defaultdict(list))
    competence_names: dict[int, str] = {}
    for need, unit_name, competence_name in rows:
        # By competence when the need names one of the catalogue: units use different words for it.
        key: int | str = need.competence_id if need.competence_id is not None else " ".join(need.title.lower().split())
        if need.competence_id is not None:
            competence_names[need.competence_id] = competence_name
        grouped[need.competence_area_id][key].append((need, unit_name))
    names: dict[int | None, str] = {a.id: a.name for a in areas}
    order = [a.id for a in areas] + ([None] if None in grouped else [])
    result: list[AreaNeeds] = []
    for area_id in order:
        if area_id not in grouped:
            continue
        groups: list[NeedGroup] = []
        for key, entries in grouped[area_id].items():
            unit_names: dict[int, str] = {}
            strategies: dict[str, int] = defaultdict(int)
            passive: list[PassiveCompetence] = []
            for need, unit_name in entries:
                unit_names[need.unit_id] = unit_name
                strategies[need.strategy] += 1
                if need.passive_competence.strip():
                    passive.append(
                        PassiveCompetence(unit_id=need.unit_id, unit_name=unit_name, text=need.passive_competence)
                    )
            groups.append(
                NeedGroup(
                    title=competence_names[key] if isinstance(key, int) else entries[0][0].title,
                    competence_id=key if isinstance(key, int) else None,
                    units_count=len(unit_names),
                    units=sorted(unit_names.values()),
                    strategies=dict(strategies),
                    largest_gap=max(n.level_needed - n.level_today for n, _ in entries),
                    passive=passive,
                )
            )
        # Most widely named first: that is where a shared measure serves most units.
        groups.sort(key=lambda g: (-g.units_count, g.title.lower()))
        result.append(AreaNeeds(area_id=area_id, area_name=names.get(area_id, ""), needs=groups))
    return year, result
