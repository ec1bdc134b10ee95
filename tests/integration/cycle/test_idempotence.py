"""Advance and sweep are reconciles: a second run changes nothing, a killed run is repaired by the next."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
from collections import Counter

import pytest
from sqlalchemy import func, select

from aarshjul.clock import ManualClock
from aarshjul.db.models import HumanTask, Notification, UnitStep
from aarshjul.runtime import Runtime
from aarshjul.usecases.admin.org_import import seed_demo
from aarshjul.usecases.cycle import advance
from aarshjul.usecases.cycle.advance import advance_cycle
from aarshjul.usecases.cycle.start import start_cycle
from aarshjul.usecases.cycle.sweep import sweep
from tests.integration.cycle.helpers import at, dump_database, invited_task_ids, open_tasks, submit


def test_advance_and_sweep_twice_leave_the_database_identical(runtime: Runtime, clock: ManualClock) -> None:
    seed_demo(runtime)
    cycle_id = start_cycle(runtime, 2027)
    submit(runtime, open_tasks(runtime)[:5])
    clock.set(at("2027-02-01"))  # reminders and escalations are due for the rest

    def advance_and_sweep() -> dict[str, list[tuple[object, ...]]]:
        advance_cycle(runtime, cycle_id)
        sweep(runtime)
        with runtime.sessions() as session:
            return dump_database(session)

    first = advance_and_sweep()
    assert len(first["notification"]) > len(first["human_task"]) > 0
    second = advance_and_sweep()
    assert second == first


def test_a_sigkill_while_opening_a_step_loses_nothing_and_doubles_nothing(runtime: Runtime, clock: ManualClock) -> None:
    seed_demo(runtime)
    # Started for tomorrow: nothing opens until the advance runs on that day.
    cycle_id = start_cycle(runtime, 2027, starts_on=dt.date(2027, 1, 5))
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(HumanTask)) == 0

    # A process opens step 1 and is killed after writing the tasks, before its transaction commits.
    script = textwrap.dedent(
        f"""
        import datetime as dt, sys, time
        from aarshjul.db.engine import make_engine, make_session_factory
        from aarshjul.runtime import Runtime
        from aarshjul.settings import Settings
        import aarshjul.usecases.cycle.advance as cycles

        real = cycles.queue_invitations

        def queue_then_hang(*args, **kwargs):
            real(*args, **kwargs)
            print("inside", flush=True)
            time.sleep(60)

        cycles.queue_invitations = queue_then_hang
        settings = Settings(database_url={runtime.settings.resolved_database_url!r}, secret_key="x" * 40)
        engine = make_engine(settings.resolved_database_url)
        runtime = Runtime(settings=settings, engine=engine, sessions=make_session_factory(engine))
        cycles.advance_cycle(runtime, {cycle_id}, now=dt.datetime(2027, 1, 5, 7, tzinfo=dt.UTC))
        """
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ)
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.strip() == "inside", process.stderr.read() if process.stderr else ""
    os.kill(process.pid, signal.SIGKILL)
    process.wait(10)
    assert process.returncode == -signal.SIGKILL

    clock.set(at("2027-01-05"))
    advance_cycle(runtime, cycle_id)
    advance_cycle(runtime, cycle_id)
    with runtime.sessions() as session:
        keys = Counter(session.scalars(select(HumanTask.natural_key)))
        opened = session.scalar(select(func.count()).select_from(UnitStep).where(UnitStep.state == "open"))
        invitations = session.scalar(
            select(func.count()).select_from(Notification).where(Notification.template == "task_invitation")
        )
    assert len(keys) == opened == 8 and set(keys.values()) == {1}
    counts = invited_task_ids(runtime)
    assert len(counts) == 8 and set(counts.values()) == {1}
    assert invitations == 8  # one leader per unit, one email each


def test_a_whole_cycle_advance_in_parts_reports_every_part(
    runtime: Runtime, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large organisation is advanced a thousand units at a time; the report adds up every part
    (it once kept only the last part's counts)."""
    seed_demo(runtime)
    cycle_id = start_cycle(runtime, 2027, starts_on=dt.date(2027, 1, 5))
    clock.set(at("2027-01-05"))
    monkeypatch.setattr(advance, "UNITS_AT_A_TIME", 2)
    report = advance_cycle(runtime, cycle_id)
    with runtime.sessions() as session:
        tasks = session.scalar(select(func.count()).select_from(HumanTask))
        units = session.scalar(select(func.count(func.distinct(HumanTask.unit_id))))
        invitations = session.scalar(
            select(func.count()).select_from(Notification).where(Notification.template == "task_invitation")
        )
    assert units is not None and units > 2 * advance.UNITS_AT_A_TIME  # more than two parts
    assert report.tasks_created == tasks
    assert report.invitations_queued == invitations > 0
