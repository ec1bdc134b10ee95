"""The sweep's emails stay one per person and readable: an owner gets one email for all the
evaluations that open for them in a sweep, each with its own link; an escalation lists at most
25 late tasks, by unit and step, and says how many more there are (HR: with a link to the board)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import event, func, insert, select, update

from aarshjul.clock import ManualClock
from aarshjul.db.models import HumanTask, Notification, Person
from aarshjul.domain.enums import MeasureState
from aarshjul.runtime import Runtime
from aarshjul.signing import TaskLinkClaims, task_url
from aarshjul.usecases.cycle.sweep import sweep
from notifications.compose import LATE_LINES_SHOWN, QueuedMessage, compose
from notifications.dispatcher import dispatch_due
from tests.notifications_support import Capture, World, add_measure, add_task, build_world, queue

BASE = "http://testserver"


@pytest.fixture
def world(runtime: Runtime) -> World:
    with runtime.sessions.begin() as session:
        return build_world(session, runtime.clock())


def _approved_measure(runtime: Runtime, world: World, owner_id: int, title: str, evaluate_on: dt.date) -> int:
    with runtime.sessions.begin() as session:
        measure = add_measure(session, world, title=title)
        measure.owner_id = owner_id
        measure.state = MeasureState.APPROVED.value
        measure.evaluate_on = evaluate_on
        return measure.id


def _link(runtime: Runtime, task: HumanTask) -> str:
    claims = TaskLinkClaims(task.id, task.assignee_id, task.link_version)
    return task_url(runtime.settings.base_url, runtime.settings.secret(), claims)


def _rendered(runtime: Runtime, row: Notification, language: str, now: dt.datetime) -> tuple[str, str, str]:
    """The row rendered as of ``now`` in the language asked for (whatever the recipient's)."""
    message = QueuedMessage(
        row.id, row.idempotency_key, row.recipient_id, row.to_email, language, row.template, row.context
    )
    with runtime.sessions() as session:
        email = compose(session, message, runtime.settings, now)
    assert email is not None
    return email.subject, email.text, email.html


def test_one_evaluation_email_per_owner_per_sweep_with_a_link_for_each_measure(
    runtime: Runtime, world: World, clock: ManualClock
) -> None:
    day = dt.date(2027, 3, 1)
    titles = ["Mentorordning for nye ledere", "Kurs i endringsledelse", "Hospitering <i> barnehagene"]
    mine = [_approved_measure(runtime, world, world.leader_id, title, day) for title in titles]
    directors = _approved_measure(runtime, world, world.director_id, "Lederutvikling", day)
    later = _approved_measure(runtime, world, world.leader_id, "Kollegaveiledning", day + dt.timedelta(days=30))

    now = dt.datetime(2027, 3, 1, 7, tzinfo=dt.UTC)
    clock.set(now)
    report = sweep(runtime, now, advance=False)
    assert report.evaluations_opened == 4
    sweep(runtime, now + dt.timedelta(hours=6), advance=False)  # a second sweep the same day sends nothing new

    with runtime.sessions() as session:
        rows = list(session.scalars(select(Notification).where(Notification.template == "evaluation_due")))
        tasks = {t.measure_id: t for t in session.scalars(select(HumanTask).where(HumanTask.step_key == "evaluation"))}
    assert sorted(r.recipient_id or 0 for r in rows) == sorted([world.leader_id, world.director_id])
    (to_leader,) = [r for r in rows if r.recipient_id == world.leader_id]
    assert to_leader.context == {"task_ids": sorted(tasks[m].id for m in mine)}
    assert to_leader.idempotency_key.startswith(f"evaluation_due:{world.leader_id}:")
    assert later not in tasks and directors in tasks

    for language in ("nb", "en"):
        subject, text, html = _rendered(runtime, to_leader, language, now)
        assert subject == ("Tid for å evaluere 3 tiltak" if language == "nb" else "Time to evaluate 3 measures")
        assert ("disse 3 tiltakene" if language == "nb" else "these 3 measures") in text
        for measure_id, title in zip(mine, titles, strict=True):
            link = _link(runtime, tasks[measure_id])
            assert text.count(link) == 1 and html.count(f'href="{link}"') == 1
            assert title in text
        assert "Hospitering &lt;i&gt; barnehagene" in html
        assert _link(runtime, tasks[directors]) not in text

    # The director's email names one measure, as before the grouping.
    (to_director,) = [r for r in rows if r.recipient_id == world.director_id]
    subject, text, _html = _rendered(runtime, to_director, "nb", now)
    assert subject == "Tid for å evaluere et tiltak: Lederutvikling"
    assert "Det er tid for å evaluere tiltaket «Lederutvikling»" in text

    # Thirty days later the last measure's evaluation comes in an email of its own.
    clock.set(now + dt.timedelta(days=30))
    sweep(runtime, now + dt.timedelta(days=30), advance=False)
    with runtime.sessions() as session:
        count = select(func.count()).where(Notification.template == "evaluation_due")
        assert session.scalar(count) == 3


def test_a_single_measure_evaluation_queued_before_the_grouping_still_renders(
    runtime: Runtime, world: World, clock: ManualClock
) -> None:
    now = clock()
    with runtime.sessions.begin() as session:
        measure = add_measure(session, world, title="Mentorordning for nye ledere")
        task = add_task(
            session, world, world.leader_id, now, step_key="evaluation", part_key="evaluation", measure_id=measure.id
        )
        leader = session.get(Person, world.leader_id)
        queue(
            session,
            f"evaluation_due:m{measure.id}",
            leader,
            "evaluation_due",
            {"task_ids": [task.id], "measure_id": measure.id},
            now,
        )
        link = _link(runtime, task)
    backend = Capture()
    assert dispatch_due(runtime, backend=backend).sent == 1
    (email,) = backend.sent
    assert email.subject == "Time to evaluate a measure: Mentorordning for nye ledere"
    assert "evaluate the measure “Mentorordning for nye ledere”" in email.text and link in email.text


def _late_tasks(runtime: Runtime, world: World, step_key: str, due_on: dt.date, count: int, now: dt.datetime) -> None:
    """``count`` open tasks of the step, half for each employee, in one statement."""
    assignees = (world.employee_id, world.other_employee_id)
    rows = [
        {
            "natural_key": f"bulk:{step_key}:{n}",
            "cycle_id": world.cycle_id,
            "unit_id": world.unit_id,
            "step_key": step_key,
            "part_key": "review" if step_key == "strategy_review" else "goals",
            "form_key": step_key,
            "assignee_id": assignees[n % 2],
            "state": "open",
            "due_on": due_on,
            "reminders_sent": 2,
            "escalation_level": 0,
            "link_version": 1,
            "created_at": now,
        }
        for n in range(count)
    ]
    with runtime.sessions.begin() as session:
        session.execute(insert(HumanTask), rows)


def test_escalations_of_10600_late_tasks_list_25_by_unit_and_step_and_count_the_rest(
    runtime: Runtime, world: World, clock: ManualClock
) -> None:
    start = dt.datetime(2027, 1, 4, 7, tzinfo=dt.UTC)
    # The goals tasks are later than the reviews and made first: ranked by lateness, or left in the order
    # the tasks were made, they would come first.
    _late_tasks(runtime, world, "unit_goals", dt.date(2027, 1, 11), 600, start)
    _late_tasks(runtime, world, "strategy_review", dt.date(2027, 1, 25), 10_000, start)
    now = dt.datetime(2027, 2, 8, 7, tzinfo=dt.UTC)  # past both rungs (+3 to the manager, +10 to HR) for all
    clock.set(now)
    report = sweep(runtime, now, advance=False)
    assert report.escalated_tasks == 2 * 10_600

    backend = Capture()
    dispatch_due(runtime, backend=backend)
    (to_hr,) = [m for m in backend.to("hanne@example.no") if "HR" in m.subject]
    (to_manager,) = backend.to("kari@example.no")
    (summary,) = [m for m in backend.to("hanne@example.no") if m is not to_hr]
    assert f"{BASE}/board\n" in summary.text  # HR's other emails point at the board too (it was /hr, a 404)
    shown = LATE_LINES_SHOWN
    more = 10_600 - shown

    # HR, in bokmål: 25 lines, then how many more, with a link to the board's late tasks.
    assert to_hr.subject == "Forsinkede oppgaver som trenger HRs oppmerksomhet (10600)"
    lines = [line for line in to_hr.text.splitlines() if line.startswith("* ")]
    assert len(lines) == shown
    assert all("1. Gjennomgang av strategiske fundament og mål" in line for line in lines), lines[0]
    board = f"{BASE}/board?late=1"
    assert f"og {more} til – se statustavlen: {board}" in to_hr.text
    assert f'<a href="{BASE}/board?late=1">og {more} til – se statustavlen</a>' in to_hr.html.replace("&amp;", "&")
    assert to_hr.html.count("<tr>") == shown + 1  # the header row and 25 tasks
    assert len(to_hr.text) < 10_000 and len(to_hr.html) < 20_000

    # The manager, in English: the same cap and a count, no board (managers have no account).
    assert to_manager.subject == "Late tasks in your area (10600)"
    assert len([line for line in to_manager.text.splitlines() if line.startswith("* ")]) == shown
    assert f"and {more} more late tasks in your area, not listed here" in to_manager.text
    assert f"and {more} more late tasks in your area, not listed here" in to_manager.html
    assert "/board" not in to_manager.text and to_manager.html.count("<tr>") == shown + 1

    # The other language of each, and the count follows what is still late when it is sent.
    with runtime.sessions.begin() as session:
        session.execute(
            update(HumanTask)
            .where(HumanTask.step_key == "strategy_review", HumanTask.natural_key.like("bulk:%"))
            .values(state="submitted", submitted_at=now)
        )
        rows = {
            r.template: r
            for r in session.scalars(select(Notification).where(Notification.template.like("escalation_%")))
        }
    subject, text, html = _rendered(runtime, rows["escalation_hr"], "en", now)
    assert subject == "Late tasks that need HR's attention (600)"
    assert f"and {600 - shown} more – see the status board: {board}" in text
    assert all("2. " in line for line in text.splitlines() if line.startswith("* "))
    subject, text, html = _rendered(runtime, rows["escalation_manager"], "nb", now)
    assert f"og {600 - shown} forsinkede oppgaver til i ditt område, som ikke er listet her" in text
    assert f"og {600 - shown} forsinkede oppgaver til i ditt område" in html


@pytest.mark.parametrize("language", ["nb", "en"])
def test_an_escalation_of_25_or_fewer_tasks_lists_them_all_and_says_nothing_more(
    runtime: Runtime, world: World, clock: ManualClock, language: str
) -> None:
    with runtime.sessions.begin() as session:
        session.execute(update(Person).values(language=language))
    _late_tasks(runtime, world, "strategy_review", dt.date(2027, 1, 25), LATE_LINES_SHOWN, clock())
    now = dt.datetime(2027, 2, 8, 7, tzinfo=dt.UTC)
    clock.set(now)
    sweep(runtime, now, advance=False)
    backend = Capture()
    dispatch_due(runtime, backend=backend)
    escalations = [m for m in backend.sent if re.search(r"\(25\)$", m.subject)]
    assert len(escalations) == 2
    for email in escalations:
        assert len([line for line in email.text.splitlines() if line.startswith("* ")]) == LATE_LINES_SHOWN
        assert "…" not in email.text and "…" not in email.html  # nothing more to count


def test_a_batch_of_invitations_is_rendered_from_one_read_of_its_tasks(runtime: Runtime, world: World) -> None:
    """Opening a step queues an invitation per person; rendering them reads their tasks together, not
    one query per email, and each email still carries its own task's link."""
    now = runtime.clock()
    with runtime.sessions.begin() as session:
        employee = session.get(Person, world.employee_id)
        tasks = [add_task(session, world, world.employee_id, now) for _ in range(30)]
        for task in tasks:
            queue(session, f"inv:batch{task.id}", employee, "task_invitation", {"task_ids": [task.id]}, now)
    task_reads = 0

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        nonlocal task_reads
        task_reads += statement.lstrip().startswith("SELECT") and "FROM human_task" in statement

    event.listen(runtime.engine, "before_cursor_execute", count)
    backend = Capture()
    try:
        report = dispatch_due(runtime, backend=backend)
    finally:
        event.remove(runtime.engine, "before_cursor_execute", count)
    assert report.sent == 30
    assert task_reads == 1
    for task in tasks:
        assert sum(_link(runtime, task) in sent.text for sent in backend.sent) == 1
