"""Follow-up tasks on both databases: opened by the sweep on each follow-up date of a talk record,
exactly once, for the employee's leader, with one invitation; reminded and escalated like other
tasks; alive after the cycle closes; private to the employee and their leader; the employee told."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from aarshjul.clock import ManualClock
from aarshjul.db.models import HumanTask, Notification, Person
from aarshjul.domain.enums import TaskState
from aarshjul.domain.errors import Forbidden
from aarshjul.runtime import Runtime
from aarshjul.usecases.cycle.followups import records_owing_follow_ups
from aarshjul.usecases.cycle.lifecycle import close_cycle
from aarshjul.usecases.cycle.sweep import sweep
from aarshjul.usecases.reporting.followups import FollowUpCounts, follow_up_counts
from aarshjul.usecases.reporting.unit_detail import unit_detail
from aarshjul.usecases.work.links import Mode
from aarshjul.usecases.work.opening import open_task
from aarshjul.usecases.work.submitting import save_draft, submit_form
from service.app import create_app
from tests.builders import TaskRef, demo_cycle, drive_unit, find_tasks, person_id, submit_valid, unit_id, valid_input

FOLLOW_UP: dict[str, Any] = {
    "plan_progress": "Godt i gang med kollegaveiledningen",
    "done_since": "To økter med superbruker <b>og</b> egen øving",
    "support_needed": "Tid i kalenderen",
    "next_step": "Ny økt i mars",
}


def _at(day: dt.date, hour: int = 8) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=dt.UTC)


def _recorded_talk(runtime: Runtime, days: tuple[int, ...] = (30, 60, 30)) -> tuple[int, int, TaskRef, list[dt.date]]:
    """A talk recorded in the HR unit about Eirik, with follow-up dates ``days`` from today."""
    cycle = demo_cycle(runtime)
    unit = unit_id(runtime, "HR")
    record = drive_unit(runtime, cycle, unit, "talk_record", subject_id=person_id(runtime, "eirik.kraakenes"))
    opened = open_task(runtime, record.token)
    dates = [opened.rules.today + dt.timedelta(days=d) for d in days]
    data = valid_input(opened)
    data["follow_ups"] = [{"on": d.isoformat(), "note": "Hvordan går det?"} for d in dates]
    submit_form(runtime, record.token, data)
    return cycle, unit, record, sorted(set(dates))


def _follow_ups(runtime: Runtime) -> list[HumanTask]:
    with runtime.sessions() as session:
        return list(session.scalars(select(HumanTask).where(HumanTask.step_key == "follow_up").order_by(HumanTask.id)))


def _notes(runtime: Runtime, template: str) -> list[Notification]:
    with runtime.sessions() as session:
        return list(session.scalars(select(Notification).where(Notification.template == template)))


def test_one_task_per_follow_up_date_for_the_leader_with_one_invitation(runtime: Runtime) -> None:
    cycle, unit, record, (first, second) = _recorded_talk(runtime)
    leader = person_id(runtime, "sunniva.kvaale")
    invited_before = len(_notes(runtime, "task_invitation"))

    assert sweep(runtime, _at(first - dt.timedelta(days=1))).follow_ups_opened == 0
    report = sweep(runtime, _at(first))
    assert report.follow_ups_opened == 1
    assert sweep(runtime, _at(first, 12)).follow_ups_opened == 0  # the same date: created once
    [task] = _follow_ups(runtime)
    assert (task.assignee_id, task.subject_person_id, task.unit_id, task.form_key) == (
        leader,
        record.subject_id,
        unit,
        "talk_follow_up",
    )
    assert task.due_on == first + dt.timedelta(days=14) and task.state == TaskState.OPEN.value
    assert task.natural_key == f"follow_up:t{record.id}:{first.isoformat()}"
    invitations = _notes(runtime, "task_invitation")[invited_before:]
    assert [(n.recipient_id, n.context["task_ids"]) for n in invitations] == [(leader, [task.id])]

    # The leader's form shows the talk's agreed plan; HR's board shows that it exists, not what it says.
    [follow_up] = find_tasks(runtime, cycle, "talk_follow_up", unit)
    opened = open_task(runtime, follow_up.token)
    assert opened.task.mode is Mode.EDIT and opened.context.record is not None
    assert opened.context.record.data["development_plan"][0]["activity"] == "Delta i kollegaveiledning"

    sweep(runtime, _at(second))
    assert [t.natural_key.rsplit(":", 1)[1] for t in _follow_ups(runtime)] == [first.isoformat(), second.isoformat()]


def test_reminder_and_escalation_like_other_tasks(runtime: Runtime) -> None:
    _cycle, _unit, _record, (first, _second) = _recorded_talk(runtime)
    sweep(runtime, _at(first))
    [task] = _follow_ups(runtime)
    sweep(runtime, _at(task.due_on - dt.timedelta(days=7), 0))
    reminders = [n for n in _notes(runtime, "task_reminder") if task.id in n.context["task_ids"]]
    assert [n.recipient_id for n in reminders] == [task.assignee_id]
    sweep(runtime, _at(task.due_on + dt.timedelta(days=4)))
    escalated = [
        n for n in _notes(runtime, "escalation_manager") if task.id in [e["task_id"] for e in n.context["late"]]
    ]
    assert len(escalated) == 1


def test_follow_ups_outlive_the_cycle_and_the_employee_is_told(runtime: Runtime, clock: ManualClock) -> None:
    cycle, unit, record, (first, _second) = _recorded_talk(runtime)
    hr = person_id(runtime, "geir.hoyland")
    clock.set(_at(first - dt.timedelta(days=1)))
    close_cycle(runtime, cycle, actor=f"person:{hr}", force=True)
    sweep(runtime, _at(first))
    [follow_up] = find_tasks(runtime, cycle, "talk_follow_up", unit)
    clock.set(_at(first, 10))
    assert open_task(runtime, follow_up.token).task.mode is Mode.EDIT
    submit_form(runtime, follow_up.token, FOLLOW_UP)
    sweep(runtime, _at(first + dt.timedelta(days=25)))  # submitted: neither reminded nor escalated
    assert not [n for n in _notes(runtime, "escalation_manager") if n.context.get("late")]

    [told] = _notes(runtime, "follow_up_recorded")
    assert (told.recipient_id, told.context) == (record.subject_id, {"task_id": follow_up.id})

    # HR's drill-down counts the follow-up and shows none of what it says.
    with runtime.sessions() as session:
        assert follow_up_counts(session, cycle) == {unit: FollowUpCounts(done=1, open=0)}
        detail = unit_detail(session, cycle, unit, today=first)
    [shown] = [s for s in detail.submitted if s.task_id == follow_up.id]
    assert shown.private and shown.fields == []
    assert "superbruker" not in detail.model_dump_json()


def test_follow_up_notes_are_for_the_employee_and_their_leader(runtime: Runtime, clock: ManualClock) -> None:
    cycle, unit, _record, (first, _second) = _recorded_talk(runtime)
    sweep(runtime, _at(first))
    client = TestClient(create_app(runtime))
    clock.set(_at(first, 10))
    [follow_up] = find_tasks(runtime, cycle, "talk_follow_up", unit)
    page = client.get(f"/t/{follow_up.token}")
    assert page.status_code == 200 and "Delta i kollegaveiledning" in page.text
    for other in (person_id(runtime, "geir.hoyland"), person_id(runtime, "brit.aasen")):
        with runtime.sessions() as session:
            task = session.get(HumanTask, follow_up.id)
            assert task is not None
            task.assignee_id = other
            session.commit()
        [moved] = find_tasks(runtime, cycle, "talk_follow_up", unit)
        assert client.get(f"/t/{moved.token}").status_code == 403
        try:
            submit_form(runtime, moved.token, FOLLOW_UP)
        except Forbidden:
            continue
        raise AssertionError(f"{other} could write a follow-up about someone else's employee")


def test_no_follow_up_for_an_employee_who_left_or_a_draft_record(runtime: Runtime) -> None:
    cycle = demo_cycle(runtime)
    unit = unit_id(runtime, "HR")
    subject = person_id(runtime, "eirik.kraakenes")
    record = drive_unit(runtime, cycle, unit, "talk_record", subject_id=subject)
    opened = open_task(runtime, record.token)
    data = valid_input(opened)
    day = opened.rules.today + dt.timedelta(days=10)
    data["follow_ups"] = [{"on": day.isoformat(), "note": ""}]
    save_draft(runtime, record.token, data)
    assert sweep(runtime, _at(day)).follow_ups_opened == 0  # a draft agrees nothing yet
    submit_valid(runtime, record)  # the submitted record has its follow-up 60 days on
    with runtime.sessions() as session:
        leaver = session.get(Person, subject)
        assert leaver is not None
        leaver.active_to = day
        session.commit()
    assert sweep(runtime, _at(day + dt.timedelta(days=60))).follow_ups_opened == 0


def test_a_sweep_reads_only_the_records_with_a_follow_up_owed(runtime: Runtime) -> None:
    """Talk records whose follow-ups are all done, or all still ahead, are not read by a sweep: after a
    year of talks every sweep would otherwise parse every record."""
    _cycle, _unit, record, (first, second) = _recorded_talk(runtime)
    with runtime.sessions() as session:
        assert records_owing_follow_ups(session, first - dt.timedelta(days=1)) == []  # all ahead
        assert [r.task_id for r in records_owing_follow_ups(session, first)] == [record.id]  # one has come
    sweep(runtime, _at(first))
    with runtime.sessions() as session:
        assert records_owing_follow_ups(session, first) == []  # done
        assert [r.task_id for r in records_owing_follow_ups(session, second)] == [record.id]  # the next has come
    sweep(runtime, _at(second))
    with runtime.sessions() as session:
        assert records_owing_follow_ups(session, second + dt.timedelta(days=400)) == []  # all done, however late
