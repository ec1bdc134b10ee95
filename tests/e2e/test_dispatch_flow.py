"""The dispatcher flow runs for real under a Prefect test harness and sends what is due."""

from __future__ import annotations

import asyncio

import pytest

from aarshjul.db.models import Person
from aarshjul.orchestration import DISPATCH_DEPLOYMENT
from aarshjul.runtime import Runtime
from flows.dispatch import dispatch_outbox
from notifications.dev_outbox import list_outbox
from tasks.context import use_runtime
from tests.notifications_support import add_task, build_world, queue

pytestmark = [pytest.mark.prefect, pytest.mark.e2e]


def test_the_flow_sends_every_due_message_in_batches(prefect_api: None, runtime: Runtime) -> None:
    now = runtime.clock()
    with runtime.sessions.begin() as session:
        world = build_world(session, now)
        for index in range(5):
            task = add_task(session, world, world.employee_id, now)
            queue(
                session,
                f"inv:{index}",
                session.get(Person, world.employee_id),
                "task_invitation",
                {"task_ids": [task.id]},
                now,
            )
    use_runtime(runtime)
    try:
        result = asyncio.run(dispatch_outbox(limit=2, now=now))
    finally:
        use_runtime(None)
    assert result["sent"] == 5 and result["batches"] == 3
    assert {e["state"] for e in list_outbox(runtime)} == {"sent"}
    assert DISPATCH_DEPLOYMENT == "dispatch_outbox/dispatch"
