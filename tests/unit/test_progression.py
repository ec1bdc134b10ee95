"""The cycle's rules on plain snapshots: which steps open, who gets what, when a step is done."""

from __future__ import annotations

import datetime as dt
import time
from zoneinfo import ZoneInfo

from aarshjul.domain.cycle_spec import load_definition, parse_definition
from aarshjul.domain.enums import MeasureState, Role, TaskState, UnitStepState
from aarshjul.domain.progression import (
    CyclePlanner,
    MeasureFact,
    OrgChart,
    OrgPerson,
    OrgUnit,
    StepFact,
    TaskFact,
    steps_ready,
    task_natural_key,
)

NOW = dt.datetime(2027, 1, 4, 7, tzinfo=dt.UTC)
OSLO = ZoneInfo("Europe/Oslo")  #: the organisation's zone, which the planner takes from its caller
STANDARD = load_definition()
# The seven steps as the lecture draws them: the planner's rules step by step. The standard's optional
# competence mapping is dropped here; its own planning is tested at the end of this file.
DEFINITION = parse_definition(
    {
        **STANDARD.model_dump(mode="json"),
        "steps": [{**s.model_dump(mode="json"), "enabled": s.key != "competence_mapping"} for s in STANDARD.steps],
    }
)
DUE = DEFINITION.due_dates(dt.date(2027, 1, 4))

# Root unit 1 (leader 1, HR 2, employee 3) with child 10 (leader 10, employees 11, 12) and an empty child 20.
ORG = OrgChart(
    [OrgUnit(1, None, 1), OrgUnit(10, 1, 10), OrgUnit(20, 1, 20)],
    [
        OrgPerson(1, 1, Role.LEADER),
        OrgPerson(2, 1, Role.HR),
        OrgPerson(3, 1, Role.EMPLOYEE, deputy_id=None),
        OrgPerson(10, 10, Role.LEADER, deputy_id=11),
        OrgPerson(11, 10, Role.EMPLOYEE),
        OrgPerson(12, 10, Role.EMPLOYEE),
        OrgPerson(13, 10, Role.EMPLOYEE, active=False),
        OrgPerson(20, 20, Role.LEADER),
    ],
)


def test_reporting_lines() -> None:
    assert ORG.direct_reports(1) == [2, 3, 10, 20]
    assert ORG.direct_reports(10) == [11, 12]
    assert ORG.direct_reports(20) == []
    assert ORG.manager_of(11) == 10
    assert ORG.manager_of(10) == 1
    assert ORG.manager_of(1) == 2  # the top leader's manager is HR
    assert ORG.hr() == 2
    assert ORG.stand_in_for(10) == 11  # the deputy
    assert ORG.stand_in_for(10, excluded=frozenset({11})) == 1  # else the leader above


def test_steps_open_per_unit_as_their_inputs_finish() -> None:
    assert steps_ready(DEFINITION, {}) == ["strategy_review"]
    done = UnitStepState.DONE
    states = {"strategy_review": done, "unit_goals": done}
    assert steps_ready(DEFINITION, states) == ["action_plan", "needs_mapping"]
    states |= {"action_plan": done, "needs_mapping": done}
    assert steps_ready(DEFINITION, states) == ["measure_proposals"]  # talks also wait for the measures


def _steps(
    state_by_key: dict[str, UnitStepState], units: tuple[int, ...] = (1, 10, 20)
) -> dict[tuple[int, str], StepFact]:
    return {(u, k): StepFact(s, DUE[k]) for u in units for k, s in state_by_key.items()}


def test_the_first_plan_opens_step_one_for_every_unit_leader() -> None:
    plan = CyclePlanner(DEFINITION, 7, DUE, ORG, NOW, OSLO).plan({}, [], [])
    assert [(t.unit_id, t.assignee_id, t.due_on) for t in plan.new_tasks] == [
        (1, 1, dt.date(2027, 1, 25)),
        (10, 10, dt.date(2027, 1, 25)),
        (20, 20, dt.date(2027, 1, 25)),
    ]
    assert {t.natural_key for t in plan.new_tasks} == {f"c7:u{u}:strategy_review:review" for u in (1, 10, 20)}


def test_talks_go_to_each_direct_report_and_an_empty_unit_skips_them() -> None:
    done = UnitStepState.DONE
    before = {k: done for k in ("strategy_review", "unit_goals", "action_plan", "needs_mapping", "measure_proposals")}
    plan = CyclePlanner(DEFINITION, 7, DUE, ORG, NOW, OSLO).plan(_steps(before), [], [])
    prepare = [(t.unit_id, t.subject_id, t.assignee_id) for t in plan.new_tasks]
    assert prepare == [(1, 2, 2), (1, 3, 3), (1, 10, 10), (1, 20, 20), (10, 11, 11), (10, 12, 12)]
    assert {(c.unit_id, c.step_key, c.state) for c in plan.step_changes if not c.is_new} == set()
    skipped = [(c.unit_id, c.step_key) for c in plan.step_changes if c.state is UnitStepState.SKIPPED]
    assert skipped == [(20, "talks"), (20, "goal_breakdown")]
    # Due: the step's deadline minus 14 days for the preparation.
    assert {t.due_on for t in plan.new_tasks} == {DUE["talks"] - dt.timedelta(days=14)}


