"""What a submitted form makes of the rows later steps point at: unit goals, critical needs, measures.

Ids stay stable across amendments and rows dropped in a newer version are retired."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, Protocol, TypeVar, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from aarshjul.db.models import (
    CriticalNeed,
    HumanTask,
    Measure,
    UnitGoal,
)
from aarshjul.domain.enums import FormKey, MeasureState
from aarshjul.domain.errors import Conflict, NotFound
from aarshjul.runtime import Runtime
from aarshjul.usecases.work.decisions import project_decision
from aarshjul.usecases.work.followup_projection import project_follow_up
from aarshjul.usecases.work.links import latest_version
from forms.fields import FormModel, FormProblem
from forms.models import (
    MeasureProposalForm,
    NeedItem,
    NeedsMappingForm,
    UnitGoalItem,
    UnitGoalsForm,
)
from forms.registry import FormRejected

#: Measures that keep their critical need in the chain: the need may not be dropped under them.
CHAIN_MEASURES = frozenset({MeasureState.PROPOSED, MeasureState.APPROVED, MeasureState.RETURNED})


class _Item(Protocol):
    id: int | None


_Projected = TypeVar("_Projected", UnitGoal, CriticalNeed)


_ItemT = TypeVar("_ItemT", bound=_Item)


def _sync_unit_rows(
    session: Session,
    task: HumanTask,
    model: type[_Projected],
    items: list[_ItemT],
    fill: Callable[[_Projected, _ItemT], None],
) -> None:
    """One row of the task's unit per item, matched by the item's id so ids stay stable across
    amendments; each item learns its row's id, and rows no item names any more are retired."""
    existing = {
        row.id: row
        for row in session.scalars(select(model).where(model.cycle_id == task.cycle_id, model.unit_id == task.unit_id))
    }
    kept: set[int] = set()
    for item in items:
        row = existing.get(item.id) if item.id is not None else None
        if row is None:
            row = model(cycle_id=task.cycle_id, unit_id=task.unit_id)
            session.add(row)
        fill(row, item)
        row.retired = False
        session.flush()
        item.id = row.id
        kept.add(row.id)
    for row in existing.values():
        if row.id not in kept:
            row.retired = True


def _refuse_dropping_used(
    session: Session, task: HumanTask, list_name: str, kept: int, used: dict[int, list[str]], problem: str, by: str
) -> None:
    """Principle 1: the chain is checked. A row that something live still points at may not be
    dropped; the refusal puts the dropped rows back (from the last submitted version) after the
    ``kept`` rows of the list and ties each problem to its row there, naming what uses it."""
    if not used:
        return
    latest = latest_version(session, task.id, submitted_only=True)
    previous = latest.data if latest is not None else {}
    earlier = {r.get("id"): r for r in previous.get(list_name, []) if isinstance(r, dict)}
    problems: list[FormProblem] = []
    restore: list[dict[str, Any]] = []
    for row_id, users in sorted(used.items()):
        problems.append(FormProblem((list_name, kept + len(restore)), problem, {by: "», «".join(sorted(users))}))
        restore.append(dict(earlier.get(row_id, {"id": row_id})))
    raise FormRejected(problems, restore={list_name: restore})


def _project_unit_goals(
    session: Session, runtime: Runtime, task: HumanTask, form: FormModel, now: dt.datetime, actor_id: int
) -> dict[str, Any]:
    form = cast(UnitGoalsForm, form)
    named = {g.id for g in form.goals if g.id is not None}
    needs = session.execute(
        select(CriticalNeed.unit_goal_id, CriticalNeed.title)
        .join(UnitGoal, UnitGoal.id == CriticalNeed.unit_goal_id)
        .where(
            UnitGoal.cycle_id == task.cycle_id,
            UnitGoal.unit_id == task.unit_id,
            UnitGoal.retired.is_(False),
            CriticalNeed.retired.is_(False),
        )
    ).all()
    used: dict[int, list[str]] = {}
    for goal_id, title in needs:
        if goal_id not in named:
            used.setdefault(goal_id, []).append(title)
    _refuse_dropping_used(session, task, "goals", len(form.goals), used, "goal_in_use", "need")

    def fill(row: UnitGoal, item: UnitGoalItem) -> None:
        row.strategic_goal_id, row.title, row.priority = item.strategic_goal_id, item.title, item.priority
        row.indicator, row.target = item.indicator, item.target

    _sync_unit_rows(session, task, UnitGoal, form.goals, fill)
    return form.model_dump(mode="json")


