"""Starting cycles (and refusing to), previews, clones, deadline extensions and leavers' tasks."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import event, select, update

from aarshjul.clock import ManualClock
from aarshjul.db.engine import unit_of_work
from aarshjul.db.models import AuditEvent, Cycle, CycleDefinitionRecord, Person, Unit, UnitStep
from aarshjul.domain.errors import Conflict, InvalidInput
from aarshjul.runtime import Runtime
from aarshjul.signing import TaskLinkClaims, task_token
from aarshjul.usecases.admin.org_import import seed_demo
from aarshjul.usecases.admin.task_admin import extend_deadline, handle_leavers, reassign_tasks
from aarshjul.usecases.cycle.lifecycle import cancel_cycle, close_cycle
from aarshjul.usecases.cycle.start import clone_last_year, preview_cycle, start_cycle
from aarshjul.usecases.cycle.sweep import sweep
from aarshjul.usecases.work.links import LinkReason, LinkRefused
from aarshjul.usecases.work.opening import open_task
from tests.integration.cycle.helpers import at, dump_database, notifications, open_tasks, submit


def test_start_refuses_what_cannot_run(runtime: Runtime) -> None:
    with pytest.raises(Conflict):
        start_cycle(runtime, 2027)  # no organisation, no strategy
    seed_demo(runtime)
    with pytest.raises(InvalidInput) as outside:
        start_cycle(runtime, 2030)
    assert outside.value.field == "year"
    with pytest.raises(InvalidInput) as past:
        start_cycle(runtime, 2027, starts_on=dt.date(2027, 1, 1))
    assert past.value.field == "starts_on"
    with pytest.raises(InvalidInput) as unknown:
        start_cycle(runtime, 2027, step_due={"no_such_step": dt.date(2027, 3, 1)})
    assert unknown.value.field == "step_due.no_such_step"
    cycle_id = start_cycle(runtime, 2027)
    with pytest.raises(Conflict):
        start_cycle(runtime, 2027)
    with pytest.raises(Conflict):
        close_cycle(runtime, cycle_id, actor="hr")  # units have not finished
    cancel_cycle(runtime, cycle_id, actor="hr")
    assert open_tasks(runtime) == []
    assert start_cycle(runtime, 2027) != cycle_id  # a cancelled year may start again


def test_preview_writes_nothing_and_names_the_first_tasks(runtime: Runtime) -> None:
    seed_demo(runtime)
    with runtime.sessions() as session:
        before = dump_database(session)
        leaders = set(session.scalars(select(Unit.leader_id)))
    preview = preview_cycle(runtime, 2027, starts_on=dt.date(2027, 1, 11))
    with runtime.sessions() as session:
        assert dump_database(session) == before
    assert {t.person_id for t in preview.first_tasks} == leaders
    assert {(t.step_key, t.due_on) for t in preview.first_tasks} == {("strategy_review", dt.date(2027, 2, 1))}
    assert preview.step_due["goal_breakdown"] == dt.date(2027, 1, 11) + dt.timedelta(days=196)


def test_the_cycle_keeps_its_definition_and_clones_one_year_on(runtime: Runtime, clock: ManualClock) -> None:
    seed_demo(runtime)
    first = start_cycle(runtime, 2027, step_due={"talks": dt.date(2027, 6, 10)})
    close_cycle(runtime, first, actor="hr", force=True)
    clock.set(at("2027-12-01"))
    second = clone_last_year(runtime, actor="hr")
    with runtime.sessions() as session:
        a, b = session.get(Cycle, first), session.get(Cycle, second)
        assert a is not None and b is not None
        assert (b.year, b.starts_on, b.cloned_from_id) == (2028, dt.date(2028, 1, 4), first)
        assert b.step_due["talks"] == "2028-06-10"
        assert a.definition_id == b.definition_id
        record = session.get(CycleDefinitionRecord, b.definition_id)
        assert record is not None and record.content["key"] == "standard"


def test_extending_a_step_moves_its_tasks_and_restarts_the_reminders(runtime: Runtime, clock: ManualClock) -> None:
    seed_demo(runtime)
    cycle_id = start_cycle(runtime, 2027)
    sweep(runtime, at("2027-01-20"))
    assert len(notifications(runtime, "task_reminder")) == 8
    clock.set(at("2027-01-20"))
    changed = extend_deadline(runtime, step_key="strategy_review", new_due=dt.date(2027, 2, 15), actor="hr")
    assert changed == 8
    assert {t.due_on for t in open_tasks(runtime)} == {dt.date(2027, 2, 15)}
    assert {t.reminders_sent for t in open_tasks(runtime)} == {0}
    sweep(runtime, at("2027-02-08"))
    assert len(notifications(runtime, "task_reminder")) == 16
    with runtime.sessions() as session:
        cycle = session.get(Cycle, cycle_id)
        assert cycle is not None and cycle.step_due["strategy_review"] == "2027-02-15"
    with pytest.raises(InvalidInput):
        extend_deadline(runtime, task_ids=[open_tasks(runtime)[0].id], new_due=dt.date(2027, 1, 1), actor="hr")


def test_a_leaving_leader_hands_open_tasks_to_a_stand_in(runtime: Runtime, clock: ManualClock) -> None:
    seed_demo(runtime)
    start_cycle(runtime, 2027)
    with runtime.sessions() as session:
        unit = session.scalars(select(Unit).where(Unit.code == "TEK")).one()
        leader = session.get(Person, unit.leader_id)
        assert leader is not None and leader.deputy_id is not None
        deputy = leader.deputy_id
    (task,) = open_tasks(runtime, unit_id=unit.id)
    with unit_of_work(runtime.sessions) as session:
        person = session.get(Person, leader.id)
        assert person is not None
        person.active_to = dt.date(2027, 1, 3)
        session.flush()
        report = handle_leavers(session, [leader.id], clock(), runtime.settings.zone)
    assert report.reassigned == {leader.id: [task.id]}
    (moved,) = open_tasks(runtime, unit_id=unit.id)
    assert (moved.assignee_id, moved.link_version) == (deputy, 2)
    (told,) = notifications(runtime, "tasks_reassigned_hr")
    assert told.context == {"task_ids": [task.id], "from_person_id": leader.id, "cancelled_task_ids": []}


def test_hr_reassigns_in_bulk_the_old_links_die_and_one_reminder_lists_every_task(runtime: Runtime) -> None:
    seed_demo(runtime)
    start_cycle(runtime, 2027)
    reviews = open_tasks(runtime)
    moving = reviews[:3]
    with runtime.sessions() as session:
        stand_in = session.scalars(select(Person.id).where(Person.role == "employee").order_by(Person.id)).first()
    assert stand_in is not None
    secret = runtime.settings.secret()
    old_links = [task_token(secret, TaskLinkClaims(t.id, t.assignee_id, t.link_version)) for t in moving]

    assert reassign_tasks(runtime, [t.id for t in moving], stand_in, actor="person:hr") == 3
    invitations = [n for n in notifications(runtime, "task_invitation") if n.recipient_id == stand_in]
    assert [n.context["task_ids"] for n in invitations] == [[t.id for t in moving]]
    for old in old_links:
        with pytest.raises(LinkRefused) as refused:
            open_task(runtime, old)
        assert refused.value.reason is LinkReason.REPLACED
    for task in open_tasks(runtime, assignee_id=stand_in):
        opened = open_task(runtime, task_token(secret, TaskLinkClaims(task.id, stand_in, task.link_version)))
        assert opened.task.id == task.id

    # Seven days before: the stand-in gets one reminder naming the three tasks, each leader one.
    sweep(runtime, at("2027-01-19"))
    reminders = notifications(runtime, "task_reminder")
    assert len(reminders) == 6
    (theirs,) = [n for n in reminders if n.recipient_id == stand_in]
    assert theirs.context["task_ids"] == [t.id for t in moving]
    # Done tasks are reminded no more; the others get their one-day reminder.
    submit(runtime, open_tasks(runtime, assignee_id=stand_in))
    sweep(runtime, at("2027-01-25"))
    assert [n.recipient_id for n in notifications(runtime, "task_reminder")].count(stand_in) == 1
    assert len(notifications(runtime, "task_reminder")) == 6 + 5


def test_extending_a_unit_or_some_tasks_and_never_taking_time_back(runtime: Runtime, clock: ManualClock) -> None:
    seed_demo(runtime)
    cycle_id = start_cycle(runtime, 2027)
    with runtime.sessions() as session:
        unit = session.scalars(select(Unit).where(Unit.code == "TEK")).one()
    (tek,) = open_tasks(runtime, unit_id=unit.id)
    first, second = [t for t in open_tasks(runtime) if t.unit_id != unit.id][:2]

    assert extend_deadline(
        runtime, step_key="strategy_review", unit_id=unit.id, new_due=dt.date(2027, 3, 1), actor="hr"
    )
    assert extend_deadline(runtime, task_ids=[first.id], new_due=dt.date(2027, 2, 20), actor="hr") == 1
    due = {t.id: t.due_on for t in open_tasks(runtime)}
    assert (due[tek.id], due[first.id], due[second.id]) == (
        dt.date(2027, 3, 1),
        dt.date(2027, 2, 20),
        dt.date(2027, 1, 25),
    )
    with runtime.sessions() as session:
        rows = session.execute(
            select(UnitStep.unit_id, UnitStep.due_on).where(
                UnitStep.cycle_id == cycle_id, UnitStep.step_key == "strategy_review"
            )
        ).all()
    assert {r.due_on for r in rows if r.unit_id == unit.id} == {dt.date(2027, 3, 1)}
    assert {r.due_on for r in rows if r.unit_id != unit.id} == {dt.date(2027, 1, 25)}

    # A whole step moved to 10 February: TEK and the single task keep their later dates.
    changed = extend_deadline(runtime, step_key="strategy_review", new_due=dt.date(2027, 2, 10), actor="hr")
    assert changed == 6
    due = {t.id: t.due_on for t in open_tasks(runtime)}
    assert (due[tek.id], due[first.id], due[second.id]) == (
        dt.date(2027, 3, 1),
        dt.date(2027, 2, 20),
        dt.date(2027, 2, 10),
    )
    with runtime.sessions() as session:
        assert session.scalar(
            select(UnitStep.due_on).where(
                UnitStep.cycle_id == cycle_id, UnitStep.unit_id == unit.id, UnitStep.step_key == "strategy_review"
            )
        ) == dt.date(2027, 3, 1)
        cycle = session.get(Cycle, cycle_id)
        assert cycle is not None and cycle.step_due["strategy_review"] == "2027-02-10"

    # The extended unit is not escalated on the old date, the others are on theirs.
    sweep(runtime, at("2027-02-14"))
    late = [i["task_id"] for n in notifications(runtime, "escalation_manager") for i in n.context["late"]]
    assert tek.id not in late and first.id not in late and second.id in late


def test_hr_closes_a_cycle_once_every_remaining_unit_is_done(runtime: Runtime, clock: ManualClock) -> None:
    seed_demo(runtime)
    cycle_id = start_cycle(runtime, 2027)
    with unit_of_work(runtime.sessions) as session:
        session.execute(update(UnitStep).where(UnitStep.cycle_id == cycle_id).values(state="done"))
        gone = session.scalars(select(Unit).where(Unit.code == "SOL")).one()
        session.execute(
            update(UnitStep)
            .where(UnitStep.cycle_id == cycle_id, UnitStep.unit_id == gone.id, UnitStep.step_key == "unit_goals")
            .values(state="open")
        )
        gone_id = gone.id
    with pytest.raises(Conflict, match="1 unit steps"):
        close_cycle(runtime, cycle_id, actor="hr")
    # The next org import no longer has the unit: it will never finish, and does not hold the year open.
    with unit_of_work(runtime.sessions) as session:
        session.execute(update(Unit).where(Unit.id == gone_id).values(active=False))
    close_cycle(runtime, cycle_id, actor="hr")
    with runtime.sessions() as session:
        cycle = session.get(Cycle, cycle_id)
        assert cycle is not None and cycle.state == "closed"


def test_a_bulk_reassignment_takes_as_many_statements_for_six_tasks_as_for_two(runtime: Runtime) -> None:
    seed_demo(runtime)
    start_cycle(runtime, 2027)
    tasks = open_tasks(runtime)
    with runtime.sessions() as session:
        stand_ins = list(session.scalars(select(Person.id).where(Person.role == "employee").order_by(Person.id)))[:2]
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    event.listen(runtime.engine, "before_cursor_execute", count)
    try:
        reassign_tasks(runtime, [t.id for t in tasks[:2]], stand_ins[0], actor="hr")
        for_two = len(statements)
        statements.clear()
        reassign_tasks(runtime, [t.id for t in tasks[2:8]], stand_ins[1], actor="hr")
        for_six = len(statements)
    finally:
        event.remove(runtime.engine, "before_cursor_execute", count)
    assert for_six == for_two
    with runtime.sessions() as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.action == "task.reassign")).all()
    assert sorted(int(e.object_id) for e in events) == sorted(t.id for t in tasks[:8])
    assert {e.after["link_version"] for e in events if e.after} == {2}
