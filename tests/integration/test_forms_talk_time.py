"""The agreed time of a talk, on both databases: the leader books it on the record (as a draft
before the talk, or when submitting), and both people get an email with a calendar invitation,
once per time; a changed time updates the same calendar event."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from aarshjul.db.models import Notification, Person, Submission
from aarshjul.runtime import Runtime
from aarshjul.usecases.work.opening import open_task
from aarshjul.usecases.work.submitting import save_draft, submit_form
from forms.registry import FormRejected
from notifications.backends import OutboxBackend
from notifications.dev_outbox import list_outbox
from notifications.dispatcher import dispatch_due
from service.app import create_app
from service.routes.forms import csrf_token
from tests.builders import TaskRef, demo_cycle, drive_unit, unit_id, valid_input

PLACE = "Møterom <b>2</b>; bygg A, 3. etg"
TIME = {"talk_on": "2027-03-10", "talk_at": "09:30", "talk_minutes": "45", "talk_place": PLACE}


@pytest.fixture
def record(runtime: Runtime) -> TaskRef:
    return drive_unit(runtime, demo_cycle(runtime), unit_id(runtime, "HR"), "talk_record")


@pytest.fixture
def client(runtime: Runtime) -> TestClient:
    return TestClient(create_app(runtime))


def _post(client: TestClient, runtime: Runtime, task: TaskRef, fields: dict[str, str], action: str) -> Any:
    body = {**fields, "csrf": csrf_token(runtime, task.token), "action": action}
    return client.post(f"/t/{task.token}", data=body, follow_redirects=False)


def _invitations(runtime: Runtime) -> list[str]:
    with runtime.sessions() as session:
        keys = session.scalars(
            select(Notification.idempotency_key)
            .where(Notification.template == "talk_scheduled")
            .order_by(Notification.id)
        )
        return list(keys)


def _unfold(ics: str) -> dict[str, list[str]]:
    """The content lines of an iCalendar text, unfolded, by property name."""
    assert ics.endswith("\r\n") and "\n" not in ics.replace("\r\n", "")
    lines: dict[str, list[str]] = {}
    for line in ics.replace("\r\n ", "").split("\r\n")[:-1]:
        name = re.split(r"[;:]", line, maxsplit=1)[0]
        lines.setdefault(name, []).append(line)
    return lines


def _sent_calendars(runtime: Runtime, client: TestClient) -> dict[str, dict[str, list[str]]]:
    """Dispatch what is due; each recipient's newest talk invitation, unfolded."""
    dispatch_due(runtime, backend=OutboxBackend())
    found: dict[str, dict[str, list[str]]] = {}
    for entry in reversed(list_outbox(runtime)):  # oldest first: the newest wins
        if entry["template"] != "talk_scheduled":
            continue
        assert entry["state"] == "sent"
        assert entry["attachments"] == [
            {"index": 0, "filename": "invitation.ics", "content_type": "text/calendar; method=REQUEST"}
        ]
        ics = client.get(f"/dev/outbox/{entry['id']}/attachments/0")
        assert ics.status_code == 200 and ics.headers["content-type"].startswith("text/calendar")
        found[entry["to"]] = _unfold(ics.text)
    return found


def test_a_draft_with_the_time_invites_both_people_once(runtime: Runtime, client: TestClient, record: TaskRef) -> None:
    page = client.get(f"/t/{record.token}")
    assert "Tidspunkt for samtalen" in page.text and 'type="time"' in page.text
    saved = _post(client, runtime, record, TIME, "save_draft")
    assert saved.status_code == 303 and "invited=1" in saved.headers["location"]
    assert "kalenderinvitasjon" in client.get(saved.headers["location"]).text

    with runtime.sessions() as session:
        leader = session.get(Person, record.assignee_id)
        employee = session.get(Person, record.subject_id)
        assert leader is not None and employee is not None
        emails = {leader.email, employee.email}
    calendars = _sent_calendars(runtime, client)
    assert set(calendars) == emails
    for ics in calendars.values():
        assert ics["BEGIN"] == ["BEGIN:VCALENDAR", "BEGIN:VEVENT"] and ics["END"] == ["END:VEVENT", "END:VCALENDAR"]
        assert ics["METHOD"] == ["METHOD:REQUEST"] and ics["UID"] == [f"UID:talk-{record.id}@aarshjul"]
        # 09:30 in Oslo in March (UTC+1, before summer time), 45 minutes.
        assert ics["DTSTART"] == ["DTSTART:20270310T083000Z"] and ics["DTEND"] == ["DTEND:20270310T091500Z"]
        assert ics["LOCATION"] == ["LOCATION:Møterom <b>2</b>\\; bygg A\\, 3. etg"]
        assert sorted(a.rsplit("mailto:", 1)[1] for a in ics["ATTENDEE"]) == sorted(emails)
        assert ics["SEQUENCE"] == ["SEQUENCE:1"]
    # The email itself shows the typed place escaped.
    entry = next(e for e in list_outbox(runtime) if e["template"] == "talk_scheduled")
    html = client.get(f"/dev/outbox/{entry['id']}/html").text
    assert "Møterom &lt;b&gt;2&lt;/b&gt;; bygg A, 3. etg" in html and "<b>2</b>" not in html

    # The same time again, in a later draft or in the submitted record, sends nothing more.
    assert _post(client, runtime, record, {**TIME, "feedback": "Utkast"}, "save_draft").status_code == 303
    data = {**valid_input(open_task(runtime, record.token)), **TIME}
    assert submit_form(runtime, record.token, data).invited is False
    assert len(_invitations(runtime)) == 2


