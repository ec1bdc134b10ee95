"""What a form shows beside its fields: the earlier steps' rows it points at, and the task's rules."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Table, bindparam, select
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
    Unit,
    UnitGoal,
    UnitGoalCompetence,
)
from aarshjul.domain.enums import PERSONAL_FORMS, TALK_FORMS, FormKey, MeasureScope, MeasureState, TaskState
from aarshjul.usecases.shared.submissions import latest_submitted
from aarshjul.usecases.work.competence_context import (
    CompetencePictureView,
    FeedbackSummaryView,
    LastYearTalkView,
    competence_picture,
    feedback_summary,
    last_year_talk,
    previous_cycle,
)
from aarshjul.usecases.work.links import latest_version
from forms.carry_over import Difference, differences, starting_point
from forms.fields import FormRules, RefKind
from forms.models import AREA_OF_COMPETENCE, TalkPreparationForm
from forms.registry import form_class, referenced_kinds

#: Which blocks of earlier work each form shows.
SHOWN: dict[str, frozenset[str]] = {
    "strategy_review": frozenset({"main_goals"}),
    "unit_goals": frozenset({"main_goals"}),
    "action_plan": frozenset({"unit_goals"}),
    "needs_mapping": frozenset({"main_goals", "unit_goals", "competence_picture"}),
    "measure_proposal": frozenset({"unit_goals", "critical_needs", "measures"}),
    "measure_approval": frozenset({"measure"}),
    "talk_preparation": frozenset({"critical_needs", "last_year_talk"}),
    "talk_record": frozenset({"preparation", "critical_needs", "measures", "last_year_talk"}),
    "talk_confirmation": frozenset({"preparation", "record"}),
    "goal_breakdown": frozenset({"unit_goals", "record"}),
    "goal_acknowledgement": frozenset({"individual_goals"}),
    "measure_evaluation": frozenset({"measure", "participant_feedback"}),
    "talk_follow_up": frozenset({"record"}),
    "competence_mapping": frozenset({"unit_goals"}),
    "measure_feedback": frozenset({"measure"}),
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
    parent_goal: str = ""  #: the parent unit's goal it serves ("Unit: title"), if any
    competences: list[str] = field(default_factory=list)  #: the catalogue's competences it calls for


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
    competence: str = ""  #: the catalogue's competence, if the need names one


@dataclass(frozen=True)
class MeasureView:
    id: int
    title: str
    state: str
    revision: int
    critical_need: str
    unit_goal: str
    main_goal: str
    parent_goal: str  #: the goal of the parent unit the unit goal serves, if any (the cascade)
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
    #: On the needs mapping: the employees' competence mapping, added up (or hidden, for a small group).
    competence_picture: CompetencePictureView | None = None
    #: On the owner's evaluation: the participants' answers, added up (or hidden, for a small group).
    participant_feedback: FeedbackSummaryView | None = None
    #: On the talk forms: what was agreed in last year's talk and how it was followed up.
    last_year_talk: LastYearTalkView | None = None
    #: Last year's answers to the same form as a starting point, and what changed since.
    last_year: LastYearAnswers | None = None


@dataclass(frozen=True)
class LastYearAnswers:
    year: int
    data: dict[str, Any]  #: last year's answers fitted to this year's choices: a starting point
    changes: list[Difference] = field(default_factory=list)  #: this year's answers against them


@dataclass(frozen=True)
class TaskInputs:
    """Everything a task's form is built from and checked against."""

    context: FormContextView
    rules: FormRules
    choices: dict[str, list[tuple[int, str]]]


