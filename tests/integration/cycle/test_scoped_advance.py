"""The advance after a submission is scoped to the submission's unit; the full reconcile stays as the
sweep's safety net. A property-based test, on SQLite and PostgreSQL: over generated organisations and
random orders of real submissions (each followed by its unit's advance, as the trigger does), a full
advance afterwards changes nothing at all."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select, update

from aarshjul.db.engine import unit_of_work
from aarshjul.db.models import Base, Cycle, HumanTask, Measure, Person, Unit, UnitStep
from aarshjul.domain.enums import TaskState
from aarshjul.domain.followups import LIVES_ON_STEP_KEYS
from aarshjul.domain.progression import AdvancePlan, CyclePlanner, MeasureFact, StepFact, TaskFact
from aarshjul.runtime import Runtime
from aarshjul.usecases.admin.org_import import DEMO_STRATEGY_FILE, import_org, load_strategy
from aarshjul.usecases.cycle.advance import advance_cycle
from aarshjul.usecases.cycle.start import start_cycle
from aarshjul.usecases.shared.cycles import cycle_definition, step_due_dates
from aarshjul.usecases.shared.org import load_org
from aarshjul.usecases.work.opening import open_task
from aarshjul.usecases.work.submitting import submit_form
from tests.builders import TaskRef, find_tasks, valid_input
from tests.fakes import InlineTriggers
from tests.integration.cycle.helpers import dump_database


@dataclass(frozen=True)
class Organisation:
    parents: tuple[int | None, ...]  #: unit i's parent (an earlier unit), None for the top
    employees: tuple[int, ...]  #: how many employees each unit has besides its leader
    gone_leaders: frozenset[int]  #: units whose leader has left (someone above acts for them)


@st.composite
def organisations(draw: st.DrawFn) -> Organisation:
    units = draw(st.integers(min_value=1, max_value=4))
    parents = (None, *(draw(st.integers(min_value=0, max_value=i - 1)) for i in range(1, units)))
    employees = tuple(draw(st.integers(min_value=0, max_value=2)) for _ in range(units))
    gone = draw(st.frozensets(st.integers(min_value=1, max_value=units - 1), max_size=1)) if units > 1 else frozenset()
    return Organisation(parents, employees, gone)


def _csv(org: Organisation) -> str:
    rows = ["employee_no,name,email,unit,unit_name,parent_unit,role"]
    number = 0
    for index, parent in enumerate(org.parents):
        unit = f"U{index}"
        parent_code = f"U{parent}" if parent is not None else ""
        roles = ["leader", *(["employee"] * org.employees[index])]
        if index == 0:
            roles.append("hr")
        for role in roles:
            number += 1
            rows.append(f"{number},Person {number},p{number}@example.no,{unit},Enhet {index},{parent_code},{role}")
    return "\n".join(rows) + "\n"


def _empty(runtime: Runtime) -> None:
    """A fresh database for each example (hypothesis runs many in one test)."""
    with unit_of_work(runtime.sessions) as session:
        session.execute(update(Unit).values(leader_id=None))
        for table in reversed(Base.metadata.sorted_tables):
            session.execute(delete(table))


def _build(runtime: Runtime, org: Organisation, folder: Path) -> int:
    _empty(runtime)
    path = folder / "org.csv"
    path.write_text(_csv(org), encoding="utf-8")
    import_org(runtime, path, actor="test", organisation_name="Generert kommune")
    load_strategy(runtime, DEMO_STRATEGY_FILE, actor="test")
    if org.gone_leaders:
        yesterday = runtime.clock().date() - dt.timedelta(days=1)
        with unit_of_work(runtime.sessions) as session:
            leaders = select(Unit.leader_id).where(Unit.code.in_([f"U{i}" for i in org.gone_leaders]))
            session.execute(update(Person).where(Person.id.in_(leaders)).values(active_to=yesterday))
    return start_cycle(runtime, 2027)


def _actionable(runtime: Runtime, cycle_id: int) -> list[TaskRef]:
    found = []
    for form_key in ("strategy_review", "unit_goals", "action_plan", "needs_mapping", "measure_proposal"):
        found += find_tasks(runtime, cycle_id, form_key, states=(TaskState.OPEN, TaskState.RETURNED))
    for form_key in ("measure_approval", "talk_preparation", "talk_record", "talk_confirmation"):
        found += find_tasks(runtime, cycle_id, form_key, states=(TaskState.OPEN, TaskState.RETURNED))
    for form_key in ("goal_breakdown", "goal_acknowledgement"):
        found += find_tasks(runtime, cycle_id, form_key, states=(TaskState.OPEN, TaskState.RETURNED))
    return sorted(found, key=lambda t: t.id)


def _whole_organisation_plan(runtime: Runtime, cycle_id: int) -> AdvancePlan:
    """What the planner makes of the whole cycle, given the whole organisation at once: the oracle the
    advances (a unit or a thousand at a time) are held to."""
    with runtime.sessions() as session:
        cycle = session.get(Cycle, cycle_id)
        assert cycle is not None
        now = runtime.clock()
        org, _contacts = load_org(session, cycle.organisation_id, now.astimezone(runtime.settings.zone).date())
        steps = {
            (s.unit_id, s.step_key): StepFact(s.state, s.due_on)
            for s in session.scalars(select(UnitStep).where(UnitStep.cycle_id == cycle_id))
        }
        tasks = [
            TaskFact(t.id, t.natural_key, t.unit_id, t.step_key, t.part_key, t.state, t.subject_person_id, t.measure_id)
            for t in session.scalars(select(HumanTask).where(HumanTask.cycle_id == cycle_id))
            if t.step_key not in LIVES_ON_STEP_KEYS
        ]
        measures = [
            MeasureFact(m.id, m.unit_id, m.state, m.revision)
            for m in session.scalars(select(Measure).where(Measure.cycle_id == cycle_id))
        ]
        planner = CyclePlanner(
            cycle_definition(session, cycle), cycle_id, step_due_dates(cycle), org, now, runtime.settings.zone
        )
        return planner.plan(steps, tasks, measures)


def _dump(runtime: Runtime) -> dict[str, list[tuple[object, ...]]]:
    with runtime.sessions() as session:
        return dump_database(session)


@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(org=organisations(), data=st.data())
def test_after_any_order_of_scoped_advances_a_full_advance_changes_nothing(
    runtime: Runtime, tmp_path: Path, org: Organisation, data: st.DataObject
) -> None:
    cycle_id = _build(runtime, org, tmp_path)
    scoped: list[int | None] = []

    def advance(cycle: int, unit: int | None) -> None:
        scoped.append(unit)
        advance_cycle(runtime, cycle, unit_id=unit)

    runtime.triggers = InlineTriggers(advance=advance, dispatch=lambda: None)
    submissions = data.draw(st.integers(min_value=0, max_value=60), label="submissions")
    for _ in range(submissions):
        tasks = _actionable(runtime, cycle_id)
        if not tasks:
            break
        task = data.draw(st.sampled_from(tasks), label="next submission")
        answer = valid_input(open_task(runtime, task.token))
        if task.form_key == "measure_approval" and data.draw(st.booleans(), label="return the proposal"):
            answer = {"decision": "return", "comment": "Beskriv ønsket effekt tydeligere"}
        submit_form(runtime, task.token, answer)
    assert all(unit is not None for unit in scoped)  # every submission advanced its unit only

    oracle = _whole_organisation_plan(runtime, cycle_id)
    assert not (oracle.step_changes or oracle.new_tasks or oracle.cancel_task_ids), oracle
    before = _dump(runtime)
    report = advance_cycle(runtime, cycle_id)
    assert not report.changed and report.invitations_queued == 0, report
    assert _dump(runtime) == before


def test_a_scoped_advance_reads_only_its_unit(runtime: Runtime, tmp_path: Path) -> None:
    """Opening the next step of one unit leaves every other unit as it was, and its work is the unit's."""
    org = Organisation(parents=(None, 0, 0), employees=(1, 2, 2), gone_leaders=frozenset())
    cycle_id = _build(runtime, org, tmp_path)
    with runtime.sessions() as session:
        units = dict(session.execute(select(Unit.code, Unit.id)).all())
    review = find_tasks(runtime, cycle_id, "strategy_review", units["U1"])[0]
    runtime.triggers = InlineTriggers(advance=lambda c, u: None, dispatch=lambda: None)
    submit_form(runtime, review.token, valid_input(open_task(runtime, review.token)))
    with runtime.sessions() as session:
        others_before = session.scalar(
            select(func.count()).select_from(HumanTask).where(HumanTask.unit_id != units["U1"])
        )
    report = advance_cycle(runtime, cycle_id, unit_id=units["U1"])
    assert report.unit_id == units["U1"] and report.steps_done == 1 and report.steps_opened == 1
    assert report.tasks_created == 1 and report.invitations_queued == 1
    with runtime.sessions() as session:
        others_after = session.scalar(
            select(func.count()).select_from(HumanTask).where(HumanTask.unit_id != units["U1"])
        )
    assert others_after == others_before
    assert not advance_cycle(runtime, cycle_id).changed
