"""The cycle engine's Prefect flows.

``annual_cycle`` is the advance of one cycle: an idempotent reconcile, started when a cycle starts,
after every submission and by each sweep. A year is never held in a suspended flow run: the state
lives in our database and every run just makes it whole. ``sweep`` is the time-driven work, run on a
schedule. Both are async (a sync flow costs about a second more per run) and resolve every future,
so a failed task fails the run.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from prefect import flow, get_client, tags
from prefect.runtime import flow_run

from notifications.dispatcher import DEFAULT_LIMIT
from tasks.cycle_tasks import advance_task, cycle_year, running_cycles_task, time_driven_work_task
from tasks.dispatch_tasks import dispatch_batch_task

ANNUAL_CYCLE_FLOW = "annual_cycle"
SWEEP_FLOW = "sweep"
ANNUAL_CYCLE_DEPLOYMENT = f"{ANNUAL_CYCLE_FLOW}/annual-cycle"
SWEEP_DEPLOYMENT = f"{SWEEP_FLOW}/sweep"


def cycle_tag(cycle_id: int) -> str:
    return f"cycle:{cycle_id}"


def _annual_cycle_run_name() -> str:
    cycle_id = int(flow_run.parameters["cycle_id"])
    year = cycle_year(cycle_id)
    return f"annual-cycle-{year if year is not None else 'unknown'}-c{cycle_id}"


async def _tag_this_run(*labels: str) -> None:
    """Tag the flow run itself (a run started by a schedule or a direct call has no tags of ours)."""
    run_id = flow_run.id
    if run_id is None:
        return
    async with get_client() as client:
        run = await client.read_flow_run(run_id)
        missing = [label for label in labels if label not in run.tags]
        if missing:
            await client.update_flow_run(run_id, tags=[*run.tags, *missing])


@flow(name=ANNUAL_CYCLE_FLOW, flow_run_name=_annual_cycle_run_name, log_prints=False)
async def annual_cycle(cycle_id: int, now: dt.datetime | None = None, unit_id: int | None = None) -> dict[str, Any]:
    """Advance one cycle: open every unit step whose inputs are in, create due tasks, close done steps;
    with ``unit_id`` only in that unit (after a submission there)."""
    await _tag_this_run(cycle_tag(cycle_id))
    with tags(cycle_tag(cycle_id)):
        future = advance_task.submit(cycle_id, now, unit_id)
        report: dict[str, Any] = await asyncio.to_thread(future.result)
        if report.get("invitations_queued"):
            # Send the new tasks' invitations now rather than at the dispatcher's next scheduled run.
            sent = await asyncio.to_thread(dispatch_batch_task.submit(DEFAULT_LIMIT, now).result)
            report["dispatched"] = sent
        return report


#: What the time-driven work reports that means mail was queued.
QUEUES_MAIL = ("reminder_emails", "escalation_emails", "evaluations_opened", "follow_ups_opened", "weekly_summaries")


def _sweep_run_name() -> str:
    now = flow_run.parameters.get("now")
    moment = now if now is not None else flow_run.scheduled_start_time
    return f"sweep-{moment.isoformat() if hasattr(moment, 'isoformat') else moment}"


@flow(name=SWEEP_FLOW, flow_run_name=_sweep_run_name, log_prints=False)
async def sweep(now: dt.datetime | None = None) -> dict[str, Any]:
    """Reconcile every running cycle (the safety net: in full once a day, else the units whose advance
    is still owed), then send reminders and escalations and open evaluations."""
    cycle_ids = await asyncio.to_thread(running_cycles_task.submit().result)
    # Tagged with every cycle it works on, so filtering the Prefect UI by a cycle shows its sweeps too.
    await _tag_this_run("sweep", *(cycle_tag(c) for c in cycle_ids))
    advances = []
    for cycle_id in cycle_ids:
        with tags(cycle_tag(cycle_id)):
            advances.append(advance_task.submit(cycle_id, now, None, True))
    reports = [await asyncio.to_thread(f.result) for f in advances]
    work = await asyncio.to_thread(time_driven_work_task.submit(now).result)
    result = {"advanced": reports, **work}
    if any(r.get("invitations_queued") for r in reports) or any(work.get(k) for k in QUEUES_MAIL):
        # What the sweep queued goes out now, not at the dispatcher's next scheduled run.
        result["dispatched"] = await asyncio.to_thread(dispatch_batch_task.submit(DEFAULT_LIMIT, now).result)
    return result
