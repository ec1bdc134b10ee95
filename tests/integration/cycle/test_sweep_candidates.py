"""The sweep reads only the open tasks that may have a reminder or escalation rung due, chosen in SQL
from the task's own columns (its ladders, the rungs it has had, its deadline). That choice must never
leave out a task the sweep would act on: property-based, on SQLite and PostgreSQL, over tasks of every
kind of step with random deadlines, rungs and moments, every task whose rungs the exact rules in Python
would change is among those read. And it must leave out the ones with nothing to come."""

from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from aarshjul.db.engine import unit_of_work
from aarshjul.db.models import Cycle, HumanTask
from aarshjul.domain.enums import ACTIONABLE_TASK_STATES
from aarshjul.domain.followups import LIVES_ON_STEP_KEYS
from aarshjul.runtime import Runtime
from aarshjul.usecases.admin.org_import import seed_demo
from aarshjul.usecases.cycle.start import start_cycle
from aarshjul.usecases.cycle.sweep import _Contexts, _ladders, _rung_may_have_come, _rungs_now
from aarshjul.usecases.shared.cycles import cycle_definition

BASE = dt.date(2027, 3, 1)


def _started(runtime: Runtime) -> tuple[int, list[int], list[str]]:
    seed_demo(runtime)
    cycle_id = start_cycle(runtime, 2027)
    with runtime.sessions() as session:
        ids = list(session.scalars(select(HumanTask.id).where(HumanTask.cycle_id == cycle_id).order_by(HumanTask.id)))
        keys = [step.key for step in cycle_definition(session, session.get_one(Cycle, cycle_id)).steps]
    return cycle_id, ids[:8], keys


def _chosen_and_needed(runtime: Runtime, now: dt.datetime) -> tuple[set[int], set[int]]:
    """The tasks the sweep's SQL reads, and those whose rungs the exact rules would change."""
    with runtime.sessions() as session:
        contexts = _Contexts(session, runtime, now)
        chosen = set(
            session.scalars(
                select(HumanTask.id).where(HumanTask.state.in_(ACTIONABLE_TASK_STATES), _rung_may_have_come(contexts))
            )
        )
        needed = set()
        for task in session.scalars(select(HumanTask).where(HumanTask.state.in_(ACTIONABLE_TASK_STATES))):
            ladders = _ladders(contexts.definition(task.cycle_id), task.step_key)
            sent, _, level, _ = _rungs_now(
                ladders, task.due_on, task.reminders_sent, task.escalation_level, now, runtime.settings.zone
            )
            if (sent, level) != (task.reminders_sent, task.escalation_level):
                needed.add(task.id)
    return chosen, needed


task_shapes = st.tuples(
    st.integers(min_value=0, max_value=12),  # which step: an index into the step keys, past them a gone step
    st.integers(min_value=-14, max_value=10),  # deadline, days from the day of the sweep
    st.integers(min_value=0, max_value=3),  # reminders sent
    st.integers(min_value=0, max_value=3),  # escalation level
)


def test_no_task_the_sweep_would_act_on_is_left_unread(runtime: Runtime) -> None:
    _, task_ids, step_keys = _started(runtime)
    keys = [*step_keys, *sorted(LIVES_ON_STEP_KEYS), "a_step_since_removed"]

    @settings(max_examples=100, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
    @given(
        shapes=st.lists(task_shapes, min_size=len(task_ids), max_size=len(task_ids)),
        minutes=st.integers(min_value=-3 * 24 * 60, max_value=3 * 24 * 60),
    )
    def check(shapes: list[tuple[int, int, int, int]], minutes: int) -> None:
        now = dt.datetime.combine(BASE, dt.time(12), tzinfo=dt.UTC) + dt.timedelta(minutes=minutes)
        with unit_of_work(runtime.sessions) as session:
            for task_id, (step, days, sent, level) in zip(task_ids, shapes, strict=True):
                session.execute(
                    update(HumanTask)
                    .where(HumanTask.id == task_id)
                    .values(
                        step_key=keys[step % len(keys)],
                        due_on=now.date() + dt.timedelta(days=days),
                        reminders_sent=sent,
                        escalation_level=level,
                    )
                )
        chosen, needed = _chosen_and_needed(runtime, now)
        assert needed <= chosen, f"left unread: {sorted(needed - chosen)}"

    check()


def test_tasks_with_nothing_to_come_are_not_read(runtime: Runtime) -> None:
    _, task_ids, _ = _started(runtime)
    far, spent, near = task_ids[0], task_ids[1], task_ids[2]
    with unit_of_work(runtime.sessions) as session:
        session.execute(update(HumanTask).values(due_on=BASE + dt.timedelta(days=60)))
        # Long overdue with both ladders spent: escalated to the manager and HR already.
        session.execute(
            update(HumanTask)
            .where(HumanTask.id == spent)
            .values(due_on=BASE - dt.timedelta(days=60), reminders_sent=3, escalation_level=3)
        )
        session.execute(update(HumanTask).where(HumanTask.id == near).values(due_on=BASE + dt.timedelta(days=3)))
    now = dt.datetime.combine(BASE, dt.time(12), tzinfo=dt.UTC)
    chosen, needed = _chosen_and_needed(runtime, now)
    assert chosen == needed == {near}
    assert far not in chosen
