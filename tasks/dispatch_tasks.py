"""The outbox dispatcher's Prefect task: one batch of ``notifications.dispatcher.dispatch_due``.

A retry is safe: rows are claimed with a lease and marked only under their claim, so a batch that
died half-way leaves nothing to repeat but what was not yet recorded.
"""

from __future__ import annotations

import datetime as dt

from notifications.dispatcher import DEFAULT_LIMIT, dispatch_due
from tasks.context import flow_runtime
from tasks.options import work_task


def dispatch_batch(limit: int = DEFAULT_LIMIT, now: dt.datetime | None = None) -> dict[str, int]:
    return dispatch_due(flow_runtime(), now=now, limit=limit).as_dict()


dispatch_batch_task = work_task("dispatch-batch", retry_delay_seconds=10)(dispatch_batch)