def _measure_view(
    m: Measure,
    needs: dict[int, CriticalNeed],
    goals: dict[int, UnitGoal],
    mains: dict[int, str],
    parents: dict[int, str],
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
        parent_goal=parents.get(goal.parent_goal_id, "") if goal and goal.parent_goal_id else "",
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
_COMPETENCE = cast(Table, Competence.__table__).c
_GOAL_COMPETENCE = cast(Table, UnitGoalCompetence.__table__).c
_UNIT = cast(Table, Unit.__table__).c
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
    RefKind.COMPETENCE: select(_COMPETENCE.id).where(
        _COMPETENCE.period_id == _PERIOD_OF_CYCLE, _COMPETENCE.retired.is_(False)
    ),
    # The competences the unit's live goals call for (what its self-assessment asks about).
    RefKind.UNIT_COMPETENCE: select(_GOAL_COMPETENCE.competence_id)
    .join_from(
        cast(Table, UnitGoalCompetence.__table__),
        cast(Table, UnitGoal.__table__),
        _GOAL_COMPETENCE.unit_goal_id == _UNIT_GOAL.id,
    )
    .where(
        _UNIT_GOAL.cycle_id == bindparam("cycle_id"),
        _UNIT_GOAL.unit_id == bindparam("unit_id"),
        _UNIT_GOAL.retired.is_(False),
    )
    .distinct(),
    # The parent unit's live goals in the same cycle (a sub-unit's goal may serve one).
    RefKind.PARENT_GOAL: select(_UNIT_GOAL.id).where(
        _UNIT_GOAL.cycle_id == bindparam("cycle_id"),
        _UNIT_GOAL.unit_id == select(_UNIT.parent_id).where(_UNIT.id == bindparam("unit_id")).scalar_subquery(),
        _UNIT_GOAL.retired.is_(False),
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
    .where(
        Measure.cycle_id == bindparam("cycle_id"),
        Measure.unit_id == bindparam("unit_id"),
        Measure.scope == MeasureScope.UNIT,
    )
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
    area_position = {a.id: a.position for a in areas}
    catalogue = sorted(
        session.scalars(select(Competence).where(Competence.period_id == period.id)),
        key=lambda c: (area_position.get(c.area_id, 0), c.position, c.id),
    )
    goals = sorted((g for g in all_goals.values() if not g.retired), key=lambda g: (g.priority, g.id))
    needs = sorted((n for n in all_needs.values() if not n.retired), key=lambda n: n.id)
    measures = list(session.scalars(_UNIT_MEASURES, in_unit))
    main_titles = {g.id: f"{g.code} {g.title}" for g in mains}
    goal_titles = {g.id: g.title for g in all_goals.values()}
    competence_names = {c.id: c.name for c in catalogue}
    goal_competences: dict[int, list[int]] = {}
    for goal_id, competence_id in session.execute(
        select(UnitGoalCompetence.unit_goal_id, UnitGoalCompetence.competence_id).where(
            UnitGoalCompetence.unit_goal_id.in_([g.id for g in goals])
        )
    ):
        goal_competences.setdefault(goal_id, []).append(competence_id)
    called_for = {c for ids in goal_competences.values() for c in ids}
    parent_goals = _parent_goals(session, cycle.id, task.unit_id)
    parents = _goal_names(session, {g.parent_goal_id for g in all_goals.values() if g.parent_goal_id})

    offered = AMENDABLE_MEASURES if task.form_key == FormKey.MEASURE_PROPOSAL else LIVE_MEASURES
    usable_measures = [m for m in measures if MeasureState(m.state) in offered]
    if task.form_key in TALK_FORMS:
        usable_measures += _running_measures(session, cycle, task.unit_id)
    choices: dict[str, list[tuple[int, str]]] = {
        RefKind.MAIN_GOAL: [(g.id, main_titles[g.id]) for g in mains],
        RefKind.UNIT_GOAL: [(g.id, f"{g.priority}. {g.title}") for g in goals],
        RefKind.CRITICAL_NEED: [(n.id, n.title) for n in needs],
        RefKind.MEASURE: [(m.id, m.title) for m in usable_measures],
        RefKind.COMPETENCE_AREA: [(a.id, a.name) for a in areas],
        RefKind.COMPETENCE: [(c.id, c.name) for c in catalogue if not c.retired],
        RefKind.UNIT_COMPETENCE: [(c.id, c.name) for c in catalogue if c.id in called_for],
        RefKind.PARENT_GOAL: parent_goals,
    }
    rules = FormRules(
        choices={kind: frozenset(i for i, _ in pairs) for kind, pairs in choices.items()},
        first_year=period.first_year,
        last_year=period.last_year,
        today=today,
        extra={AREA_OF_COMPETENCE: {c.id: c.area_id for c in catalogue}},
    )

    shown = SHOWN.get(task.form_key, frozenset())
    context = FormContextView()
    if "main_goals" in shown:
        context.main_goals = [MainGoalView(g.id, g.code, g.title, g.description) for g in mains]
    if "unit_goals" in shown:
        context.unit_goals = [
            UnitGoalView(
                g.id,
                g.title,
                g.priority,
                g.indicator,
                g.target,
                main_titles.get(g.strategic_goal_id, ""),
                parents.get(g.parent_goal_id, "") if g.parent_goal_id else "",
                [competence_names[c] for c in goal_competences.get(g.id, []) if c in competence_names],
            )
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
                competence_names.get(n.competence_id, "") if n.competence_id else "",
            )
            for n in needs
        ]
    if "measures" in shown:
        context.measures = [_measure_view(m, all_needs, all_goals, main_titles, parents) for m in measures]
    if "measure" in shown and task.measure_id is not None:
        measure = session.get(Measure, task.measure_id)
        if measure is not None:
            context.measure = _measure_chain(session, measure, main_titles)
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


def _parent_goals(session: Session, cycle_id: int, unit_id: int) -> list[tuple[int, str]]:
    """The goals of the unit's parent unit in the same cycle, as a sub-unit's goal may point at them."""
    parent_id = session.scalar(select(Unit.parent_id).where(Unit.id == unit_id))
    if parent_id is None:
        return []
    rows = session.scalars(
        select(UnitGoal)
        .where(UnitGoal.cycle_id == cycle_id, UnitGoal.unit_id == parent_id, UnitGoal.retired.is_(False))
        .order_by(UnitGoal.priority, UnitGoal.id)
    )
    return [(g.id, f"{g.priority}. {g.title}") for g in rows]


def _goal_names(session: Session, ids: set[int | None]) -> dict[int, str]:
    """Goals of other units as the cascade names them: "Unit: goal"."""
    wanted = sorted(i for i in ids if i is not None)
    if not wanted:
        return {}
    rows = session.execute(
        select(UnitGoal.id, Unit.name, UnitGoal.title)
        .join(Unit, Unit.id == UnitGoal.unit_id)
        .where(UnitGoal.id.in_(wanted))
    )
    return {goal_id: f"{unit_name}: {title}" for goal_id, unit_name, title in rows}


def _running_measures(session: Session, cycle: Cycle, unit_id: int) -> list[Measure]:
    """Measures of the unit approved in an earlier cycle that still run in this cycle's year: a talk's
    development plan may name them (a measure over several years has participants every year)."""
    return list(
        session.scalars(
            select(Measure)
            .join(Cycle, Cycle.id == Measure.cycle_id)
            .where(
                Measure.unit_id == unit_id,
                Measure.cycle_id != cycle.id,
                Cycle.organisation_id == cycle.organisation_id,
                Measure.state.in_((MeasureState.APPROVED, MeasureState.EVALUATED)),
                Measure.first_year <= cycle.year,
                Measure.last_year >= cycle.year,
            )
            .order_by(Measure.id)
        )
    )


def _measure_chain(session: Session, measure: Measure, mains: dict[int, str]) -> MeasureView:
    """One measure with the whole chain it answers, also when it belongs to another cycle."""
    need = session.get(CriticalNeed, measure.critical_need_id)
    goal = session.get(UnitGoal, need.unit_goal_id) if need is not None else None
    needs = {need.id: need} if need is not None else {}
    goals = {goal.id: goal} if goal is not None else {}
    if goal is not None and goal.strategic_goal_id not in mains:
        main = session.get(StrategicGoal, goal.strategic_goal_id)
        mains = {**mains, **({main.id: f"{main.code} {main.title}"} if main else {})}
    parents = _goal_names(session, {goal.parent_goal_id if goal else None})
    return _measure_view(measure, needs, goals, mains, parents)


#: Forms whose last year's answers are offered as a starting point. A decision, a confirmation, an
#: acknowledgement or an evaluation is about this year's occasion only.
CARRIED_FORMS = frozenset(
    {
        FormKey.STRATEGY_REVIEW,
        FormKey.UNIT_GOALS,
        FormKey.ACTION_PLAN,
        FormKey.NEEDS_MAPPING,
        FormKey.MEASURE_PROPOSAL,
        FormKey.COMPETENCE_MAPPING,
        FormKey.TALK_PREPARATION,
        FormKey.TALK_RECORD,
        FormKey.GOAL_BREAKDOWN,
    }
)


def complete_context(
    session: Session, task: HumanTask, inputs: TaskInputs, today: dt.date, current: dict[str, Any]
) -> None:
    """Add what only the opened form shows (not needed to check a submission): the competence picture,
    the participants' answers, last year's talk, and last year's answers against ``current``."""
    cycle = session.get(Cycle, task.cycle_id)
    if cycle is None:  # a foreign key guards this
        raise LookupError(f"task {task.id} has no cycle")
    shown = SHOWN.get(task.form_key, frozenset())
    context = inputs.context
    if "competence_picture" in shown:
        context.competence_picture = competence_picture(session, cycle.id, task.unit_id)
    if "participant_feedback" in shown and task.measure_id is not None:
        context.participant_feedback = feedback_summary(session, task.measure_id, task.evaluation_year, today)
    if "last_year_talk" in shown and task.subject_person_id is not None:
        context.last_year_talk = last_year_talk(session, cycle, task.subject_person_id)
    if task.form_key in CARRIED_FORMS:
        context.last_year = _last_year_answers(session, task, cycle, inputs, today, current)


def _last_year_answers(
    session: Session, task: HumanTask, cycle: Cycle, inputs: TaskInputs, today: dt.date, current: dict[str, Any]
) -> LastYearAnswers | None:
    """The same form of the same unit (or employee) in the previous cycle. A personal form's answers
    go to the person who gave them, and to nobody else (a new leader does not read the old one's record)."""
    earlier = previous_cycle(session, cycle)
    if earlier is None:
        return None
    query = select(HumanTask).where(
        HumanTask.cycle_id == earlier.id,
        HumanTask.form_key == task.form_key,
        HumanTask.state == TaskState.SUBMITTED,
    )
    if task.subject_person_id is not None:
        query = query.where(HumanTask.subject_person_id == task.subject_person_id)
    else:
        query = query.where(HumanTask.unit_id == task.unit_id, HumanTask.subject_person_id.is_(None))
    if task.form_key in PERSONAL_FORMS:
        query = query.where(HumanTask.assignee_id == task.assignee_id)
    old_task = session.scalars(query.order_by(HumanTask.id.desc()).limit(1)).first()
    if old_task is None:
        return None
    last_submitted = latest_version(session, old_task.id, submitted_only=True)
    answers = dict(last_submitted.data) if last_submitted is not None else None
    if answers is None:
        return None
    cls = form_class(task.form_key)
    old_choices = task_inputs(session, old_task, today).choices
    fitted = starting_point(cls, answers, old_choices, inputs.choices, cycle.year - earlier.year)
    changes = differences(cls, fitted, current, inputs.choices) if current else []
    return LastYearAnswers(year=earlier.year, data=fitted, changes=changes)
