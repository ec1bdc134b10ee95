"""SMS as a second channel, through the same outbox: the organisation's choice per kind of message, an
SMS row beside (or instead of) the email with its own key, attempts and failure, the text and its short
link, and the short link dying with the task link."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from aarshjul.db.models import HumanTask, Notification, Person, ShortLink
from aarshjul.domain.enums import NotificationChannel, NotificationState, SmsMode, TaskState
from aarshjul.domain.errors import InvalidInput
from aarshjul.runtime import Runtime
from aarshjul.usecases.admin.org_import import seed_demo
from aarshjul.usecases.admin.sms_settings import set_sms_mode, sms_settings
from aarshjul.usecases.admin.task_admin import reassign_tasks
from aarshjul.usecases.cycle.sweep import sweep
from aarshjul.usecases.reporting.board import cycle_status
from notifications.backends import Delivery, PermanentSendError, TransientSendError
from notifications.dev_outbox import format_outbox, list_outbox
from notifications.dispatcher import dispatch_due
from notifications.sms_backends import OutboundSms, SmsBackend
from service.app import create_app
from tests.builders import demo_cycle
from tests.notifications_support import Capture

LEADER = "ingrid.myrvaag@fjordvik.kommune.no"  #: leads the top unit; has a task when the year starts
OTHER_LEADER = "sunniva.kvaale@fjordvik.kommune.no"  #: leads HR; no mobile number in these tests


class Phones(SmsBackend):
    name = "phones"

    def __init__(self, *failures: Exception) -> None:
        self.sent: list[OutboundSms] = []
        self.failures = list(failures)

    def send(self, message: OutboundSms) -> Delivery:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(message)
        return Delivery("SM1", 201)


def start_year(runtime: Runtime, mode: SmsMode, template: str = "task_invitation") -> int:
    seed_demo(runtime)
    with runtime.sessions.begin() as session:
        session.execute(update(Person).where(Person.email == LEADER).values(mobile="+4791234567"))
    set_sms_mode(runtime, template, mode, actor="test")
    return demo_cycle(runtime)


def rows_to(runtime: Runtime, email: str, template: str = "task_invitation") -> dict[str, Notification]:
    with runtime.sessions() as session:
        rows = session.scalars(
            select(Notification).where(Notification.to_email == email, Notification.template == template)
        ).all()
    return {row.channel.value: row for row in rows}


def test_only_kinds_with_an_sms_text_can_be_chosen(runtime: Runtime) -> None:
    with pytest.raises(InvalidInput):
        set_sms_mode(runtime, "weekly_summary", SmsMode.WITH_EMAIL, actor="test")
    set_sms_mode(runtime, "task_reminder", SmsMode.INSTEAD_OF_EMAIL, actor="test")
    set_sms_mode(runtime, "task_reminder", None, actor="test")
    with runtime.sessions() as session:
        assert set(sms_settings(session).values()) == {None}


def test_with_email_sends_both_each_with_its_own_key_and_the_link_is_short(runtime: Runtime) -> None:
    start_year(runtime, SmsMode.WITH_EMAIL)
    rows = rows_to(runtime, LEADER)
    assert set(rows) == {"email", "sms"}
    assert rows["sms"].idempotency_key == rows["email"].idempotency_key + ":sms"
    assert rows["sms"].to_phone == "+4791234567"
    assert set(rows_to(runtime, OTHER_LEADER)) == {"email"}  # no mobile number: email only
    phones = Phones()
    dispatch_due(runtime, backend=Capture(), sms_backend=phones)
    [sms] = [m for m in phones.sent if m.to == "+4791234567"]
    first_line, task_line = sms.text.splitlines()
    assert first_line == "Årshjul: en ny oppgave til deg."
    assert task_line.startswith("1. ") and ", frist " in task_line
    url = task_line.rsplit(" ", 1)[-1]
    assert url.startswith("http://testserver/s/") and len(url.rsplit("/", 1)[-1]) == 12
    assert len(sms.text) <= 3 * 153  # three SMS parts at most
    with TestClient(create_app(runtime)) as client:
        redirect = client.get(url.removeprefix("http://testserver"), follow_redirects=False)
        assert redirect.status_code == 302 and redirect.headers["cache-control"] == "no-store"
        assert redirect.headers["location"].startswith("http://testserver/t/")
        assert client.get(redirect.headers["location"].removeprefix("http://testserver")).status_code == 200
        assert client.get("/s/not-a-code").status_code == 404
        # the short link dies with the task link: reassigned, it shows the task link's page
        with runtime.sessions() as session:
            link = session.scalars(select(ShortLink)).one()
        reassign_tasks(runtime, [link.task_id], OTHER_LEADER, actor="test")
        replaced = client.get(url.removeprefix("http://testserver"), follow_redirects=False)
        assert replaced.status_code == 410 and "Denne lenken er erstattet" in replaced.text
    # the outbox shows the SMS beside the emails
    entries = [e for e in list_outbox(runtime) if e["channel"] == "sms"]
    assert entries and entries[0]["to_phone"] == "+4791234567" and entries[0]["links"] == [url]
    assert "SMS to +4791234567" in format_outbox(entries)
    with TestClient(create_app(runtime)) as client:
        listed = client.get("/dev/outbox")
        assert "SMS til +4791234567" in listed.text and "Årshjul: en ny oppgave til deg." in listed.text
        shown = client.get(f"/dev/outbox/{entries[0]['id']}?lang=en")
        assert "Links in this SMS" in shown.text and url in shown.text


def test_instead_of_email_sends_an_sms_to_people_with_a_mobile_and_email_to_the_rest(runtime: Runtime) -> None:
    start_year(runtime, SmsMode.INSTEAD_OF_EMAIL)
    assert set(rows_to(runtime, LEADER)) == {"sms"}
    assert set(rows_to(runtime, OTHER_LEADER)) == {"email"}


def test_reminders_by_sms_too(runtime: Runtime) -> None:
    start_year(runtime, SmsMode.INSTEAD_OF_EMAIL, template="task_reminder")
    with runtime.sessions() as session:
        person_id = session.scalars(select(Person.id).where(Person.email == LEADER)).one()
        due = session.scalars(select(HumanTask.due_on).where(HumanTask.assignee_id == person_id)).first()
    assert due is not None
    moment = dt.datetime.combine(due - dt.timedelta(days=2), dt.time(8), tzinfo=runtime.settings.zone)
    sweep(runtime, now=moment)
    assert set(rows_to(runtime, LEADER, "task_reminder")) == {"sms"}
    phones = Phones()
    dispatch_due(runtime, now=moment, backend=Capture(), sms_backend=phones)
    reminder = next(m for m in phones.sent if m.to == "+4791234567" and m.text.startswith("Påminnelse fra Årshjul:"))
    assert "/s/" in reminder.text


def test_an_sms_fails_and_retries_on_its_own_and_hr_sees_the_failure(runtime: Runtime) -> None:
    cycle_id = start_year(runtime, SmsMode.WITH_EMAIL)
    mail = Capture()
    dispatch_due(runtime, backend=mail, sms_backend=Phones(TransientSendError("Twilio answered 503", 503)))
    rows = rows_to(runtime, LEADER)
    assert rows["email"].state is NotificationState.SENT and mail.to(LEADER)
    assert (rows["sms"].state, rows["sms"].attempts) == (NotificationState.PENDING, 1)
    later = runtime.clock() + dt.timedelta(hours=1)
    dispatch_due(
        runtime, now=later, backend=mail, sms_backend=Phones(PermanentSendError("code 21614: not a mobile", 400))
    )
    rows = rows_to(runtime, LEADER)
    assert (rows["sms"].state, rows["sms"].attempts) == (NotificationState.FAILED, 2)
    assert rows["email"].attempts == 1  # the email was not sent again
    with runtime.sessions() as session:
        status = cycle_status(session, cycle_id, today=runtime.clock().date())
    [failed] = [f for f in status.failed_emails if f.channel == NotificationChannel.SMS]
    assert (failed.to_phone, failed.last_error) == ("+4791234567", "code 21614: not a mobile")


def test_an_sms_whose_task_was_done_is_cancelled(runtime: Runtime) -> None:
    start_year(runtime, SmsMode.INSTEAD_OF_EMAIL)
    with runtime.sessions.begin() as session:
        session.execute(update(HumanTask).values(state=TaskState.CANCELLED))
    phones = Phones()
    dispatch_due(runtime, backend=Capture(), sms_backend=phones)
    assert phones.sent == [] and rows_to(runtime, LEADER)["sms"].state is NotificationState.CANCELLED


def test_an_sms_that_cannot_be_rendered_fails_alone_and_the_batchs_others_keep_their_short_links(
    runtime: Runtime,
) -> None:
    start_year(runtime, SmsMode.INSTEAD_OF_EMAIL)
    good = rows_to(runtime, LEADER)["sms"]
    with runtime.sessions.begin() as session:  # a row this version has no SMS text for, in the same batch
        session.add(
            Notification(
                idempotency_key="broken:sms",
                recipient_id=good.recipient_id,
                to_email=good.to_email,
                channel=NotificationChannel.SMS,
                to_phone=good.to_phone,
                language=good.language,
                template="no_such_template",
                context=good.context,
                state=NotificationState.PENDING,
                not_before=good.not_before,
                attempts=0,
                created_at=good.created_at,
            )
        )
    phones = Phones()
    report = dispatch_due(runtime, backend=Capture(), sms_backend=phones)
    assert (report.sent, report.failed) == (report.claimed - 1, 1)
    [sms] = [m for m in phones.sent if m.to == "+4791234567"]
    code = sms.text.rsplit("/", 1)[-1]
    with runtime.sessions() as session:
        assert session.get(ShortLink, code) is not None  # the sent text's link was stored, not rolled back
        broken = session.scalars(select(Notification).where(Notification.idempotency_key == "broken:sms")).one()
    assert broken.state == NotificationState.FAILED
    assert broken.last_error is not None and broken.last_error.startswith("cannot render sms/no_such_template")
