"""What a form shows beside its fields: the earlier steps' rows it points at, and the task's rules."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Table, bindparam, select
from sqlalchemy.orm import Session

from aarshjul.db.models import (
    CompetenceArea,
    CriticalNeed,
    Cycle,
    HumanTask,
    Measure,
    StrategicGoal,
    StrategyPeriod,
    UnitGoal,
)
from aarshjul.domain.enums import FormKey, MeasureState
from aarshjul.usecases.shared.submissions import latest_submitted
from forms.fields import FormRules, RefKind
from forms.models import TalkPreparationForm
from forms.registry import referenced_kinds

#: Which blocks of earlier work each form shows.
SHOWN: dict[str, frozenset[str]] = {
    "strategy_review": frozenset({"main_goals"}),
    "unit_goals": frozenset({"main_goals"}),
    "action_plan": frozenset({"unit_goals"}),
    "needs_mapping": frozenset({"main_goals", "unit_goals"}),
    "measure_proposal": frozenset({"unit_goals", "critical_needs", "measures"}),
    "measure_approval": frozenset({"measure"}),
    "talk_preparation": frozenset({"critical_needs"}),
    "talk_record": frozenset({"preparation", "critical_needs", "measures"}),
    "talk_confirmation": frozenset({"preparation", "record"}),
    "goal_breakdown": frozenset({"unit_goals", "record"}),
    "goal_acknowledgement": frozenset({"individual_goals"}),
    "measure_evaluation": frozenset({"measure"}),
    "talk_follow_up": frozenset({"record"}),
}


#: Measures a proposal may amend, and measures a talk's development plan may name.
AMENDABLE_MEASURES = frozenset({MeasureState.PROPOSED, MeasureState.RETURNED, MeasureState.APPROVED})


LIVE_MEASURES = frozenset({MeasureState.PROPOSED, MeasureState.APPROVED})


@dataclass(frozen=True)
class MainGoalView:
    id: int
    code: str
    title: str
    description: str


@dataclass(frozen=True)
class UnitGoalView:
    id: int
    title: str
    priority: int
    indicator: str
    target: str
    main_goal: str


@dataclass(frozen=True)
class NeedView:
    id: int
    title: str
    kind: str
    level_needed: int
    level_today: int
    passive_competence: str
    strategy: str
    unit_goal: str


@dataclass(frozen=True)
class MeasureView:
    id: int
    title: str
    state: str
    revision: int
    critical_need: str
    unit_goal: str
    main_goal: str
    target_group: str
    desired_effect: str
    success_criteria: str
    learning_goals: str
    learning_form: str
    form_and_content: str
    evaluation_method: str
    evaluate_on: dt.date | None
    first_year: int
    last_year: int
    hr_comment: str


@dataclass(frozen=True)
class EarlierPart:
    """An earlier form's content as the reader may see it (the shared part of a preparation, say)."""

    form_key: str
    data: dict[str, Any]
    shared_only: bool = False


@dataclass
class FormContextView:
    main_goals: list[MainGoalView] = field(default_factory=list)
    unit_goals: list[UnitGoalView] = field(default_factory=list)
    critical_needs: list[NeedView] = field(default_factory=list)
    measures: list[MeasureView] = field(default_factory=list)
    measure: MeasureView | None = None
    preparation: EarlierPart | None = None
    record: EarlierPart | None = None
    individual_goals: EarlierPart | None = None


@dataclass(frozen=True)
class TaskInputs:
    """Everything a task's form is built from and checked against."""

    context: FormContextView
    rules: FormRules
    choices: dict[str, list[tuple[int, str]]]


def _measure_view(
    m: Measure, needs: dict[int, CriticalNeed], goals: dict[int, UnitGoal], mains: dict[int, str]
) -> MeasureView:
    need = needs.get(m.critical_need_id)
    goal = goals.get(need.unit_goal_id) if need is not None else None
    return MeasureView(
        id=m.id,
        title=m.title,
        state=m.state,
        revision=m.revision,
        critical_need=need.title if need else "",
        unit_goal=goal.title if goal else "",
        main_goal=mains.get(goal.strategic_goal_id, "") if goal else "",
        target_group=m.target_group,
        desired_effect=m.desired_effect,
        success_criteria=m.success_criteria,
        learning_goals=m.learning_goals,
        learning_form=m.learning_form,
        form_and_content=m.form_and_content,
        evaluation_method=m.evaluation_method,
        evaluate_on=m.evaluate_on,
        first_year=m.first_year,
        last_year=m.last_year,
        hr_comment=m.hr_comment,
    )


