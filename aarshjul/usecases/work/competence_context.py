"""What the competence forms show beside their fields, read in the caller's session:

- the unit's competence picture on the leader's needs mapping: the employees' self-assessed mastery
  as counts per level (never names; nothing for fewer than five people) and the competence not in use
  that people chose to share with their leader;
- the participants' answers on the owner's evaluation of a measure, added up the same way, once the
  survey has closed;
- last year's agreed development plan, follow-ups and individual goals on this year's talk forms.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from aarshjul.db.models import (
    Competence,
    CompetenceArea,
    CompetenceAssessment,
    CriticalNeed,
    Cycle,
    HumanTask,
    Measure,
    Person,
    SharedCompetence,
    Submission,
)
from aarshjul.domain.competence import MIN_GROUP_SIZE, shuffled_texts, tally
from aarshjul.domain.enums import CycleState, FormKey, MasteryLevel, TaskState
from aarshjul.domain.followups import FOLLOW_UP_STEP_KEY
from aarshjul.usecases.shared.submissions import latest_submitted
from forms.models import LearningGain, MeasureFeedbackForm, Usefulness


@dataclass(frozen=True)
class Count:
    value: str  #: an answer of the scale (a code, shown through its label)
    count: int


@dataclass(frozen=True)
class CompetenceLevels:
    competence_id: int
    name: str
    area: str
    respondents: int
    hidden: bool  #: fewer than the minimum group answered: no counts
    counts: list[Count] = field(default_factory=list)


@dataclass(frozen=True)
class SharedView:
    person: str
    competence: str  #: the catalogue's name, or "" for the free text
    text: str


@dataclass(frozen=True)
class CompetencePictureView:
    """The unit's competence mapping as its leader sees it."""

    asked: int  #: employees given the mapping
    respondents: int  #: of them, who submitted it
    minimum_group_size: int
    hidden: bool  #: fewer than the minimum group answered: the counts are not shown
    competences: list[CompetenceLevels] = field(default_factory=list)
    shared: list[SharedView] = field(default_factory=list)


def competence_picture(session: Session, cycle_id: int, unit_id: int) -> CompetencePictureView | None:
    """None when the unit's cycle has no competence mapping (the organisation does not use it)."""
    states = [
        TaskState(s)
        for s in session.scalars(
            select(HumanTask.state).where(
                HumanTask.cycle_id == cycle_id,
                HumanTask.unit_id == unit_id,
                HumanTask.form_key == FormKey.COMPETENCE_MAPPING,
                HumanTask.state != TaskState.CANCELLED,
            )
        )
    ]
    if not states:
        return None
    respondents = sum(1 for s in states if s is TaskState.SUBMITTED)
    hidden = respondents < MIN_GROUP_SIZE
    competences: list[CompetenceLevels] = []
    if not hidden:
        levels: dict[int, list[MasteryLevel]] = {}
        names: dict[int, tuple[str, str, int, int]] = {}
        rows = session.execute(
            select(
                CompetenceAssessment.competence_id,
                CompetenceAssessment.level,
                Competence.name,
                CompetenceArea.name,
                CompetenceArea.position,
                Competence.position,
            )
            .join(HumanTask, HumanTask.id == CompetenceAssessment.task_id)
            .join(Competence, Competence.id == CompetenceAssessment.competence_id)
            .join(CompetenceArea, CompetenceArea.id == Competence.area_id)
            .where(
                CompetenceAssessment.cycle_id == cycle_id,
                CompetenceAssessment.unit_id == unit_id,
                HumanTask.state == TaskState.SUBMITTED,
            )
        )
        for competence_id, level, name, area, area_position, position in rows:
            levels.setdefault(competence_id, []).append(level)
            names[competence_id] = (name, area, area_position, position)
        # The catalogue's order: never an order by how well people master it.
        for competence_id in sorted(names, key=lambda c: (names[c][2], names[c][3], c)):
            counted = tally(MasteryLevel, levels[competence_id])
            competences.append(
                CompetenceLevels(
                    competence_id=competence_id,
                    name=names[competence_id][0],
                    area=names[competence_id][1],
                    respondents=counted.respondents,
                    hidden=counted.hidden,
                    counts=[Count(v, n) for v, n in counted.counts],
                )
            )
    shared = [
        SharedView(person=person, competence=competence or "", text=text)
        for person, competence, text in session.execute(
            select(Person.name, Competence.name, SharedCompetence.text)
            .join(Person, Person.id == SharedCompetence.person_id)
            .outerjoin(Competence, Competence.id == SharedCompetence.competence_id)
            .where(SharedCompetence.cycle_id == cycle_id, SharedCompetence.unit_id == unit_id)
            .order_by(Person.name, SharedCompetence.id)
        )
    ]
    return CompetencePictureView(
        asked=len(states),
        respondents=respondents,
        minimum_group_size=MIN_GROUP_SIZE,
        hidden=hidden,
        competences=competences,
        shared=shared,
    )


