"""The outbox dispatcher as a Prefect flow: served on a one-minute schedule and triggered after
commits that queued mail. The logic is ``notifications.dispatcher.dispatch_due``; this only wraps it.

Each batch is one task. A retry is safe: rows are claimed with a lease and marked only under their
claim, so a batch that died half-way leaves nothing to repeat but what was not yet recorded.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from prefect import flow, task

from notifications.dispatcher import DEFAULT_LIMIT, dispatch_due
from tasks.context import flow_runtime

DISPATCH_FLOW = "dispatch_outbox"
DISPATCH_DEPLOYMENT = f"{DISPATCH_FLOW}/dispatch"
MAX_BATCHES = 20


def dispatch_batch(limit: int = DEFAULT_LIMIT, now: dt.datetime | None = None) -> dict[str, int]:
    return dispatch_due(flow_runtime(), now=now, limit=limit).as_dict()


dispatch_batch_task = task(name="dispatch-batch", retries=2, retry_delay_seconds=10)(dispatch_batch)


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
