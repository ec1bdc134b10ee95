"""Shared test builders: the demo organisation with a running cycle, task links, valid form input.

``valid_input(opened)`` gives input every form accepts for the task it was opened from, and
``drive_unit`` submits a unit's forms through the real use cases until the task wanted is open.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from aarshjul.db.models import CriticalNeed, HumanTask, Measure, Person, Unit, UnitGoal
from aarshjul.domain.enums import MeasureState, TaskState
from aarshjul.runtime import Runtime
from aarshjul.signing import TaskLinkClaims, task_token
from aarshjul.usecases.admin.org_import import seed_demo
from aarshjul.usecases.cycle.advance import advance_cycle
from aarshjul.usecases.cycle.start import start_cycle
from aarshjul.usecases.cycle.sweep import sweep
from aarshjul.usecases.work.opening import OpenedTask, open_task
from aarshjul.usecases.work.submitting import submit_form
from forms.fields import RefKind
from tests.fakes import InlineTriggers

CYCLE_YEAR = 2027


@dataclass(frozen=True)
class TaskRef:
    id: int
    assignee_id: int
    link_version: int
    form_key: str
    token: str
    unit_id: int
    subject_id: int | None
    measure_id: int | None


def demo_cycle(runtime: Runtime) -> int:
    """The demo organisation with this year's cycle started today; submissions advance it at once."""
    seed_demo(runtime)
    runtime.triggers = InlineTriggers(
        advance=lambda cycle_id, unit: advance_cycle(runtime, cycle_id, unit_id=unit), dispatch=lambda: None
    )
    today = runtime.clock().astimezone(runtime.settings.zone).date()
    return start_cycle(runtime, CYCLE_YEAR, starts_on=today)


def add_measure(
    session: Session,
    *,
    cycle_id: int,
    unit_id: int,
    owner_id: int,
    strategic_goal_id: int,
    title: str,
    state: MeasureState,
    need_title: str = "Behov",
    strategy: str = "mobilise",
    level_needed: int = 4,
    level_today: int = 2,
    evaluate_on: dt.date | None = None,
    year: int = CYCLE_YEAR,
    hr_comment: str = "",
) -> Measure:
    """What a submitted measure proposal leaves behind, straight in the database: a unit goal, the
    critical need that names it, and the measure that answers the need."""
    goal = UnitGoal(cycle_id=cycle_id, unit_id=unit_id, strategic_goal_id=strategic_goal_id, title="Mål", priority=1)
    session.add(goal)
    session.flush()
    need = CriticalNeed(
        cycle_id=cycle_id,
        unit_id=unit_id,
        unit_goal_id=goal.id,
        title=need_title,
        kind="skills",
        level_needed=level_needed,
        level_today=level_today,
        strategy=strategy,
    )
    session.add(need)
    session.flush()
    measure = Measure(
        cycle_id=cycle_id,
        unit_id=unit_id,
        critical_need_id=need.id,
        owner_id=owner_id,
        title=title,
        desired_effect="e",
        success_criteria="s",
        learning_goals="l",
        learning_form="mentoring",
        form_and_content="f",
        evaluation_method="m",
        evaluate_on=evaluate_on,
        first_year=year,
        last_year=year,
        state=state.value,
        revision=1,
        hr_comment=hr_comment,
    )
    session.add(measure)
    session.flush()
    return measure


def token_for(runtime: Runtime, task_id: int) -> str:
    with runtime.sessions() as session:
        task = session.get(HumanTask, task_id)
        if task is None:
            raise LookupError(task_id)
        return task_token(runtime.settings.secret(), TaskLinkClaims(task.id, task.assignee_id, task.link_version))


def unit_id(runtime: Runtime, code: str) -> int:
    with runtime.sessions() as session:
        found = session.scalar(select(Unit.id).where(Unit.code == code))
        if found is None:
            raise LookupError(code)
        return int(found)


def person_id(runtime: Runtime, email_start: str) -> int:
    with runtime.sessions() as session:
        found = session.scalar(select(Person.id).where(Person.email.startswith(email_start)))
        if found is None:
            raise LookupError(email_start)
        return int(found)


