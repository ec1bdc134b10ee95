"""The cycle engine's Prefect flows.

``annual_cycle`` is the advance of one cycle: an idempotent reconcile, started when a cycle starts,
after every submission and by each sweep. A year is never held in a suspended flow run: the state
lives in our database and every run just makes it whole. ``sweep`` is the time-driven work, run on a
schedule. Both are async (a sync flow costs about a second more per run) and resolve every future,
so a failed task fails the run.

One advance of a cycle runs at a time (``flows.exclusive``), and a run counts as begun (``enter``)
only once it holds that slot, so every trigger meanwhile joins the one run waiting behind it
(``aarshjul.usecases.shared.coalescing``). Each advance logs what it opened and sent and publishes
the cycle's board (units × steps, late tasks, tasks nobody could be given) as a table artifact.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from prefect import flow, get_client, get_run_logger, tags
from prefect.artifacts import acreate_table_artifact
from prefect.runtime import flow_run

from aarshjul.domain.enums import AdvanceReason
from aarshjul.orchestration import (
    ADVANCE_FLOW,
    SWEEP_FLOW,
    advance_key,
    advance_limit,
    advance_run_name,
    cycle_tag,
    sweep_run_name,
)
from flows.dispatch import send_due
from flows.exclusive import exclusive
from notifications.dispatcher import DEFAULT_LIMIT
from tasks.context import flow_runtime
from tasks.cycle_tasks import (
    advance_task,
    cycle_overview_task,
    cycle_year,
    enter_cycles_task,
    enter_run_task,
    running_cycles_task,
    time_driven_work_task,
)

#: What the sweep's time-driven work reports as mail it queued.
MAIL_COUNTS = ("reminder_emails", "escalation_emails", "evaluations_opened", "follow_ups_opened", "weekly_summaries")


def _annual_cycle_run_name() -> str:
    cycle_id = int(flow_run.parameters["cycle_id"])
    reason = str(flow_run.parameters.get("reason") or AdvanceReason.REQUESTED)
    return advance_run_name(cycle_year(cycle_id), reason)


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


async def _publish_overview(cycle_id: int, now: dt.datetime | None) -> dict[str, Any]:
    overview: dict[str, Any] = await asyncio.to_thread(cycle_overview_task.submit(cycle_id, now).result)
    unassignable = overview["unassignable"]
    lines = [f"Syklus {overview['year']} (cycle {cycle_id}): {overview['late']} forsinkede oppgaver (late tasks)."]
    if unassignable:
        lines.append(f"Oppgaver ingen kunne få (tasks nobody could be given): {len(unassignable)}")
        lines += [f"- {entry}" for entry in unassignable]
    await acreate_table_artifact(
        key=f"cycle-{cycle_id}-board", table=overview["rows"] or [{"unit": "-"}], description="\n".join(lines)
    )
    return overview


@flow(name=ADVANCE_FLOW, flow_run_name=_annual_cycle_run_name, log_prints=False)
async def annual_cycle(
    cycle_id: int,
    now: dt.datetime | None = None,
    unit_id: int | None = None,
    reason: AdvanceReason = AdvanceReason.REQUESTED,
) -> dict[str, Any]:
    """Advance one cycle: open every unit step whose inputs are in, create due tasks, close done steps;
    with ``unit_id`` (a triggered run) only in that unit and the others whose advance is owed, since
    the triggers for them joined this run."""
    logger = get_run_logger()
    await _tag_this_run(cycle_tag(cycle_id))
    with tags(cycle_tag(cycle_id)):
        # Only the advance itself holds the cycle's slot: the run waiting behind this one can begin
        # while this one sends the invitations and publishes the board.
        async with exclusive(advance_limit(cycle_id), logger):
            key = advance_key(cycle_id, whole=unit_id is None)
            await asyncio.to_thread(enter_run_task.submit(key).result)
            report: dict[str, Any] = await asyncio.to_thread(advance_task.submit(cycle_id, now, unit_id).result)
        logger.info(
            "opened %s steps, created %s tasks, closed %s steps, cancelled %s tasks, queued %s invitations",
            report["steps_opened"],
            report["tasks_created"],
            report["steps_done"],
            report["tasks_cancelled"],
            report["invitations_queued"],
        )
        if report["unassignable"]:
            logger.warning("nobody could be given %s tasks: %s", len(report["unassignable"]), report["unassignable"])
        if report.get("invitations_queued"):
            # Send the new tasks' invitations now rather than at the dispatcher's next run.
            report["dispatched"] = await send_due(DEFAULT_LIMIT, now)
        overview = await _publish_overview(cycle_id, now)
        logger.info("the cycle has %s late tasks", overview["late"])
    return report


def _sweep_run_name() -> str:
    now = flow_run.parameters.get("now")
    moment = now if isinstance(now, dt.datetime) else flow_run.scheduled_start_time
    if isinstance(moment, str):
        moment = dt.datetime.fromisoformat(moment)
    if not isinstance(moment, dt.datetime):
        moment = dt.datetime.now(dt.UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return sweep_run_name(moment, flow_runtime().settings.zone)


@flow(name=SWEEP_FLOW, flow_run_name=_sweep_run_name, log_prints=False)
async def sweep(now: dt.datetime | None = None) -> dict[str, Any]:
    """Reconcile every running cycle (the safety net: in full once a day, else the units whose advance
    is still owed), then send reminders and escalations and open evaluations."""
    logger = get_run_logger()
    cycle_ids = await asyncio.to_thread(running_cycles_task.submit().result)
    # Tagged with every cycle it works on, so filtering the Prefect UI by a cycle shows its sweeps too.
    await _tag_this_run("sweep", *(cycle_tag(c) for c in cycle_ids))
    await asyncio.to_thread(enter_cycles_task.submit(cycle_ids).result)
    advances = []
    for cycle_id in cycle_ids:
        with tags(cycle_tag(cycle_id)):
            advances.append(advance_task.submit(cycle_id, now, None, True))
    reports = [await asyncio.to_thread(f.result) for f in advances]
    for report in reports:
        if report["tasks_created"] or report["steps_opened"]:
            logger.info(
                "cycle %s: opened %s steps and created %s tasks that no trigger had",
                report["cycle_id"],
                report["steps_opened"],
                report["tasks_created"],
            )
    work = await asyncio.to_thread(time_driven_work_task.submit(now).result)
    logger.info("reminders, escalations and evaluations: %s", work)
    queued = sum(r["invitations_queued"] for r in reports) + sum(work[k] for k in MAIL_COUNTS)
    dispatched = await send_due(DEFAULT_LIMIT, now) if queued else {}
    return {"advanced": reports, **work, "dispatched": dispatched}