# What a submission's check needs, built once: the valid ids of each kind a form points at.
_GOAL = cast(Table, StrategicGoal.__table__).c
_AREA = cast(Table, CompetenceArea.__table__).c
_UNIT_GOAL = cast(Table, UnitGoal.__table__).c
_NEED = cast(Table, CriticalNeed.__table__).c
_MEASURE = cast(Table, Measure.__table__).c
_PERIOD = cast(Table, StrategyPeriod.__table__).c
_CYCLE = cast(Table, Cycle.__table__).c
_YEARS = (
    select(_PERIOD.first_year, _PERIOD.last_year)
    .join_from(cast(Table, Cycle.__table__), cast(Table, StrategyPeriod.__table__), _CYCLE.period_id == _PERIOD.id)
    .where(_CYCLE.id == bindparam("cycle_id"))
)
_PERIOD_OF_CYCLE = select(_CYCLE.period_id).where(_CYCLE.id == bindparam("cycle_id")).scalar_subquery()
_IN_UNIT = {"cycle_id", "unit_id"}
_VALID_IDS = {
    RefKind.MAIN_GOAL: select(_GOAL.id).where(_GOAL.period_id == _PERIOD_OF_CYCLE),
    RefKind.COMPETENCE_AREA: select(_AREA.id).where(_AREA.period_id == _PERIOD_OF_CYCLE),
    RefKind.UNIT_GOAL: select(_UNIT_GOAL.id).where(
        _UNIT_GOAL.cycle_id == bindparam("cycle_id"),
        _UNIT_GOAL.unit_id == bindparam("unit_id"),
        _UNIT_GOAL.retired.is_(False),
    ),
    RefKind.CRITICAL_NEED: select(_NEED.id).where(
        _NEED.cycle_id == bindparam("cycle_id"), _NEED.unit_id == bindparam("unit_id"), _NEED.retired.is_(False)
    ),
    RefKind.MEASURE: select(_MEASURE.id).where(
        _MEASURE.cycle_id == bindparam("cycle_id"),
        _MEASURE.unit_id == bindparam("unit_id"),
        _MEASURE.state.in_(bindparam("states", expanding=True)),
    ),
}


def task_rules(session: Session, task: HumanTask, today: dt.date) -> FormRules:
    """What the task's input is checked against, and no more: the valid ids of the kinds its form points
    at (``task_inputs`` gives the same rules with everything the page shows)."""
    connection = session.connection()
    params = {"cycle_id": task.cycle_id, "unit_id": task.unit_id}
    years = connection.execute(_YEARS, params).one()
    choices: dict[str, frozenset[int]] = {}
    for kind in sorted(referenced_kinds(task.form_key)):
        offered = AMENDABLE_MEASURES if task.form_key == FormKey.MEASURE_PROPOSAL else LIVE_MEASURES
        kind_params = {**params, "states": sorted(offered)} if kind == RefKind.MEASURE else params
        choices[kind] = frozenset(connection.execute(_VALID_IDS[kind], kind_params).scalars())
    return FormRules(choices=choices, first_year=years.first_year, last_year=years.last_year, today=today)


# What the page of a task reads, built once (every opened link reads it).
_MAINS = select(StrategicGoal).where(StrategicGoal.period_id == bindparam("period_id")).order_by(StrategicGoal.position)
_AREAS = (
    select(CompetenceArea).where(CompetenceArea.period_id == bindparam("period_id")).order_by(CompetenceArea.position)
)
_UNIT_GOALS = select(UnitGoal).where(
    UnitGoal.cycle_id == bindparam("cycle_id"), UnitGoal.unit_id == bindparam("unit_id")
)
_NEEDS = select(CriticalNeed).where(
    CriticalNeed.cycle_id == bindparam("cycle_id"), CriticalNeed.unit_id == bindparam("unit_id")
)
_UNIT_MEASURES = (
    select(Measure)
    .where(Measure.cycle_id == bindparam("cycle_id"), Measure.unit_id == bindparam("unit_id"))
    .order_by(Measure.id)
)