def find_tasks(
    runtime: Runtime,
    cycle_id: int,
    form_key: str,
    unit: int | None = None,
    subject_id: int | None = None,
    states: tuple[TaskState, ...] = (TaskState.OPEN, TaskState.RETURNED, TaskState.SUBMITTED),
) -> list[TaskRef]:
    with runtime.sessions() as session:
        query = select(HumanTask).where(
            HumanTask.cycle_id == cycle_id,
            HumanTask.form_key == form_key,
            HumanTask.state.in_([s.value for s in states]),
        )
        if unit is not None:
            query = query.where(HumanTask.unit_id == unit)
        if subject_id is not None:
            query = query.where(HumanTask.subject_person_id == subject_id)
        tasks = list(session.scalars(query.order_by(HumanTask.id)))
    secret = runtime.settings.secret()
    return [
        TaskRef(
            t.id,
            t.assignee_id,
            t.link_version,
            t.form_key,
            task_token(secret, TaskLinkClaims(t.id, t.assignee_id, t.link_version)),
            t.unit_id,
            t.subject_person_id,
            t.measure_id,
        )
        for t in tasks
    ]


def find_task(runtime: Runtime, cycle_id: int, form_key: str, unit: int, subject_id: int | None = None) -> TaskRef:
    tasks = find_tasks(runtime, cycle_id, form_key, unit, subject_id)
    if not tasks:
        raise LookupError(f"no {form_key} task for unit {unit}")
    return tasks[0]


def _ids(opened: OpenedTask, kind: str) -> list[int]:
    return [i for i, _ in opened.choices.get(kind, [])]


def valid_measure(need_id: int, year: int = CYCLE_YEAR, **changes: Any) -> dict[str, Any]:
    measure = {
        "critical_need_id": need_id,
        "title": "Kollegaveiledning i digitale verktøy",
        "target_group": "Alle saksbehandlere",
        "desired_effect": "Færre feil og raskere saksbehandling",
        "success_criteria": "Halvparten færre henvendelser til brukerstøtte",
        "learning_goals": "Alle kan bruke sakssystemets maler",
        "learning_form": "mentoring",
        "form_and_content": "Superbrukere veileder kolleger en time i uka",
        "evaluation_method": "Spørreundersøkelse og tall fra brukerstøtte",
        "starts_on": f"{year}-03-01",
        "evaluate_on": f"{year}-11-01",
        "first_year": year,
        "last_year": year + 1,
    }
    measure.update(changes)
    return measure


def valid_input(opened: OpenedTask) -> dict[str, Any]:
    """Input the task's form accepts, using the ids valid for that task."""
    key = opened.task.form_key
    goals = _ids(opened, RefKind.UNIT_GOAL)
    needs = _ids(opened, RefKind.CRITICAL_NEED)
    year = opened.task.cycle_year
    if key == "strategy_review":
        return {
            "goals": [
                {"strategic_goal_id": g, "meaning": "Betyr mye for oss 😊", "relevance": 4}
                for g in _ids(opened, RefKind.MAIN_GOAL)
            ]
        }
    if key == "unit_goals":
        mains = _ids(opened, RefKind.MAIN_GOAL)
        return {
            "goals": [
                {
                    "strategic_goal_id": mains[0],
                    "title": "Raskere svar til innbyggerne",
                    "priority": 1,
                    "indicator": "Svartid",
                    "target": "Under fem dager",
                },
                {
                    "strategic_goal_id": mains[1],
                    "title": "Flere digitale tjenester",
                    "priority": 2,
                    "indicator": "Andel selvbetjening",
                    "target": "60 %",
                },
            ]
        }
    if key == "action_plan":
        return {
            "actions": [
                {
                    "unit_goal_id": goals[0],
                    "action": "Kartlegge svartider",
                    "owner": "Leder",
                    "starts_on": f"{year}-02-01",
                    "ends_on": f"{year}-04-01",
                }
            ]
        }
    if key == "needs_mapping":
        return {
            "needs": [
                {
                    "unit_goal_id": goals[0],
                    "title": "Bruk av sakssystemet",
                    "kind": "skills",
                    "level_needed": 4,
                    "level_today": 2,
                    "passive_competence": "To i enheten kan det godt, men bruker det lite",
                    "strategy": "mobilise",
                }
            ]
        }
    if key == "measure_proposal":
        return {"measures": [valid_measure(needs[0], year)]}
    if key == "measure_approval":
        return {"decision": "approve", "comment": ""}
    if key == "talk_preparation":
        return {
            "self_assessment": [{"critical_need_id": n, "mastery": 3, "comment": "Greit"} for n in needs],
            "unused_competence": "Jeg kan litt programmering",
            "development_wishes": "Lære mer om sakssystemet",
            "share_self_assessment": True,
            "share_unused_competence": False,
            "share_wishes": True,
        }
    if key == "talk_record":
        return {
            "mastery_level": 3,
            "feedback": "God innsats i år",
            "development_plan": [{"activity": "Delta i kollegaveiledning", "critical_need_id": needs[0]}],
            "follow_ups": [{"on": (opened.rules.today + dt.timedelta(days=60)).isoformat(), "note": "Status"}],
        }
    if key == "talk_confirmation":
        return {"agreement": "agree", "comment": ""}
    if key == "goal_breakdown":
        return {
            "goals": [
                {
                    "unit_goal_id": goals[0],
                    "goal": "Svare på saker innen fem dager",
                    "success_measure": "Svartid i sakssystemet",
                    "due_on": f"{year}-10-01",
                }
            ]
        }
    if key == "goal_acknowledgement":
        return {"acknowledged": True, "comment": ""}
    if key == "talk_follow_up":
        return {
            "plan_progress": "Godt i gang med kollegaveiledningen",
            "done_since": "To økter med superbruker",
            "support_needed": "Tid i kalenderen",
            "next_step": "Ny økt i mars",
        }
    if key == "measure_evaluation":
        return {
            "reaction": "Godt mottatt",
            "learning": "Alle bruker malene",
            "behaviour": "Færre feil",
            "results": "Kortere svartid",
            "criteria_met": "yes",
            "next_step": "continue",
        }
    raise KeyError(key)


