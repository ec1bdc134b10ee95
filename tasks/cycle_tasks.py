"""Prefect tasks of the cycle engine: thin wrappers over the use cases, one per unit of work.

Each wrapped function is plain and typed; the database work it does is idempotent, so a retry after
a lost connection is safe (the only reason these tasks retry).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Any

from prefect import task

from aarshjul.usecases.cycle.advance import advance_cycle, reconcile_cycle
from aarshjul.usecases.cycle.lifecycle import running_cycle_ids, year_of_cycle
from aarshjul.usecases.cycle.sweep import sweep
from tasks.context import flow_runtime


def advance(
    cycle_id: int, now: dt.datetime | None = None, unit_id: int | None = None, owed_only: bool = False
) -> dict[str, Any]:
    """The advance of a cycle, of one unit, or (``owed_only``, the sweep's) of what is owed."""
    if owed_only:
        return asdict(reconcile_cycle(flow_runtime(), cycle_id, now=now))
    return asdict(advance_cycle(flow_runtime(), cycle_id, now=now, unit_id=unit_id))


def running_cycles() -> list[int]:
    return running_cycle_ids(flow_runtime())


def time_driven_work(now: dt.datetime | None = None) -> dict[str, Any]:
    """Reminders, escalations and evaluation triggers (the advances run as their own tasks)."""
    report = sweep(flow_runtime(), now=now, advance=False)
    return {k: v for k, v in asdict(report).items() if k != "advanced"} | {"now": report.now.isoformat()}


def cycle_year(cycle_id: int) -> int | None:
    return year_of_cycle(flow_runtime(), cycle_id)


advance_task = task(name="advance-cycle", retries=2, retry_delay_seconds=5)(advance)
running_cycles_task = task(name="running-cycles", retries=2, retry_delay_seconds=5)(running_cycles)
time_driven_work_task = task(name="reminders-escalations-evaluations", retries=2, retry_delay_seconds=5)(
    time_driven_work
)
