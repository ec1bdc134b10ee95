"""The sweep's safety net, on SQLite and PostgreSQL: a submission records that its unit's advance is
owed, so a lost trigger is repaired by the next sweep; the first sweep of each day (and the next one
after an org import) reconciles the whole cycle; other sweeps read only what is owed."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from aarshjul.clock import ManualClock
from aarshjul.db.models import AdvanceRequest, Cycle, HumanTask
from aarshjul.runtime import Runtime
from aarshjul.usecases.admin.org_import import DEMO_ORG_FILE, import_org, seed_demo
from aarshjul.usecases.cycle.start import start_cycle
from aarshjul.usecases.cycle.sweep import sweep
from aarshjul.usecases.work.opening import open_task
from aarshjul.usecases.work.submitting import submit_form
from tests.builders import find_tasks, unit_id, valid_input
from tests.fakes import RecordingTriggers
from tests.integration.cycle.helpers import submit


def _count(runtime: Runtime, statement) -> int:  # type: ignore[no-untyped-def]
    with runtime.sessions() as session:
        return int(session.scalar(statement) or 0)


def _unit_goals_tasks(runtime: Runtime, unit: int) -> int:
    return _count(
        runtime,
        select(func.count())
        .select_from(HumanTask)
        .where(HumanTask.unit_id == unit, HumanTask.step_key == "unit_goals"),
    )


def test_a_lost_trigger_is_repaired_by_the_next_sweep_the_same_day(runtime: Runtime, clock: ManualClock) -> None:
    seed_demo(runtime)
    cycle_id = start_cycle(runtime, 2027)
    unit = unit_id(runtime, "HR")
    review = find_tasks(runtime, cycle_id, "strategy_review", unit)[0]
    runtime.triggers = RecordingTriggers()  # the trigger is asked for, and never runs
    submit_form(runtime, review.token, valid_input(open_task(runtime, review.token)))
    assert runtime.triggers.advanced_units == [(cycle_id, unit)]
    assert _unit_goals_tasks(runtime, unit) == 0
    assert _count(runtime, select(func.count()).select_from(AdvanceRequest)) == 1

    clock.set(clock() + dt.timedelta(minutes=15))
    report = sweep(runtime)
    assert [a.unit_id for a in report.advanced] == [unit]  # only the unit that was owed
    assert _unit_goals_tasks(runtime, unit) == 1
    assert _count(runtime, select(func.count()).select_from(AdvanceRequest)) == 0


def test_the_first_sweep_of_a_day_reconciles_the_whole_cycle(runtime: Runtime, clock: ManualClock) -> None:
    """A change no use case made (here: straight in the database) owes nothing; the next day's first
    sweep finds it all the same."""
    seed_demo(runtime)
    start_cycle(runtime, 2027)
    unit = unit_id(runtime, "HR")
    with runtime.sessions() as session:
        tasks = list(session.scalars(select(HumanTask).where(HumanTask.unit_id == unit)))
    submit(runtime, tasks)
    clock.set(clock() + dt.timedelta(minutes=15))
    assert not sweep(runtime).advanced[0].changed
    assert _unit_goals_tasks(runtime, unit) == 0

    clock.set(clock() + dt.timedelta(days=1))
    assert sweep(runtime).advanced[0].tasks_created == 1
    assert _unit_goals_tasks(runtime, unit) == 1
    with runtime.sessions() as session:
        assert session.scalar(select(Cycle.reconciled_on)) == clock().date()


def test_an_org_import_makes_the_next_sweep_reconcile_in_full(runtime: Runtime, clock: ManualClock) -> None:
    seed_demo(runtime)
    start_cycle(runtime, 2027)
    with runtime.sessions() as session:
        assert session.scalar(select(Cycle.reconciled_on)) == clock().date()
    import_org(runtime, DEMO_ORG_FILE, actor="test")
    with runtime.sessions() as session:
        assert session.scalar(select(Cycle.reconciled_on)) is None
    sweep(runtime)
    with runtime.sessions() as session:
        assert session.scalar(select(Cycle.reconciled_on)) == clock().date()
