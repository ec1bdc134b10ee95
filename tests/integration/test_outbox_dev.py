"""The local outbox: /dev/outbox pages and the list the CLI prints."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from fastapi.testclient import TestClient

from aarshjul.db.models import Person
from aarshjul.runtime import Runtime
from aarshjul.usecases.work.talk_booking import queue_talk_invitations
from notifications.backends import OutboxBackend
from notifications.dev_outbox import format_outbox, list_outbox
from notifications.dispatcher import dispatch_due
from service.app import create_app
from tests.notifications_support import add_task, build_world, queue

KEYS = {
    "id", "idempotency_key", "to", "channel", "to_phone", "recipient_id", "language", "template", "state", "subject",
    "created_at", "not_before", "sent_at", "attempts", "last_error", "links", "attachments", "text",
}  # fmt: skip


@pytest.fixture
def sent(runtime: Runtime) -> int:
    now = runtime.clock()
    with runtime.sessions.begin() as session:
        world = build_world(session, now)
        task = add_task(session, world, world.employee_id, now)
        queue(
            session, "inv:dev", session.get(Person, world.employee_id), "task_invitation", {"task_ids": [task.id]}, now
        )
        queue(
            session,
            "inv:later",
            session.get(Person, world.leader_id),
            "cycle_started",
            {"cycle_id": world.cycle_id},
            now.replace(year=2030),
        )
    dispatch_due(runtime, backend=OutboxBackend())
    return task.id


def test_the_outbox_lists_messages_with_their_links(runtime: Runtime, sent: int) -> None:
    entries = list_outbox(runtime)
    assert [e["idempotency_key"] for e in entries] == ["inv:later", "inv:dev"]
    assert all(set(e) == KEYS for e in entries)
    json.dumps(entries)  # the CLI prints it as JSON
    done = entries[1]
    assert done["state"] == "sent" and done["to"] == "ola@example.no"
    assert len(done["links"]) == 1 and done["links"][0].startswith("http://testserver/t/")
    assert entries[0]["state"] == "pending" and entries[0]["text"] is None
    text = format_outbox(entries)
    assert "#2  pending" in text and "(not rendered yet)" in text and done["links"][0] in text
    assert format_outbox([]) == "The outbox is empty.\n"


def test_dev_outbox_pages(runtime: Runtime, sent: int) -> None:
    client = TestClient(create_app(runtime))
    listing = client.get("/dev/outbox")
    assert listing.status_code == 200 and "Ny oppgave" in listing.text
    entry = list_outbox(runtime)[1]
    page = client.get(f"/dev/outbox/{entry['id']}")
    assert page.status_code == 200 and entry["links"][0] in page.text
    html = client.get(f"/dev/outbox/{entry['id']}/html")
    assert html.status_code == 200 and "sandbox" in html.headers["content-security-policy"]
    assert entry["links"][0] in html.text
    text = client.get(f"/dev/outbox/{entry['id']}/text")
    assert text.status_code == 200 and text.text == entry["text"]
    assert client.get("/dev/outbox/99999").status_code == 404


@pytest.mark.parametrize("change", [{"environment": "production"}, {"mail_backend": "smtp"}])
def test_dev_outbox_is_absent_in_production_or_with_a_real_backend(
    runtime: Runtime, sent: int, change: dict[str, str]
) -> None:
    runtime.settings = runtime.settings.model_copy(update=change)
    client = TestClient(create_app(runtime))
    assert client.get("/dev/outbox").status_code == 404
    assert client.get("/dev/outbox/1/html").status_code == 404
    assert client.get("/dev/outbox/1/attachments/0").status_code == 404


def test_the_talk_invitation_can_be_downloaded_from_the_outbox(runtime: Runtime) -> None:
    """A demo user reads the talk email at /dev/outbox and opens its .ics in their calendar."""
    now = runtime.clock()
    with runtime.sessions.begin() as session:
        world = build_world(session, now)
        talk = add_task(
            session, world, world.leader_id, now, step_key="talks", part_key="talk", subject_person_id=world.employee_id
        )
        starts = dt.datetime(2027, 3, 10, 9, tzinfo=dt.UTC)
        queue_talk_invitations(session, talk.id, starts, starts + dt.timedelta(hours=1), "Møterom 2", now)
    dispatch_due(runtime, backend=OutboxBackend())
    entries = list_outbox(runtime)
    assert [e["attachments"] for e in entries] == [
        [{"index": 0, "filename": "invitation.ics", "content_type": "text/calendar; method=REQUEST"}]
    ] * 2
    assert "attached: invitation.ics (text/calendar; method=REQUEST)" in format_outbox(entries)

    client = TestClient(create_app(runtime))
    page = client.get(f"/dev/outbox/{entries[0]['id']}")
    href = f"/dev/outbox/{entries[0]['id']}/attachments/0"
    assert page.status_code == 200 and f'href="{href}"' in page.text and "Vedlegg" in page.text
    ics = client.get(href)
    assert ics.status_code == 200 and ics.headers["content-type"].startswith("text/calendar")
    assert ics.headers["content-disposition"] == 'attachment; filename="invitation.ics"'
    assert ics.text.startswith("BEGIN:VCALENDAR\r\n") and "DTSTART:20270310T090000Z" in ics.text
    assert "LOCATION:Møterom 2" in ics.text and "mailto:ola@example.no" in ics.text
    assert client.get(f"/dev/outbox/{entries[0]['id']}/attachments/1").status_code == 404
    assert client.get(f"/dev/outbox/{entries[0]['id']}/attachments/-1").status_code == 404