def _project_needs(
    session: Session, runtime: Runtime, task: HumanTask, form: FormModel, now: dt.datetime, actor_id: int
) -> dict[str, Any]:
    form = cast(NeedsMappingForm, form)
    named = {n.id for n in form.needs if n.id is not None}
    measures = session.execute(
        select(Measure.critical_need_id, Measure.title)
        .join(CriticalNeed, CriticalNeed.id == Measure.critical_need_id)
        .where(
            CriticalNeed.cycle_id == task.cycle_id,
            CriticalNeed.unit_id == task.unit_id,
            CriticalNeed.retired.is_(False),
            Measure.state.in_(CHAIN_MEASURES),
        )
    ).all()
    used: dict[int, list[str]] = {}
    for need_id, title in measures:
        if need_id not in named:
            used.setdefault(need_id, []).append(title)
    _refuse_dropping_used(session, task, "needs", len(form.needs), used, "need_in_use", "measure")

    def fill(row: CriticalNeed, item: NeedItem) -> None:
        row.unit_goal_id, row.competence_area_id, row.title = item.unit_goal_id, item.competence_area_id, item.title
        row.kind, row.strategy = item.kind, item.strategy
        row.level_needed, row.level_today = item.level_needed, item.level_today
        row.passive_competence = item.passive_competence

    _sync_unit_rows(session, task, CriticalNeed, form.needs, fill)
    return form.model_dump(mode="json")


_MEASURE_FIELDS = (
    "critical_need_id",
    "title",
    "target_group",
    "desired_effect",
    "success_criteria",
    "learning_goals",
    "learning_form",
    "form_and_content",
    "evaluation_method",
    "evaluate_on",
    "first_year",
    "last_year",
)


def _project_measures(
    session: Session, runtime: Runtime, task: HumanTask, form: FormModel, now: dt.datetime, actor_id: int
) -> dict[str, Any]:
    """A new or changed measure waits for HR (a changed one as a new revision); a measure HR
    returned goes back to HR when the proposal is submitted again; a dropped one is withdrawn."""
    form = cast(MeasureProposalForm, form)
    existing = {
        m.id: m
        for m in session.scalars(
            select(Measure).where(Measure.cycle_id == task.cycle_id, Measure.unit_id == task.unit_id)
        )
    }
    kept: set[int] = set()
    for item in form.measures:
        values = {name: getattr(item, name) for name in _MEASURE_FIELDS}
        values["learning_form"] = item.learning_form
        row = existing.get(item.id) if item.id is not None else None
        if row is None:
            row = Measure(
                cycle_id=task.cycle_id,
                unit_id=task.unit_id,
                owner_id=task.assignee_id,
                state=MeasureState.PROPOSED,
                revision=1,
                hr_comment="",
                **values,
            )
            session.add(row)
        else:
            changed = any(getattr(row, k) != v for k, v in values.items())
            if row.state == MeasureState.RETURNED or (changed and row.state != MeasureState.PROPOSED):
                row.revision += 1
                row.state, row.decided_at = MeasureState.PROPOSED, None
            elif changed:
                row.revision += 1
            for name, value in values.items():
                setattr(row, name, value)
        session.flush()
        item.id = row.id
        kept.add(row.id)
    settled = {MeasureState.WITHDRAWN, MeasureState.EVALUATED}
    for row in existing.values():
        if row.id not in kept and row.state not in settled:
            row.state = MeasureState.WITHDRAWN
    return form.model_dump(mode="json")


def _project_evaluation(
    session: Session, runtime: Runtime, task: HumanTask, form: FormModel, now: dt.datetime, actor_id: int
) -> dict[str, Any]:
    measure = session.get(Measure, task.measure_id) if task.measure_id is not None else None
    if measure is None:
        raise NotFound(f"task {task.id} names no measure")
    if measure.state not in (MeasureState.APPROVED, MeasureState.EVALUATED):
        raise Conflict(f"measure {measure.id} is {measure.state}; only an approved measure is evaluated")
    measure.state = MeasureState.EVALUATED
    return form.model_dump(mode="json")


def _project_follow_up(
    session: Session, runtime: Runtime, task: HumanTask, form: FormModel, now: dt.datetime, actor_id: int
) -> dict[str, Any]:
    return project_follow_up(session, runtime, task, form, now)


PROJECTIONS = {
    "unit_goals": _project_unit_goals,
    "needs_mapping": _project_needs,
    FormKey.MEASURE_PROPOSAL: _project_measures,
    FormKey.MEASURE_APPROVAL: project_decision,
    FormKey.MEASURE_EVALUATION: _project_evaluation,
    FormKey.TALK_FOLLOW_UP: _project_follow_up,
}
