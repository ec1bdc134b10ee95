"""Prefect tasks of the cycle engine: thin wrappers over the use cases, one per unit of work.

Each wrapped function is plain and typed; the database work it does is idempotent, so a retry after
a lost connection is safe (the only reason these tasks retry).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Any

from aarshjul.orchestration import advance_key
from aarshjul.usecases.cycle.advance import advance_cycle, advance_owed, reconcile_cycle
from aarshjul.usecases.cycle.lifecycle import running_cycle_ids, year_of_cycle
from aarshjul.usecases.cycle.sweep import sweep
from aarshjul.usecases.reporting.board import cycle_status
from aarshjul.usecases.reporting.unassignable import unassignable_tasks
from aarshjul.usecases.shared.coalescing import enter
from aarshjul.usecases.shared.cycles import today_for
from tasks.context import flow_runtime
from tasks.options import work_task


def advance(
    cycle_id: int, now: dt.datetime | None = None, unit_id: int | None = None, owed_only: bool = False
) -> dict[str, Any]:
    """The advance of a whole cycle; with ``unit_id`` (a triggered run) of that unit and every unit
    still owed; with ``owed_only`` (the sweep's) in full once a day, else what is owed."""
    runtime = flow_runtime()
    if owed_only:
        return asdict(reconcile_cycle(runtime, cycle_id, now=now))
    if unit_id is not None:
        return asdict(advance_owed(runtime, cycle_id, now=now, unit_id=unit_id))
    return asdict(advance_cycle(runtime, cycle_id, now=now))


def enter_run(key: str) -> int:
    """This run begins reading the data: triggers from now on need a new run (usecases.shared.coalescing)."""
    return enter(flow_runtime(), key)


def enter_cycles(cycle_ids: list[int]) -> None:
    """The sweep reconciles these cycles: a trigger waiting on a run that died before it began is freed
    (the sweep reads what is owed after this, and on a cycle's first sweep of a day reads everything)."""
    for cycle_id in cycle_ids:
        enter(flow_runtime(), advance_key(cycle_id))


def running_cycles() -> list[int]:
    return running_cycle_ids(flow_runtime())


def time_driven_work(now: dt.datetime | None = None) -> dict[str, Any]:
    """Reminders, escalations and evaluation triggers (the advances run as their own tasks)."""
    report = sweep(flow_runtime(), now=now, advance=False)
    return {k: v for k, v in asdict(report).items() if k != "advanced"} | {"now": report.now.isoformat()}


def cycle_year(cycle_id: int) -> int | None:
    return year_of_cycle(flow_runtime(), cycle_id)


def cycle_overview(cycle_id: int, now: dt.datetime | None = None) -> dict[str, Any]:
    """Units × steps, the late count and the unassignable tasks: what the advance publishes in Prefect."""
    runtime = flow_runtime()
    today = today_for(now or runtime.clock(), runtime.settings.zone)
    with runtime.sessions() as session:
        status = cycle_status(session, cycle_id, today=today)
        unassignable = unassignable_tasks(session, cycle_id)
    steps = [f"{step.number}. {step.names.nb}" for step in status.steps]
    rows = [
        {"unit": "  " * unit.depth + unit.name}
        | {name: cell.state.value for name, cell in zip(steps, unit.cells, strict=True)}
        for unit in status.units
    ]
    return {
        "year": status.cycle.year,
        "rows": rows,
        "late": status.late_total,
        "unassignable": [f"{u.unit_name}: {u.task_name.nb}" for u in unassignable],
    }


advance_task = work_task("advance-cycle")(advance)
enter_run_task = work_task("enter-run")(enter_run)
enter_cycles_task = work_task("enter-cycles")(enter_cycles)
running_cycles_task = work_task("running-cycles")(running_cycles)
time_driven_work_task = work_task("reminders-escalations-evaluations")(time_driven_work)
cycle_overview_task = work_task("cycle-overview")(cycle_overview)
