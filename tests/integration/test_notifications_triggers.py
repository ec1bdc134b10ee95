"""Every commit that queues mail asks for the dispatcher at once, so nobody waits for its schedule; tasks
that open together for one person come in one email."""

from __future__ import annotations

from sqlalchemy import select

from aarshjul.db.models import Notification
from aarshjul.runtime import Runtime
from aarshjul.usecases.cycle.advance import advance_cycle
from aarshjul.usecases.work.opening import open_task
from aarshjul.usecases.work.submitting import submit_form
from notifications.backends import OutboxBackend
from notifications.dispatcher import dispatch_due
from tests.builders import demo_cycle, drive_unit, find_tasks, follow_up_task, unit_id, valid_input
from tests.fakes import InlineTriggers


def test_a_follow_up_submission_asks_for_the_dispatcher(runtime: Runtime) -> None:
    cycle = demo_cycle(runtime)
    task = follow_up_task(runtime, cycle, unit_id(runtime, "HR"))
    pending_when_asked: list[list[str]] = []

    def dispatch() -> None:
        with runtime.sessions() as session:
            pending_when_asked.append(
                list(session.scalars(select(Notification.template).where(Notification.state == "pending")))
            )

    runtime.triggers = InlineTriggers(
        advance=lambda cycle_id, unit: advance_cycle(runtime, cycle_id, unit_id=unit), dispatch=dispatch
    )
    submit_form(runtime, task.token, valid_input(open_task(runtime, task.token)))
    assert any("follow_up_recorded" in templates for templates in pending_when_asked)


def test_tasks_that_open_together_come_in_one_email_with_every_link(runtime: Runtime) -> None:
    """Submitting the unit goals opens the action plan and the needs mapping for the same leader the
    same day: one invitation lists both, each with its own link."""
    cycle = demo_cycle(runtime)
    unit = unit_id(runtime, "HR")
    goals = drive_unit(runtime, cycle, unit, "unit_goals")
    submit_form(runtime, goals.token, valid_input(open_task(runtime, goals.token)))
    opened = [find_tasks(runtime, cycle, key, unit)[0] for key in ("action_plan", "needs_mapping")]
    dispatch_due(runtime, backend=OutboxBackend())
    with runtime.sessions() as session:
        mails = session.scalars(
            select(Notification).where(
                Notification.template == "task_invitation", Notification.recipient_id == goals.assignee_id
            )
        ).all()
    newest = [m for m in mails if set(m.context["task_ids"]) & {t.id for t in opened}]
    assert len(newest) == 1 and sorted(newest[0].context["task_ids"]) == sorted(t.id for t in opened)
    for task in opened:
        assert f"/t/{task.token}" in (newest[0].body_text or "") and f"/t/{task.token}" in (newest[0].body_html or "")
