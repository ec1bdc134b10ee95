"""The outbox dispatcher as a Prefect flow: started by a trigger after commits that queue mail, and
on a safety schedule every few minutes for what no trigger started (a retry that fell due). The logic
is ``notifications.dispatcher.dispatch_due``; each batch is one task (tasks/dispatch_tasks.py).

One dispatcher runs at a time; triggers meanwhile join the one run waiting behind it (see
``flows.cycle_flows`` for the pattern).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from aarshjul.orchestration import DISPATCH_FLOW, DISPATCH_KEY, DISPATCH_LIMIT, dispatch_run_name
from flows.exclusive import exclusive
from notifications.dispatcher import DEFAULT_LIMIT
from tasks.context import flow_runtime
from tasks.cycle_tasks import enter_run_task
from tasks.dispatch_tasks import dispatch_batch_task

MAX_BATCHES = 20


def _dispatch_run_name() -> str:
    current = flow_run.name
    if isinstance(current, str) and current.startswith("dispatch-"):
        return current  # named by the trigger that created it
    moment = flow_run.scheduled_start_time
    if not isinstance(moment, dt.datetime):
        moment = dt.datetime.now(dt.UTC)
    return dispatch_run_name(moment, flow_runtime().settings.zone)


async def send_due(limit: int = DEFAULT_LIMIT, now: dt.datetime | None = None) -> dict[str, int]:
    """Send every due message, one batch (task) after another, until a batch comes back short.

    Also called inside the advance and the sweep when they queued mail, so their invitations go out
    in the same run; two senders at once are safe (rows are claimed).
    """
    totals: dict[str, int] = {}
    batches = 0
    while batches < MAX_BATCHES:
        batches += 1
        report = await asyncio.to_thread(dispatch_batch_task.submit(limit, now).result)
        for key, value in report.items():
            totals[key] = totals.get(key, 0) + value
        if report["claimed"] < limit:
            break
    get_run_logger().info("sent %s emails in %s batches (%s)", totals.get("sent", 0), batches, totals)
    return {**totals, "batches": batches}


@flow(name=DISPATCH_FLOW, flow_run_name=_dispatch_run_name, log_prints=False)
async def dispatch_outbox(limit: int = DEFAULT_LIMIT, now: dt.datetime | None = None) -> dict[str, Any]:
    """Send every due message, one batch after another, until a batch comes back short."""
    async with exclusive(DISPATCH_LIMIT, get_run_logger()):
        await asyncio.to_thread(enter_run_task.submit(DISPATCH_KEY).result)
        return await send_due(limit, now)
