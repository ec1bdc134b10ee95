"""HR revokes a task's link from the unit drill-down, over HTTP with the HR session and its CSRF token:
the old link stops working, the assignee gets a new one by email, the page says to whom, and the
revocation is in the audit log under HR's name."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select, update

from aarshjul.db.models import AuditEvent, HumanTask, Notification, Person
from aarshjul.runtime import Runtime
from aarshjul.signing import TaskLinkClaims, task_token
from notifications.backends import OutboxBackend
from notifications.dispatcher import dispatch_due
from tests.builders import TaskRef, demo_cycle, drive_unit, unit_id
from tests.conftest import TEST_SECRET
from tests.hr_support import HR_EMAIL, HrClients, csrf_of, hr_clients, sign_in


@pytest.fixture(name="hr")
def hr_fixture(runtime: Runtime, cycle_id: int) -> Iterator[HrClients]:
    with hr_clients(runtime) as clients:
        yield clients


@pytest.fixture
def cycle_id(runtime: Runtime) -> int:
    return demo_cycle(runtime)


def _unit_page(hr: HrClients, cycle_id: int, unit: int, query: str = "") -> str:
    page = hr.client.get(f"/board/units/{unit}?cycle={cycle_id}{query}")
    assert page.status_code == 200
    return page.text


def test_hr_revokes_a_link_from_the_unit_page_and_the_assignee_gets_a_new_one(
    runtime: Runtime, cycle_id: int, hr: HrClients
) -> None:
    unit = unit_id(runtime, "HR")
    task: TaskRef = drive_unit(runtime, cycle_id, unit, "strategy_review")
    assert hr.client.get(f"/t/{task.token}").status_code == 200
    sign_in(hr.client)

    page = _unit_page(hr, cycle_id, unit)
    action = f'action="/hr/tasks/{task.id}/link/revoke" id="revoke-{task.id}"'
    assert action in page and f'form="revoke-{task.id}"' in page and "Trekk tilbake lenken" in page
    csrf = csrf_of(page)
    back = f"/board/units/{unit}?cycle={cycle_id}"

    # Without the session's CSRF token nothing changes.
    forged = hr.client.post(f"/hr/tasks/{task.id}/link/revoke", data={"back": back, "csrf_token": "x"})
    assert forged.status_code == 403
    assert hr.client.get(f"/t/{task.token}").status_code == 200

    answer = hr.client.post(
        f"/hr/tasks/{task.id}/link/revoke", data={"back": back, "csrf_token": csrf}, follow_redirects=False
    )
    assert answer.status_code == 303 and answer.headers["location"] == f"{back}&notice=revoked&task={task.id}"
    with runtime.sessions() as session:
        assignee = session.get(Person, task.assignee_id)
        hr_id = session.scalar(select(Person.id).where(Person.email == HR_EMAIL))
        assert assignee is not None
        name = assignee.name
    confirmation = hr.client.get(answer.headers["location"])
    assert f"Lenken er trukket tilbake, og en ny er sendt til {name}." in confirmation.text
    english = hr.client.get(answer.headers["location"] + "&lang=en")
    assert f"The link has been revoked, and a new one has been sent to {name}." in english.text

    # The old link is dead; the email sent to the assignee carries the new one, which works.
    old = hr.client.get(f"/t/{task.token}")
    assert old.status_code == 410 and "Denne lenken er erstattet" in old.text
    dispatch_due(runtime, backend=OutboxBackend())
    with runtime.sessions() as session:
        mail = session.scalars(
            select(Notification).where(Notification.idempotency_key.like("new_link:revoked:%"))
        ).one()
        audit = session.scalars(select(AuditEvent).where(AuditEvent.action == "task.link_revoked")).one()
    assert (mail.recipient_id, mail.to_email, mail.state) == (task.assignee_id, assignee.email, "sent")
    fresh = task_token(TEST_SECRET, TaskLinkClaims(task.id, task.assignee_id, task.link_version + 1))
    assert f"/t/{fresh}" in (mail.body_text or "") and f"/t/{task.token}" not in (mail.body_text or "")
    assert hr.client.get(f"/t/{fresh}").status_code == 200
    assert audit.object_id == str(task.id) and audit.actor == f"person:{hr_id}"
    assert audit.after == {"link_version": task.link_version + 1}


def test_revoking_the_link_of_a_cancelled_task_is_refused_with_a_way_back(
    runtime: Runtime, cycle_id: int, hr: HrClients
) -> None:
    unit = unit_id(runtime, "HR")
    task = drive_unit(runtime, cycle_id, unit, "strategy_review")
    csrf = sign_in(hr.client)
    with runtime.sessions.begin() as session:
        session.execute(update(HumanTask).where(HumanTask.id == task.id).values(state="cancelled"))
    back = f"/board/units/{unit}?cycle={cycle_id}"
    refused = hr.client.post(f"/hr/tasks/{task.id}/link/revoke", data={"back": back, "csrf_token": csrf})
    assert refused.status_code == 409 and f'href="{back}"' in refused.text
    unknown = hr.client.post("/hr/tasks/999999/link/revoke", data={"back": "https://evil.example/", "csrf_token": csrf})
    assert unknown.status_code == 404 and 'href="/board"' in unknown.text
    with runtime.sessions() as session:
        assert session.scalars(select(AuditEvent).where(AuditEvent.action == "task.link_revoked")).all() == []
