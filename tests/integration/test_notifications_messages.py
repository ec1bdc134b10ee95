"""Every message kind renders in bokmål, nynorsk and English, as HTML and text, from the database at send time;
the weekly summary, talk invitations and HR's list of failed messages."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select, update

from aarshjul.db.models import HumanTask, Measure, Notification, Person, PlanReviewer
from aarshjul.domain.enums import MeasureState, NotificationState, TaskState
from aarshjul.runtime import Runtime
from aarshjul.usecases.admin.reminders import remind_late
from aarshjul.usecases.cycle.summaries import queue_weekly_summaries
from aarshjul.usecases.cycle.sweep import sweep
from aarshjul.usecases.reporting.board import cycle_status
from aarshjul.usecases.reporting.failed_notifications import failed_notifications
from aarshjul.usecases.work.talk_booking import queue_talk_invitations
from notifications.backends import Delivery, MailBackend, OutboundEmail, OutboxBackend, PermanentSendError
from notifications.compose import TEMPLATES
from notifications.dispatcher import dispatch_due
from tests.notifications_support import Capture, World, add_measure, add_task, build_world, queue


@pytest.fixture
def world(runtime: Runtime) -> World:
    with runtime.sessions.begin() as session:
        return build_world(session, runtime.clock())


@pytest.mark.parametrize("language", ["nb", "nn", "en"])
def test_every_template_renders_in_every_language(runtime: Runtime, world: World, language: str) -> None:
    now = runtime.clock()
    with runtime.sessions.begin() as session:
        for person in session.scalars(select(Person)):
            person.language = language
        leader = session.get(Person, world.leader_id)
        director = session.get(Person, world.director_id)
        hr = session.get(Person, world.hr_id)
        assert leader and director and hr
        late = add_task(session, world, world.leader_id, now, due_on=dt.date(2027, 1, 1))
        talk = add_task(
            session, world, world.leader_id, now, step_key="talks", part_key="talk", subject_person_id=world.employee_id
        )
        measure = add_measure(session, world)
        merged = add_measure(session, world)
        merged.state, merged.merged_into_id = MeasureState.MERGED, measure.id
        returned = add_task(session, world, world.leader_id, now, step_key="measure_proposals", part_key="proposal")
        evaluation = add_task(
            session, world, world.leader_id, now, step_key="evaluation", part_key="evaluation", measure_id=measure.id
        )
        moved = add_task(session, world, world.employee_id, now)
        employee = session.get(Person, world.employee_id)
        assert employee
        followed_up = add_task(
            session,
            world,
            world.leader_id,
            now,
            step_key="follow_up",
            part_key="follow_up",
            subject_person_id=world.employee_id,
            state=TaskState.SUBMITTED,
        )
        reviewer = PlanReviewer(
            period_id=world.period_id,
            name="Tove Tillitsvalgt",
            email="tove@example.no",
            language=language,
            invited_at=now,
            invited_by="test",
            expires_at=now + dt.timedelta(days=60),
        )
        session.add(reviewer)
        session.flush()
        contexts: dict[str, tuple[Person, dict[str, Any]]] = {
            "task_invitation": (leader, {"task_ids": [late.id, talk.id]}),
            "task_reminder": (leader, {"task_ids": [late.id], "days_left": 1}),
            "escalation_manager": (
                director,
                {"late": [{"task_id": late.id, "person_id": world.leader_id, "days_late": 3}]},
            ),
            "escalation_hr": (hr, {"late": [{"task_id": late.id, "person_id": world.leader_id, "days_late": 10}]}),
            "evaluation_due": (leader, {"task_ids": [evaluation.id], "measure_id": measure.id}),
            "measure_returned": (leader, {"measure_id": measure.id, "task_id": returned.id}),
            "measure_merged": (leader, {"measure_id": merged.id, "merged_into_id": measure.id}),
            "cycle_started": (hr, {"cycle_id": world.cycle_id}),
            "weekly_summary": (hr, {"cycle_id": world.cycle_id}),
            "tasks_reassigned_hr": (hr, {"task_ids": [moved.id], "from_person_id": world.other_employee_id}),
            "new_link": (leader, {"task_ids": [late.id, talk.id]}),
            "talk_scheduled": (
                leader,
                {
                    "task_id": talk.id,
                    "starts_at": "2027-03-10T09:00:00+01:00",
                    "ends_at": "2027-03-10T10:00:00+01:00",
                    "location": "Møterom 2",
                    "sequence": 1,
                },
            ),
            "follow_up_recorded": (employee, {"task_id": followed_up.id}),
            "personal_data_link": (employee, {"issued_at": now.isoformat(), "nonce": "0123456789abcdef"}),
            "plan_review_invitation": (employee, {"reviewer_id": reviewer.id}),
        }
        assert set(contexts) == set(TEMPLATES)
        for template, (person, context) in contexts.items():
            queue(session, f"{template}:{language}", person, template, context, now)

    backend = Capture()
    report = dispatch_due(runtime, backend=backend)
    assert report.sent == len(TEMPLATES), report
    by_template = {m.idempotency_key.split(":")[0]: m for m in backend.sent}

    def says(nb: str, nn: str, en: str) -> str:
        return {"nb": nb, "nn": nn, "en": en}[language]

    greeting = says("Hei", "Hei", "Hello")
    for template, message in by_template.items():
        assert message.subject and greeting in message.text and greeting in message.html, template
        assert "{" not in message.subject and "{" not in message.text, template
        assert message.html.startswith("<!doctype html>") and f'lang="{language}"' in message.html
    assert "Kari Leader" in by_template["escalation_manager"].text
    assert says("dager forsinket", "dagar forseinka", "days late") in by_template["escalation_manager"].text
    assert "http://testserver/t/" not in by_template["escalation_manager"].text  # others' links are never shared
    assert "&amp; tallfest" in by_template["measure_returned"].html  # the HR comment, escaped
    assert "& tallfest" in by_template["measure_returned"].text
    assert by_template["talk_scheduled"].attachments[0].filename == "invitation.ics"
    ics = by_template["talk_scheduled"].attachments[0].content.decode()
    assert "DTSTART:20270310T080000Z" in ics and "mailto:ola@example.no" in ics
    summary = by_template["weekly_summary"].text
    assert says("Enheter ferdige", "Einingar ferdige", "Units done") in summary and "0 / 2" in summary
    assert "Siri Ansatt" in by_template["tasks_reassigned_hr"].text
    assert "http://testserver/me/follow-ups/" in by_template["follow_up_recorded"].text
    assert "http://testserver/me/data/" in by_template["personal_data_link"].text
    assert "http://testserver/plan-review/" in by_template["plan_review_invitation"].text
    assert "2025–2028" in by_template["plan_review_invitation"].subject
    assert says("slått sammen", "slått saman", "has merged") in by_template["measure_merged"].text


def test_weekly_summary_is_queued_once_per_iso_week_per_hr_person(runtime: Runtime, world: World, clock) -> None:  # type: ignore[no-untyped-def]
    with runtime.sessions.begin() as session:
        zone = runtime.settings.zone
        assert queue_weekly_summaries(session, clock(), zone) == 1
        assert queue_weekly_summaries(session, clock() + dt.timedelta(days=3), zone) == 0
        assert queue_weekly_summaries(session, clock() + dt.timedelta(days=7), zone) == 1
    with runtime.sessions() as session:
        keys = sorted(session.scalars(select(Notification.idempotency_key)))
    assert keys == [
        f"weekly_summary:{world.cycle_id}:{world.hr_id}:2027-W01",
        f"weekly_summary:{world.cycle_id}:{world.hr_id}:2027-W02",
    ]


@pytest.mark.parametrize(
    ("zone", "now", "week", "send_from"),
    [
        # Monday 05:00 in Tokyo is still Sunday evening in Oslo (ISO week 2026-W53 there).
        ("Asia/Tokyo", "2027-01-03T20:00:00+00:00", "2027-W01", "2027-01-03T22:00:00+00:00"),
        # Monday 04:00 in New York is 10:00 in Oslo, after Oslo's seven o'clock.
        ("America/New_York", "2027-01-04T09:00:00+00:00", "2027-W01", "2027-01-04T12:00:00+00:00"),
    ],
)
def test_the_weekly_summary_goes_out_at_seven_on_monday_in_the_organisations_zone(
    runtime: Runtime,
    world: World,
    clock,
    zone: str,
    now: str,
    week: str,
    send_from: str,  # type: ignore[no-untyped-def]
) -> None:
    """AARSHJUL_TIME_ZONE decides HR's Monday morning: the sweep passes the settings' zone on."""
    elsewhere = dataclasses.replace(runtime, settings=runtime.settings.model_copy(update={"time_zone": zone}))
    clock.set(dt.datetime.fromisoformat(now))
    assert sweep(elsewhere, advance=False).weekly_summaries == 1
    with runtime.sessions() as session:
        (summary,) = session.scalars(select(Notification).where(Notification.template == "weekly_summary"))
    assert summary.idempotency_key == f"weekly_summary:{world.cycle_id}:{world.hr_id}:{week}"
    assert summary.not_before == dt.datetime.fromisoformat(send_from)
    assert summary.not_before.astimezone(elsewhere.settings.zone).time() == dt.time(7, 0)


@pytest.mark.parametrize(
    ("language", "one", "two"),
    [
        ("nb", "har frist om 1 dag eller mindre", "har frist om 2 dager eller mindre"),
        ("en", "are due in 1 day or less", "are due in 2 days or less"),
    ],
)
def test_the_reminder_counts_its_days_with_plural_forms(
    runtime: Runtime, world: World, language: str, one: str, two: str
) -> None:
    now = runtime.clock()
    with runtime.sessions.begin() as session:
        ola = session.get(Person, world.employee_id)
        assert ola
        ola.language = language
        for days in (1, 2):
            task = add_task(session, world, world.employee_id, now, due_on=now.date() + dt.timedelta(days=days))
            queue(session, f"reminder:{days}", ola, "task_reminder", {"task_ids": [task.id], "days_left": days}, now)
    backend = Capture()
    assert dispatch_due(runtime, backend=backend).sent == 2
    by_days = {int(m.idempotency_key.split(":")[1]): m for m in backend.sent}
    for days, says in ((1, one), (2, two)):
        assert says in by_days[days].text and says in " ".join(by_days[days].html.split()), (days, language)
    assert "1 dager" not in by_days[1].text and "1 days" not in by_days[1].text


def test_talk_invitation_goes_to_both_people_with_a_calendar(runtime: Runtime, world: World) -> None:
    now = runtime.clock()
    starts = dt.datetime(2027, 3, 10, 8, 0, tzinfo=dt.UTC)
    with runtime.sessions.begin() as session:
        talk = add_task(
            session, world, world.leader_id, now, step_key="talks", part_key="talk", subject_person_id=world.employee_id
        )
        assert queue_talk_invitations(session, talk.id, starts, starts + dt.timedelta(hours=1), "Rom 1", now) == 2
        assert queue_talk_invitations(session, talk.id, starts, starts + dt.timedelta(hours=1), "Rom 1", now) == 0
    backend = Capture()
    assert dispatch_due(runtime, backend=backend).sent == 2
    assert sorted(m.to for m in backend.sent) == ["kari@example.no", "ola@example.no"]
    assert all(m.attachments and b"BEGIN:VEVENT" in m.attachments[0].content for m in backend.sent)


def test_failed_messages_are_listed_for_hr_by_cycle(runtime: Runtime, world: World) -> None:
    now = runtime.clock()
    with runtime.sessions.begin() as session:
        task = add_task(session, world, world.employee_id, now)
        queue(
            session,
            "inv:reject",
            session.get(Person, world.employee_id),
            "task_invitation",
            {"task_ids": [task.id]},
            now,
        )

    class Rejecting(MailBackend):
        name = "rejecting"

        def send(self, message: OutboundEmail) -> Delivery:
            raise PermanentSendError("550 5.1.1 mailbox unavailable", 550)

    dispatch_due(runtime, backend=Rejecting())
    with runtime.sessions() as session:
        (failed,) = failed_notifications(session)
        assert failed_notifications(session, cycle_id=world.cycle_id) == [failed]
        assert failed_notifications(session, cycle_id=world.cycle_id + 1) == []
    assert failed.to_email == "ola@example.no" and failed.recipient_name == "Ola Nordmann"
    assert failed.last_error == "550 5.1.1 mailbox unavailable" and failed.failed_at == now
    assert failed.subject and failed.cycle_ids == (world.cycle_id,)


def test_the_board_lists_failed_emails_about_its_cycle_and_about_no_cycle(runtime: Runtime, world: World) -> None:
    now = runtime.clock()
    with runtime.sessions.begin() as session:
        ola = session.get(Person, world.employee_id)
        task = add_task(session, world, world.employee_id, now)
        measure = add_measure(session, world)
        queue(session, "fail:task", ola, "task_invitation", {"task_ids": [task.id]}, now)
        queue(session, "fail:measure", ola, "measure_returned", {"measure_id": measure.id}, now)
        queue(session, "fail:other-cycle", ola, "task_invitation", {"cycle_id": world.cycle_id + 1}, now)
        queue(session, "fail:no-cycle", ola, "new_link", {}, now)
        session.execute(update(Notification).values(state=NotificationState.FAILED.value, attempts=1, last_error="550"))
    with runtime.sessions() as session:
        board = cycle_status(session, world.cycle_id, today=now.date())
        listed = failed_notifications(session)
    keys = {n.id: n for n in listed}
    shown = [keys[f.notification_id] for f in board.failed_emails]
    assert [n.cycle_ids for n in shown] == [(), (world.cycle_id,), (world.cycle_id,)]
    assert {f.last_error for f in board.failed_emails} == {"550"}


@pytest.mark.parametrize(("language", "says"), [("nb", "er 3 eller flere dager over fristen"), ("en", "are 3 or more")])
def test_hrs_reminder_to_everyone_late_says_how_many_days_late(
    runtime: Runtime, world: World, language: str, says: str
) -> None:
    now = runtime.clock()
    with runtime.sessions.begin() as session:
        ola = session.get(Person, world.employee_id)
        assert ola
        ola.language = language
        add_task(session, world, world.employee_id, now, due_on=now.date() - dt.timedelta(days=3))
        add_task(session, world, world.employee_id, now, due_on=now.date() - dt.timedelta(days=5))
    assert remind_late(runtime, world.cycle_id, "strategy_review", actor="hr:test") == 1
    with runtime.sessions() as session:
        reminder = session.scalars(select(Notification).where(Notification.template == "task_reminder")).one()
    assert reminder.context["days_left"] == -3
    backend = Capture()
    dispatch_due(runtime, backend=backend)
    (sent,) = backend.sent
    assert says in sent.text and says in sent.html
    assert "days or less" not in sent.text and "dager eller mindre" not in sent.text


def test_a_line_break_in_a_typed_title_stays_out_of_the_subject_header(runtime: Runtime, world: World) -> None:
    now = runtime.clock()
    with runtime.sessions.begin() as session:
        measure = add_measure(session, world, title="Mentorordning\r\nBcc: alle@example.no")
        task = add_task(session, world, world.leader_id, now, step_key="measure_proposals", part_key="proposal")
        queue(
            session,
            "returned",
            session.get(Person, world.leader_id),
            "measure_returned",
            {"measure_id": measure.id, "task_id": task.id},
            now,
        )
    backend = Capture()
    dispatch_due(runtime, backend=backend)
    (sent,) = backend.sent
    assert "\n" not in sent.subject and "\r" not in sent.subject
    assert sent.subject.endswith("Mentorordning Bcc: alle@example.no")


def test_a_late_entry_that_was_delivered_since_is_dropped(runtime: Runtime, world: World) -> None:
    now = runtime.clock()
    with runtime.sessions.begin() as session:
        done = add_task(session, world, world.employee_id, now, due_on=dt.date(2027, 1, 1))
        still = add_task(session, world, world.other_employee_id, now, due_on=dt.date(2027, 1, 1))
        late = [
            {"task_id": done.id, "person_id": world.employee_id, "days_late": 3},
            {"task_id": still.id, "person_id": world.other_employee_id, "days_late": 3},
        ]
        queue(session, "esc:1", session.get(Person, world.leader_id), "escalation_manager", {"late": late}, now)
        session.get(HumanTask, done.id).state = TaskState.SUBMITTED.value  # type: ignore[union-attr]
    backend = Capture()
    dispatch_due(runtime, backend=backend)
    (message,) = backend.sent
    assert "Siri Ansatt" in message.text and "Ola Nordmann" not in message.text
    assert message.subject == "Late tasks in your area (1)"


def test_measure_returned_is_cancelled_when_the_task_is_gone(runtime: Runtime, world: World) -> None:
    now = runtime.clock()
    with runtime.sessions.begin() as session:
        measure = add_measure(session, world)
        task = add_task(session, world, world.leader_id, now, state=TaskState.CANCELLED)
        queue(
            session,
            "ret:1",
            session.get(Person, world.leader_id),
            "measure_returned",
            {"measure_id": measure.id, "task_id": task.id},
            now,
        )
        assert session.get(Measure, measure.id)
    assert dispatch_due(runtime, backend=OutboxBackend()).cancelled == 1
    with runtime.sessions() as session:
        assert session.scalars(select(Notification.state)).one() == NotificationState.CANCELLED


@pytest.mark.parametrize("language", ["nb", "en"])
def test_typed_text_is_escaped_in_html_and_kept_as_typed_in_text(runtime: Runtime, world: World, language: str) -> None:
    """Names and unit names come from HR's file, a measure's title and the HR comment from forms, a talk's
    place from the leader: none of it may become markup in the HTML part."""
    now = runtime.clock()
    typed = '<script>alert("x")</script> & <b>fet</b>'
    with runtime.sessions.begin() as session:
        for person in session.scalars(select(Person)):
            person.language = language
            person.name = f"{person.name} {typed}"
        leader, director, hr = (session.get(Person, i) for i in (world.leader_id, world.director_id, world.hr_id))
        assert leader and director and hr
        measure = add_measure(session, world, title=f"Tiltak {typed}")
        measure.hr_comment = f"Kommentar {typed}"
        proposal = add_task(session, world, world.leader_id, now, step_key="measure_proposals", part_key="proposal")
        evaluation = add_task(
            session, world, world.leader_id, now, step_key="evaluation", part_key="evaluation", measure_id=measure.id
        )
        late = add_task(
            session, world, world.leader_id, now, due_on=dt.date(2027, 1, 1), subject_person_id=world.employee_id
        )
        talk = add_task(
            session, world, world.leader_id, now, step_key="talks", part_key="talk", subject_person_id=world.employee_id
        )
        queue(session, "x:inv", leader, "task_invitation", {"task_ids": [evaluation.id, late.id]}, now)
        queue(session, "x:ret", leader, "measure_returned", {"measure_id": measure.id, "task_id": proposal.id}, now)
        queue(session, "x:eval", leader, "evaluation_due", {"task_ids": [evaluation.id], "measure_id": measure.id}, now)
        entry = {"task_id": late.id, "person_id": world.leader_id, "days_late": 3}
        queue(session, "x:esc", director, "escalation_manager", {"late": [entry]}, now)
        queue(session, "x:hr", hr, "escalation_hr", {"late": [entry]}, now)
        starts = dt.datetime(2027, 3, 10, 9, tzinfo=dt.UTC)
        queue_talk_invitations(session, talk.id, starts, starts + dt.timedelta(hours=1), f"Rom {typed}", now)
    backend = Capture()
    assert dispatch_due(runtime, backend=backend).sent == 7
    for message in backend.sent:
        key = message.idempotency_key
        assert "<script>" not in message.html and "<b>fet</b>" not in message.html, key
        assert "&lt;script&gt;alert(" in message.html and "&amp; &lt;b&gt;fet&lt;/b&gt;" in message.html, key
        assert typed in message.text, key
        assert "&lt;" not in message.text and "&amp;" not in message.text, key
    ics = next(m for m in backend.sent if m.attachments).attachments[0].content.decode()
    assert 'LOCATION:Rom <script>alert("x")</script> & <b>fet</b>' in ics  # a calendar shows text, not HTML