def task_inputs(session: Session, task: HumanTask, today: dt.date) -> TaskInputs:
    cycle = session.get(Cycle, task.cycle_id)
    if cycle is None:  # a foreign key guards this
        raise LookupError(f"task {task.id} has no cycle")
    period = session.get(StrategyPeriod, cycle.period_id)
    if period is None:
        raise LookupError(f"cycle {cycle.id} has no strategy period")
    in_period = {"period_id": period.id}
    in_unit = {"cycle_id": cycle.id, "unit_id": task.unit_id}
    mains = list(session.scalars(_MAINS, in_period))
    areas = list(session.scalars(_AREAS, in_period))
    all_goals = {g.id: g for g in session.scalars(_UNIT_GOALS, in_unit)}
    all_needs = {n.id: n for n in session.scalars(_NEEDS, in_unit)}
    goals = sorted((g for g in all_goals.values() if not g.retired), key=lambda g: (g.priority, g.id))
    needs = sorted((n for n in all_needs.values() if not n.retired), key=lambda n: n.id)
    measures = list(session.scalars(_UNIT_MEASURES, in_unit))
    main_titles = {g.id: f"{g.code} {g.title}" for g in mains}
    goal_titles = {g.id: g.title for g in all_goals.values()}

    offered = AMENDABLE_MEASURES if task.form_key == FormKey.MEASURE_PROPOSAL else LIVE_MEASURES
    usable_measures = [m for m in measures if MeasureState(m.state) in offered]
    choices: dict[str, list[tuple[int, str]]] = {
        RefKind.MAIN_GOAL: [(g.id, main_titles[g.id]) for g in mains],
        RefKind.UNIT_GOAL: [(g.id, f"{g.priority}. {g.title}") for g in goals],
        RefKind.CRITICAL_NEED: [(n.id, n.title) for n in needs],
        RefKind.MEASURE: [(m.id, m.title) for m in usable_measures],
        RefKind.COMPETENCE_AREA: [(a.id, a.name) for a in areas],
    }
    rules = FormRules(
        choices={kind: frozenset(i for i, _ in pairs) for kind, pairs in choices.items()},
        first_year=period.first_year,
        last_year=period.last_year,
        today=today,
    )

    shown = SHOWN.get(task.form_key, frozenset())
    context = FormContextView()
    if "main_goals" in shown:
        context.main_goals = [MainGoalView(g.id, g.code, g.title, g.description) for g in mains]
    if "unit_goals" in shown:
        context.unit_goals = [
            UnitGoalView(g.id, g.title, g.priority, g.indicator, g.target, main_titles.get(g.strategic_goal_id, ""))
            for g in goals
        ]
    if "critical_needs" in shown:
        context.critical_needs = [
            NeedView(
                n.id,
                n.title,
                n.kind,
                n.level_needed,
                n.level_today,
                n.passive_competence,
                n.strategy,
                goal_titles.get(n.unit_goal_id, ""),
            )
            for n in needs
        ]
    if "measures" in shown:
        context.measures = [_measure_view(m, all_needs, all_goals, main_titles) for m in measures]
    if "measure" in shown and task.measure_id is not None:
        measure = session.get(Measure, task.measure_id)
        if measure is not None:
            context.measure = _measure_view(measure, all_needs, all_goals, main_titles)
    subject = task.subject_person_id
    if "preparation" in shown and subject is not None:
        prepared = latest_submitted(session, cycle.id, "talk_preparation", subject)
        if prepared is not None:
            if task.assignee_id == subject:
                context.preparation = EarlierPart("talk_preparation", prepared)
            else:
                shared = TalkPreparationForm.model_validate(prepared).shared_with_leader()
                context.preparation = EarlierPart("talk_preparation", shared, shared_only=True)
    if "record" in shown and subject is not None:
        recorded = latest_submitted(session, cycle.id, "talk_record", subject)
        if recorded is not None:
            context.record = EarlierPart("talk_record", recorded)
    if "individual_goals" in shown and subject is not None:
        broken_down = latest_submitted(session, cycle.id, "goal_breakdown", subject)
        if broken_down is not None:
            context.individual_goals = EarlierPart("goal_breakdown", broken_down)
    return TaskInputs(context=context, rules=rules, choices=choices)
