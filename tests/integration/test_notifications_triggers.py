"""Every commit that queues mail asks for the dispatcher at once, so nobody waits for its schedule."""

from __future__ import annotations

from sqlalchemy import select

from aarshjul.db.models import Notification
from aarshjul.runtime import Runtime
from aarshjul.triggers import InlineTriggers
from aarshjul.usecases.cycles import advance_cycle
from aarshjul.usecases.submissions import open_task, submit_form
from tests.builders import demo_cycle, follow_up_task, unit_id, valid_input


def test_a_follow_up_submission_asks_for_the_dispatcher(runtime: Runtime) -> None:
    cycle = demo_cycle(runtime)
    task = follow_up_task(runtime, cycle, unit_id(runtime, "HR"))
    pending_when_asked: list[list[str]] = []

    def dispatch() -> None:
        with runtime.sessions() as session:
            pending_when_asked.append(
                list(session.scalars(select(Notification.template).where(Notification.state == "pending")))
            )

    runtime.triggers = InlineTriggers(advance=lambda cycle_id: advance_cycle(runtime, cycle_id), dispatch=dispatch)
    submit_form(runtime, task.token, valid_input(open_task(runtime, task.token)))
    assert any("follow_up_recorded" in templates for templates in pending_when_asked)
