"""The demo organisation's whole year, stepping the clock (``sweep --now``) through the dates."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

from sqlalchemy import select

from aarshjul.clock import ManualClock
from aarshjul.db.models import AuditEvent, HumanTask, Person, Unit
from aarshjul.domain.enums import Role, TaskState
from aarshjul.runtime import Runtime
from aarshjul.usecases.admin.org_import import DEMO_ORG_FILE, import_org, seed_demo
from aarshjul.usecases.admin.task_admin import reassign_tasks
from aarshjul.usecases.cycle.advance import advance_cycle
from aarshjul.usecases.cycle.lifecycle import close_cycle
from aarshjul.usecases.cycle.start import start_cycle
from aarshjul.usecases.cycle.sweep import sweep
from tests.integration.cycle.helpers import (
    approve,
    at,
    invited_task_ids,
    notifications,
    open_tasks,
    propose_measure,
    step_states,
    submit,
)

ORDER = [
    "strategy_review",
    "unit_goals",
    "action_plan",
    "competence_mapping",
    "needs_mapping",
    "measure_proposals",
    "talks",
    "goal_breakdown",
]


def _people(runtime: Runtime) -> tuple[dict[str, Unit], dict[int, Person], int]:
    with runtime.sessions() as session:
        units = {u.code: u for u in session.scalars(select(Unit))}
        people = {p.id: p for p in session.scalars(select(Person))}
    hr = min(p.id for p in people.values() if p.role == Role.HR.value)
    return units, people, hr


def _finish_step(runtime: Runtime, cycle_id: int, step_key: str) -> None:
    """Everyone submits every open task of the step, part after part, until the step is done everywhere."""
    for _ in range(5):
        tasks = open_tasks(runtime, cycle_id=cycle_id, step_key=step_key)
        if not tasks:
            return
        submit(runtime, tasks)
        advance_cycle(runtime, cycle_id)


def test_the_demo_organisation_runs_a_whole_year(runtime: Runtime, clock: ManualClock, tmp_path: Path) -> None:
    seed_demo(runtime)
    units, people, hr = _people(runtime)
    clock.set(at("2027-01-04"))
    cycle_id = start_cycle(runtime, 2027, actor="person:hr")
    assert [n.recipient_id for n in notifications(runtime, "cycle_started")] == [hr]

    # Step 1 opens for every unit, one task for each leader, due three weeks on.
    review = open_tasks(runtime, step_key="strategy_review")
    assert {t.assignee_id for t in review} == {u.leader_id for u in units.values()}
    assert {t.due_on for t in review} == {dt.date(2027, 1, 25)}

    # Seven days before the deadline every leader is reminded once, however often the sweep runs.
    sweep(runtime, at("2027-01-17", 12))
    assert notifications(runtime, "task_reminder") == []
    sweep(runtime, at("2027-01-18"))
    sweep(runtime, at("2027-01-19", 9))
    reminders = notifications(runtime, "task_reminder")
    assert sorted(n.recipient_id for n in reminders) == sorted(u.leader_id for u in units.values())
    assert {n.context["days_left"] for n in reminders} == {7}

    # Everyone but the health unit (HEL) hands in; each unit moves on without waiting for HEL.
    late_unit = units["HEL"]
    submit(runtime, [t for t in review if t.unit_id != late_unit.id])
    advance_cycle(runtime, cycle_id)
    states = step_states(runtime, cycle_id)
    assert states[(late_unit.id, "strategy_review")] == "open"
    assert states[(late_unit.id, "unit_goals")] == "waiting"
    assert states[(units["TEK"].id, "strategy_review")] == "done"
    assert states[(units["TEK"].id, "unit_goals")] == "open"

    # Late: +3 days to the late leader's manager (the top leader), +10 days to HR, each once.
    sweep(runtime, at("2027-01-24"))  # one day left: a second reminder for HEL only
    assert [n.recipient_id for n in notifications(runtime, "task_reminder")].count(late_unit.leader_id) == 2
    for day in ("2027-01-28", "2027-01-29", "2027-01-30", "2027-02-04", "2027-02-05", "2027-02-06"):
        sweep(runtime, at(day))
    manager = notifications(runtime, "escalation_manager")
    late_task = next(t for t in review if t.unit_id == late_unit.id)
    assert [(n.recipient_id, [i["task_id"] for i in n.context["late"]]) for n in manager] == [
        (units["KOM"].leader_id, [late_task.id])
    ]
    assert manager[0].context["late"][0] == {"task_id": late_task.id, "person_id": late_unit.leader_id, "days_late": 4}
    to_hr = [
        n for n in notifications(runtime, "escalation_hr") if late_task.id in [i["task_id"] for i in n.context["late"]]
    ]
    assert [n.recipient_id for n in to_hr] == [hr]

    # HR reassigns the late review to the leader's deputy: a new link version and an invitation.
    deputy = people[late_unit.leader_id].deputy_id
    assert deputy is not None
    reassign_tasks(runtime, [late_task.id], deputy, actor=f"person:{hr}")
    (moved,) = open_tasks(runtime, step_key="strategy_review")
    assert (moved.assignee_id, moved.link_version) == (deputy, 2)
    assert any(
        n.recipient_id == deputy and moved.id in n.context["task_ids"]
        for n in notifications(runtime, "task_invitation")
    )
    with runtime.sessions() as session:
        assert session.scalar(select(AuditEvent.actor).where(AuditEvent.action == "task.reassign")) == f"person:{hr}"
    submit(runtime, [moved])

    # Steps 2–4 for everyone; 3 and the competence mapping open together after 2, the needs mapping
    # after the mapping: each employee assesses their own competence before the unit decides.
    clock.set(at("2027-02-08"))
    advance_cycle(runtime, cycle_id)
    _finish_step(runtime, cycle_id, "unit_goals")
    states = step_states(runtime, cycle_id)
    assert all(
        states[(u.id, "action_plan")] == "open"
        and states[(u.id, "competence_mapping")] == "open"
        and states[(u.id, "needs_mapping")] == "waiting"
        for u in units.values()
    )
    mapping = open_tasks(runtime, step_key="competence_mapping")
    assert {t.subject_person_id for t in mapping} == {t.assignee_id for t in mapping}
    assert len(mapping) == len(people) - 1  # everyone has a leader but the top leader
    assert {t.due_on for t in mapping} == {dt.date(2027, 3, 1)}
    _finish_step(runtime, cycle_id, "action_plan")
    assert all(step_states(runtime, cycle_id)[(u.id, "talks")] == "waiting" for u in units.values())
    _finish_step(runtime, cycle_id, "competence_mapping")
    assert all(step_states(runtime, cycle_id)[(u.id, "needs_mapping")] == "open" for u in units.values())
    _finish_step(runtime, cycle_id, "needs_mapping")

    # Step 5: each unit proposes one measure; HR gets one approval task per measure.
    proposals = open_tasks(runtime, step_key="measure_proposals")
    measures = {}
    for task in proposals:
        evaluate_on = dt.date(2027, 9, 1) if task.unit_id == units["TEK"].id else None
        measures[task.unit_id] = propose_measure(runtime, cycle_id, task.unit_id, task.assignee_id, evaluate_on, 2027)
    submit(runtime, proposals)
    advance_cycle(runtime, cycle_id)
    approvals = open_tasks(runtime, step_key="measure_proposals")
    assert {t.assignee_id for t in approvals} == {hr}
    assert sorted(t.measure_id for t in approvals) == sorted(measures.values())
    assert step_states(runtime, cycle_id)[(units["TEK"].id, "measure_proposals")] == "open"
    for measure_id in measures.values():
        approve(runtime, measure_id)
    advance_cycle(runtime, cycle_id)

    # Step 6, talks: prepare (employee) → record (leader) → confirm (employee), per direct report.
    states = step_states(runtime, cycle_id)
    assert all(states[(u.id, "talks")] == "open" for u in units.values())
    prepare = open_tasks(runtime, step_key="talks")
    assert {t.part_key for t in prepare} == {"prepare"}
    hel_reports = {t.subject_person_id for t in prepare if t.unit_id == late_unit.id}
    assert hel_reports == {units["HJE"].leader_id, units["SOL"].leader_id} | {
        p.id for p in people.values() if p.unit_id == late_unit.id and p.id != late_unit.leader_id
    }
    assert all(t.assignee_id == t.subject_person_id for t in prepare)

    # An employee leaves (the next org import no longer lists them): their talk stops, HR is told.
    leaver = next(t.subject_person_id for t in prepare if t.unit_id == units["BJO"].id)
    assert leaver is not None
    leaver_email = people[leaver].email
    lines = DEMO_ORG_FILE.read_text(encoding="utf-8").splitlines(keepends=True)
    smaller = tmp_path / "org.csv"
    smaller.write_text(
        "".join(line.replace(leaver_email, "") for line in lines if line.split(",")[2] != leaver_email),
        encoding="utf-8",
    )
    import_org(runtime, smaller, actor="cli")
    with runtime.sessions() as session:
        leaver_tasks = list(session.scalars(select(HumanTask).where(HumanTask.subject_person_id == leaver)))
    # Their open talk stops; what they submitted earlier (the competence mapping) stays as it was.
    assert {t.step_key: t.state for t in leaver_tasks} == {
        "competence_mapping": TaskState.SUBMITTED.value,
        "talks": TaskState.CANCELLED.value,
    }
    told = notifications(runtime, "tasks_reassigned_hr")
    assert [(n.recipient_id, n.context["from_person_id"]) for n in told] == [(hr, leaver)]

    submit(runtime, open_tasks(runtime, step_key="talks"))
    advance_cycle(runtime, cycle_id)
    record = open_tasks(runtime, step_key="talks")
    assert {t.part_key for t in record} == {"record"}
    assert all(t.assignee_id == units_by_id(units)[t.unit_id].leader_id for t in record)
    _finish_step(runtime, cycle_id, "talks")

    # Step 7, goal breakdown: the leader sets goals, the employee acknowledges.
    assert {t.part_key for t in open_tasks(runtime, step_key="goal_breakdown")} == {"set_goals"}
    _finish_step(runtime, cycle_id, "goal_breakdown")
    states = step_states(runtime, cycle_id)
    assert set(states.values()) == {"done"}

    # Steps opened and closed per unit in the order of the graph.
    with runtime.sessions() as session:
        from aarshjul.db.models import UnitStep

        rows = session.execute(select(UnitStep.unit_id, UnitStep.step_key, UnitStep.opened_at, UnitStep.done_at)).all()
    for unit in units.values():
        by_step = {r.step_key: r for r in rows if r.unit_id == unit.id}
        for before, after in [(0, 1), (1, 2), (1, 3), (3, 4), (1, 4), (4, 5), (2, 6), (5, 6), (6, 7)]:
            assert by_step[ORDER[before]].done_at <= by_step[ORDER[after]].opened_at

    # Every task was named in exactly one invitation.
    with runtime.sessions() as session:
        task_ids = set(session.scalars(select(HumanTask.id)))
    counts = invited_task_ids(runtime)
    assert set(counts) == task_ids
    assert set(Counter(counts.values())) == {1} or max(counts.values()) == 2  # the reassigned one twice
    assert [tid for tid, n in counts.items() if n > 1] == [late_task.id]

    close_cycle(runtime, cycle_id, actor=f"person:{hr}")

    # Evaluation tasks open on their dates for the measure owners, also after the cycle is closed.
    sweep(runtime, at("2027-08-31"))
    assert notifications(runtime, "evaluation_due") == []
    sweep(runtime, at("2027-09-01"))
    sweep(runtime, at("2027-09-01", 12))
    (first,) = notifications(runtime, "evaluation_due")
    (tek_evaluation,) = open_tasks(runtime, measure_id=measures[units["TEK"].id])
    assert first.context == {"task_ids": [tek_evaluation.id]}
    assert first.recipient_id == units["TEK"].leader_id
    sweep(runtime, at("2027-12-31"))
    evaluations = notifications(runtime, "evaluation_due")
    measure_of = {t.id: t.measure_id for t in open_tasks(runtime, step_key="evaluation")}
    assert sorted(measure_of[t] for n in evaluations for t in n.context["task_ids"]) == sorted(measures.values())
    (evaluation,) = open_tasks(runtime, measure_id=measures[units["TEK"].id])
    assert (evaluation.form_key, evaluation.due_on) == ("measure_evaluation", dt.date(2027, 10, 1))


def units_by_id(units: dict[str, Unit]) -> dict[int, Unit]:
    return {u.id: u for u in units.values()}