# --- participants' answers on the owner's evaluation --------------------------------------------


@dataclass(frozen=True)
class FeedbackSummaryView:
    """What the participants of one year of a measure said, as the owner may see it."""

    year: int
    invited: int
    answered: int
    closes_on: dt.date
    closed: bool  #: the survey has closed (its date has passed, or everyone answered): counts may show
    minimum_group_size: int
    hidden: bool  #: fewer than the minimum group answered: nothing but the numbers above
    usefulness: list[Count] = field(default_factory=list)
    learning: list[Count] = field(default_factory=list)
    learnt: list[str] = field(default_factory=list)
    better: list[str] = field(default_factory=list)


def _newest_submissions(session: Session, task_ids: list[int]) -> dict[int, dict[str, Any]]:
    if not task_ids:
        return {}
    newest = (
        select(Submission.task_id, func.max(Submission.version).label("version"))
        .where(Submission.task_id.in_(task_ids), Submission.is_draft.is_(False))
        .group_by(Submission.task_id)
        .subquery()
    )
    rows = session.execute(
        select(Submission.task_id, Submission.data).join(
            newest, and_(Submission.task_id == newest.c.task_id, Submission.version == newest.c.version)
        )
    )
    return {task_id: dict(data or {}) for task_id, data in rows}


def feedback_summary(session: Session, measure_id: int, year: int | None, today: dt.date) -> FeedbackSummaryView | None:
    """None when nobody was asked (the measure has no known participants)."""
    tasks = session.execute(
        select(HumanTask.id, HumanTask.state, HumanTask.due_on).where(
            HumanTask.measure_id == measure_id,
            HumanTask.form_key == FormKey.MEASURE_FEEDBACK,
            HumanTask.evaluation_year == year,
        )
    ).all()
    if not tasks or year is None:
        return None
    answered_ids = [t.id for t in tasks if t.state == TaskState.SUBMITTED]
    closes_on = max(t.due_on for t in tasks)
    closed = today > closes_on or len(answered_ids) == len(tasks)
    hidden = len(answered_ids) < MIN_GROUP_SIZE
    summary = FeedbackSummaryView(
        year=year,
        invited=len(tasks),
        answered=len(answered_ids),
        closes_on=closes_on,
        closed=closed,
        minimum_group_size=MIN_GROUP_SIZE,
        hidden=hidden,
    )
    if hidden or not closed:
        return summary
    answers = [MeasureFeedbackForm.model_validate(d) for d in _newest_submissions(session, answered_ids).values()]
    return _with_answers(summary, answers)


def _with_answers(summary: FeedbackSummaryView, answers: list[MeasureFeedbackForm]) -> FeedbackSummaryView:
    group = len(answers)
    return FeedbackSummaryView(
        year=summary.year,
        invited=summary.invited,
        answered=summary.answered,
        closes_on=summary.closes_on,
        closed=summary.closed,
        minimum_group_size=summary.minimum_group_size,
        hidden=summary.hidden,
        usefulness=[Count(v, n) for v, n in tally(Usefulness, [a.usefulness for a in answers]).counts],
        learning=[Count(v, n) for v, n in tally(LearningGain, [a.learning for a in answers]).counts],
        learnt=shuffled_texts((a.learnt for a in answers), group),
        better=shuffled_texts((a.better for a in answers), group),
    )


# --- last year's talk -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AgreedActivity:
    activity: str
    need: str
    measure: str