def test_the_record_is_submitted_after_the_talk_with_its_time_kept(runtime: Runtime, record: TaskRef) -> None:
    assert save_draft(runtime, record.token, TIME).invited
    runtime.clock.set(dt.datetime(2027, 3, 10, 12, tzinfo=dt.UTC))  # type: ignore[attr-defined]
    data = {**valid_input(open_task(runtime, record.token)), **TIME}
    receipt = submit_form(runtime, record.token, data)
    assert receipt.invited is False and receipt.state == "submitted"
    assert open_task(runtime, record.token).submitted_data["talk_at"] == "09:30:00"
    assert len(_invitations(runtime)) == 2


def test_a_changed_time_updates_the_same_calendar_event(runtime: Runtime, client: TestClient, record: TaskRef) -> None:
    assert save_draft(runtime, record.token, TIME).invited
    first = _sent_calendars(runtime, client)
    later = {**TIME, "talk_on": "2027-04-07", "talk_at": "13:00", "talk_minutes": 60}
    answer = client.post(f"/api/t/{record.token}?draft=true", json=later)
    assert answer.status_code == 200 and answer.json()["draft"]["invited"] is True
    second = _sent_calendars(runtime, client)
    assert len(_invitations(runtime)) == 4
    for email, ics in second.items():
        assert ics["UID"] == first[email]["UID"]
        # Summer time from 28 March: 13:00 in Oslo is 11:00 UTC.
        assert ics["DTSTART"] == ["DTSTART:20270407T110000Z"] and ics["DTEND"] == ["DTEND:20270407T120000Z"]
        old, new = (int(c["SEQUENCE"][0].split(":")[1]) for c in (first[email], second[email]))
        assert new > old
    # Back to the first time: that is a change too, and is sent again.
    assert save_draft(runtime, record.token, TIME).invited
    assert len(_invitations(runtime)) == 6


@pytest.mark.parametrize(
    ("change", "path", "kind"),
    [
        ({"talk_on": "2027-01-03"}, "talk_on", "talk_in_past"),  # the clock reads 4 January, 08:00 in Oslo
        ({"talk_on": "2027-01-04", "talk_at": "07:45"}, "talk_at", "talk_in_past"),
        ({"talk_on": "2028-01-10"}, "talk_on", "talk_outside_year"),
        ({"talk_at": ""}, "talk_at", "missing"),
        ({"talk_minutes": "5"}, "talk_minutes", "greater_than_equal"),
        ({"talk_at": "half ten"}, "talk_at", "time_parsing"),
    ],
)
def test_a_time_that_cannot_be_booked_is_refused_by_both_faces(
    runtime: Runtime,
    client: TestClient,
    record: TaskRef,
    change: dict[str, str],
    path: str,
    kind: str,
) -> None:
    fields = {k: v for k, v in {**TIME, **change}.items() if v}
    page = _post(client, runtime, record, fields, "save_draft")
    assert page.status_code == 422
    error = re.search(rf'<p class="error" id="f-{path}-error">(.*?)</p>', page.text, re.S)
    assert error is not None and PLACE.replace("<", "&lt;").replace(">", "&gt;") in page.text
    answer = client.post(f"/api/t/{record.token}?draft=true", json=fields, headers={"Accept-Language": "en"})
    assert answer.status_code == 422
    assert [(d["loc"], d["type"]) for d in answer.json()["detail"]] == [(["body", path], kind)]
    # Submitting the whole record refuses the time the same way.
    with pytest.raises(FormRejected) as refused:
        submit_form(runtime, record.token, {**valid_input(open_task(runtime, record.token)), **fields})
    assert [(p.loc, p.type) for p in refused.value.problems] == [((path,), kind)]
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Submission).where(Submission.task_id == record.id)) == 0
    assert _invitations(runtime) == []


def test_the_messages_say_what_is_wrong_in_both_languages(
    runtime: Runtime, client: TestClient, record: TaskRef
) -> None:
    fields = {**TIME, "talk_on": "2028-01-10"}
    nb = client.post(f"/api/t/{record.token}?draft=true", json=fields).json()["detail"][0]["msg"]
    en = client.post(f"/api/t/{record.token}?draft=true", json=fields, headers={"Accept-Language": "en"}).json()
    assert nb == "Velg en dato i 2027, årshjulets år."
    assert en["detail"][0]["msg"] == "Give a date in 2027, the year of the cycle."
    past = {**TIME, "talk_on": "2027-01-03"}
    assert client.post(f"/api/t/{record.token}?draft=true", json=past).json()["detail"][0]["msg"] == (
        "Samtalen må ligge fram i tid."
    )


def test_a_draft_without_a_time_sends_nothing(runtime: Runtime, record: TaskRef) -> None:
    assert save_draft(runtime, record.token, {"feedback": "Tanker før samtalen"}).invited is False
    submit_form(runtime, record.token, valid_input(open_task(runtime, record.token)))
    assert _invitations(runtime) == []
