"""The outbox dispatcher as a Prefect flow: served on a one-minute schedule and triggered after
commits that queued mail. The logic is ``notifications.dispatcher.dispatch_due``; each batch is one
task (tasks/dispatch_tasks.py).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from prefect import flow

from notifications.dispatcher import DEFAULT_LIMIT
from tasks.dispatch_tasks import dispatch_batch_task

DISPATCH_FLOW = "dispatch_outbox"
DISPATCH_DEPLOYMENT = f"{DISPATCH_FLOW}/dispatch"
MAX_BATCHES = 20


@flow(name=DISPATCH_FLOW, log_prints=False)
async def dispatch_outbox(limit: int = DEFAULT_LIMIT, now: dt.datetime | None = None) -> dict[str, Any]:
    """Send every due message, one batch after another, until a batch comes back short."""
    totals: dict[str, int] = {}
    batches = 0
    while batches < MAX_BATCHES:
        batches += 1
        report = await asyncio.to_thread(dispatch_batch_task.submit(limit, now).result)
        for key, value in report.items():
            totals[key] = totals.get(key, 0) + value
        if report["claimed"] < limit:
            break
    return {**totals, "batches": batches}