@dataclass(frozen=True)
class FollowUpView:
    on: str  #: ISO date
    note: str
    done: bool
    progress: str  #: what the follow-up recorded, if it was done
    next_step: str


@dataclass(frozen=True)
class GoalView:
    goal: str
    success_measure: str
    due_on: str  #: ISO date


@dataclass(frozen=True)
class LastYearTalkView:
    """What was agreed in last year's talk with the employee, and how it was followed up."""

    year: int
    development_plan: list[AgreedActivity] = field(default_factory=list)
    follow_ups: list[FollowUpView] = field(default_factory=list)
    individual_goals: list[GoalView] = field(default_factory=list)


def previous_cycle(session: Session, cycle: Cycle) -> Cycle | None:
    """The organisation's cycle of the latest earlier year that was not cancelled."""
    return session.scalars(
        select(Cycle)
        .where(
            Cycle.organisation_id == cycle.organisation_id,
            Cycle.year < cycle.year,
            Cycle.state != CycleState.CANCELLED,
        )
        .order_by(Cycle.year.desc(), Cycle.id.desc())
        .limit(1)
    ).first()


def last_year_talk(session: Session, cycle: Cycle, subject_id: int) -> LastYearTalkView | None:
    earlier = previous_cycle(session, cycle)
    if earlier is None:
        return None
    record_task = session.scalars(
        select(HumanTask)
        .where(
            HumanTask.cycle_id == earlier.id,
            HumanTask.form_key == FormKey.TALK_RECORD,
            HumanTask.subject_person_id == subject_id,
            HumanTask.state == TaskState.SUBMITTED,
        )
        .order_by(HumanTask.id.desc())
        .limit(1)
    ).first()
    goals = latest_submitted(session, earlier.id, FormKey.GOAL_BREAKDOWN, subject_id) or {}
    if record_task is None and not goals:
        return None
    record = _newest_submissions(session, [record_task.id]).get(record_task.id, {}) if record_task else {}
    plan = [i for i in record.get("development_plan", []) if isinstance(i, dict)]
    need_ids = {i["critical_need_id"] for i in plan if isinstance(i.get("critical_need_id"), int)}
    measure_ids = {i["measure_id"] for i in plan if isinstance(i.get("measure_id"), int)}
    needs = {
        i: t
        for i, t in session.execute(select(CriticalNeed.id, CriticalNeed.title).where(CriticalNeed.id.in_(need_ids)))
    }
    measures = {i: t for i, t in session.execute(select(Measure.id, Measure.title).where(Measure.id.in_(measure_ids)))}
    follow_up_tasks = (
        session.execute(
            select(HumanTask.id, HumanTask.natural_key, HumanTask.state).where(
                HumanTask.step_key == FOLLOW_UP_STEP_KEY,
                HumanTask.subject_person_id == subject_id,
                HumanTask.cycle_id == earlier.id,
            )
        ).all()
        if record_task
        else []
    )
    follow_up_data = _newest_submissions(session, [t.id for t in follow_up_tasks if t.state == TaskState.SUBMITTED])
    done_on = {t.natural_key.rsplit(":", 1)[-1]: follow_up_data.get(t.id) for t in follow_up_tasks}
    follow_ups = []
    for item in record.get("follow_ups", []):
        if not isinstance(item, dict):
            continue
        on = str(item.get("on", ""))
        result = done_on.get(on)
        follow_ups.append(
            FollowUpView(
                on=on,
                note=str(item.get("note", "")),
                done=result is not None,
                progress=str((result or {}).get("plan_progress", "")),
                next_step=str((result or {}).get("next_step", "")),
            )
        )
    return LastYearTalkView(
        year=earlier.year,
        development_plan=[
            AgreedActivity(
                activity=str(i.get("activity", "")),
                need=needs.get(_int(i.get("critical_need_id")), ""),
                measure=measures.get(_int(i.get("measure_id")), ""),
            )
            for i in plan
        ],
        follow_ups=follow_ups,
        individual_goals=[
            GoalView(str(g.get("goal", "")), str(g.get("success_measure", "")), str(g.get("due_on", "")))
            for g in goals.get("goals", [])
            if isinstance(g, dict)
        ],
    )


def _int(value: Any) -> int:
    return value if isinstance(value, int) else 0