def test_the_next_part_follows_a_submitted_part_and_a_unit_finishes_alone() -> None:
    done, open_ = UnitStepState.DONE, UnitStepState.OPEN
    before = {k: done for k in ("strategy_review", "unit_goals", "action_plan", "needs_mapping", "measure_proposals")}
    steps = _steps(before | {"talks": open_}, units=(10,))
    tasks = [
        TaskFact(1, task_natural_key(7, 10, "talks", "prepare", 11), 10, "talks", "prepare", TaskState.SUBMITTED, 11),
        TaskFact(2, task_natural_key(7, 10, "talks", "prepare", 12), 10, "talks", "prepare", TaskState.OPEN, 12),
    ]
    org = OrgChart([OrgUnit(10, None, 10)], [p for p in ORG.people.values() if p.unit_id == 10] + [ORG.people[2]])
    plan = CyclePlanner(DEFINITION, 7, DUE, org, NOW, OSLO).plan(steps, tasks, [])
    assert [(t.part_key, t.subject_id, t.assignee_id) for t in plan.new_tasks] == [("record", 11, 10)]
    # A late opening still gets the minimum time to respond.
    late = NOW.replace(month=6, day=5)
    plan = CyclePlanner(DEFINITION, 7, DUE, org, late, OSLO).plan(steps, tasks, [])
    assert plan.new_tasks[0].due_on == dt.date(2027, 6, 12)


def test_measure_proposals_wait_for_hr_and_void_stale_approvals() -> None:
    done, open_ = UnitStepState.DONE, UnitStepState.OPEN
    steps = _steps(
        {"strategy_review": done, "unit_goals": done, "needs_mapping": done, "measure_proposals": open_}, (10,)
    )
    proposal = TaskFact(
        1,
        task_natural_key(7, 10, "measure_proposals", "proposal"),
        10,
        "measure_proposals",
        "proposal",
        TaskState.SUBMITTED,
    )
    stale_key = task_natural_key(7, 10, "measure_proposals", "approval", measure_id=5, revision=1)
    stale = TaskFact(2, stale_key, 10, "measure_proposals", "approval", TaskState.OPEN, measure_id=5)
    measures = [MeasureFact(5, 10, MeasureState.PROPOSED, 2)]
    plan = CyclePlanner(DEFINITION, 7, DUE, ORG, NOW, OSLO).plan(steps, [proposal, stale], measures)
    assert [(t.part_key, t.measure_id, t.assignee_id) for t in plan.new_tasks if t.step_key == "measure_proposals"] == [
        ("approval", 5, 2)
    ]
    assert plan.cancel_task_ids == [2]
    approved = [MeasureFact(5, 10, MeasureState.APPROVED, 2)]
    plan = CyclePlanner(DEFINITION, 7, DUE, ORG, NOW, OSLO).plan(steps, [proposal], approved)
    assert (10, "measure_proposals", UnitStepState.DONE) in {
        (c.unit_id, c.step_key, c.state) for c in plan.step_changes
    }


def test_the_sweep_asks_for_managers_and_hr_of_ten_thousand_people_in_well_under_a_second() -> None:
    # The sweep asks once per late task; a walk over everyone each time took 15 s for 10,600 tasks.
    units = [OrgUnit(1, None, 1)] + [OrgUnit(u, 1, u) for u in range(2, 602)]
    people = [OrgPerson(u, u, Role.LEADER) for u in range(1, 602)] + [OrgPerson(700, 1, Role.HR)]
    people += [OrgPerson(1000 + n, 2 + n % 600, Role.EMPLOYEE) for n in range(10_000)]
    org = OrgChart(units, people)
    started = time.perf_counter()
    answers = {(org.manager_of(p.id), org.hr()) for p in people}
    assert time.perf_counter() - started < 1.0
    assert (1, 700) in answers and (700, 700) in answers


def test_the_competence_mapping_goes_to_each_employee_before_the_needs_mapping() -> None:
    done = UnitStepState.DONE
    due = STANDARD.due_dates(dt.date(2027, 1, 4))
    steps = {(u, k): StepFact(done, due[k]) for u in (1, 10, 20) for k in ("strategy_review", "unit_goals")}
    plan = CyclePlanner(STANDARD, 7, due, ORG, NOW, OSLO).plan(steps, [], [])
    mapping = [(t.unit_id, t.subject_id, t.assignee_id) for t in plan.new_tasks if t.step_key == "competence_mapping"]
    assert mapping == [(1, 2, 2), (1, 3, 3), (1, 10, 10), (1, 20, 20), (10, 11, 11), (10, 12, 12)]
    assert {t.unit_id for t in plan.new_tasks if t.step_key == "needs_mapping"} == {20}
    states = {(c.unit_id, c.step_key): c.state for c in plan.step_changes}
    # The needs mapping waits for the unit's mapping; a unit without staff skips it and goes on at once.
    assert states[(10, "needs_mapping")] is UnitStepState.WAITING
    assert states[(20, "competence_mapping")] is UnitStepState.SKIPPED
    assert states[(20, "needs_mapping")] is UnitStepState.OPEN
    assert steps_ready(STANDARD, {"strategy_review": done, "unit_goals": done, "competence_mapping": done}) == [
        "action_plan",
        "needs_mapping",
    ]