ORDER = (
    "strategy_review",
    "unit_goals",
    "needs_mapping",
    "action_plan",
    "measure_proposal",
    "measure_approval",
    "talk_preparation",
    "talk_record",
    "talk_confirmation",
    "goal_breakdown",
    "goal_acknowledgement",
)


def submit_valid(runtime: Runtime, task: TaskRef) -> None:
    submit_form(runtime, task.token, valid_input(open_task(runtime, task.token)))


def drive_unit(runtime: Runtime, cycle_id: int, unit: int, until: str, subject_id: int | None = None) -> TaskRef:
    """Submit the unit's forms in cycle order (for every employee) until a task of form ``until``
    is open; return it (the one about ``subject_id`` when given)."""
    for form_key in ORDER:
        candidates = find_tasks(runtime, cycle_id, form_key, unit, states=(TaskState.OPEN, TaskState.RETURNED))
        if form_key == until:
            wanted = [t for t in candidates if subject_id is None or t.subject_id == subject_id]
            if not wanted:
                raise LookupError(f"no open {form_key} task for unit {unit}")
            return wanted[0]
        for task in candidates:
            submit_valid(runtime, task)
    raise KeyError(until)


def follow_up_task(runtime: Runtime, cycle_id: int, unit: int) -> TaskRef:
    """Record the unit's talks, move the clock to their follow-up date (``valid_input`` puts it 60
    days on) and sweep: the first follow-up task that opens."""
    drive_unit(runtime, cycle_id, unit, "talk_confirmation")
    day = runtime.clock() + dt.timedelta(days=60)
    runtime.clock.set(day.replace(hour=8))  # type: ignore[attr-defined]
    sweep(runtime)
    return find_tasks(runtime, cycle_id, "talk_follow_up", unit)[0]


UNIT = "HR"  # a small unit: its leader and four reports


def task_for(runtime: Runtime, form_key: str) -> TaskRef:
    """A task of the demo cycle's small unit ``UNIT`` that uses this form, with every step before it done."""
    cycle = demo_cycle(runtime)
    unit = unit_id(runtime, UNIT)
    if form_key == "talk_follow_up":
        return follow_up_task(runtime, cycle, unit)
    if form_key != "measure_evaluation":
        return drive_unit(runtime, cycle, unit, form_key)
    drive_unit(runtime, cycle, unit, "talk_preparation")
    runtime.clock.set(dt.datetime(2027, 11, 2, 8, tzinfo=dt.UTC))  # type: ignore[attr-defined]
    sweep(runtime)
    return find_tasks(runtime, cycle, "measure_evaluation", unit)[0]
