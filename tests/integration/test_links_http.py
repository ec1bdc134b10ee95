"""A task link through its whole life, over HTTP on both faces (``/t/{token}`` and ``/api/t/{token}``):
tampered, unknown, revoked by HR, reused after submit, read-only receipt while the task is closed less
than 30 days, expired after; and the "send me a new link" answer, which leaves before the address is
looked up."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from aarshjul.db.models import AuditEvent, HumanTask, Notification, Person, Submission
from aarshjul.runtime import Runtime
from aarshjul.signing import TaskLinkClaims, form_csrf, task_token
from aarshjul.usecases.admin.hr_access import issue_api_token
from aarshjul.usecases.cycle.advance import advance_cycle
from aarshjul.usecases.cycle.lifecycle import close_cycle
from aarshjul.usecases.work.opening import open_task
from notifications.backends import OutboxBackend
from notifications.dispatcher import dispatch_due
from service.app import create_app
from service.routes import links
from service.routes.forms import csrf_token
from tests.builders import TaskRef, demo_cycle, drive_unit, unit_id, valid_input
from tests.conftest import TEST_SECRET
from tests.fakes import InlineTriggers

UNIT = "HR"


@pytest.fixture
def client(runtime: Runtime) -> TestClient:
    return TestClient(create_app(runtime))


@pytest.fixture
def task(runtime: Runtime) -> TaskRef:
    cycle = demo_cycle(runtime)
    return drive_unit(runtime, cycle, unit_id(runtime, UNIT), "strategy_review")


def _versions(runtime: Runtime, task_id: int) -> int:
    with runtime.sessions() as session:
        return int(session.scalar(select(func.count()).where(Submission.task_id == task_id)) or 0)


def _post_html(client: TestClient, runtime: Runtime, token: str, data: dict[str, Any]) -> Any:
    fields = {f"goals.{i}.{k}": str(v) for i, row in enumerate(data["goals"]) for k, v in row.items() if v is not None}
    body = {**fields, "csrf": csrf_token(runtime, token), "action": "submit"}
    return client.post(f"/t/{token}", data=body, follow_redirects=False)


def _offers_a_new_link(page: Any) -> bool:
    return 'href="/link/new"' in page.text and "Send meg en ny lenke" in page.text


def test_tampered_and_unknown_links_get_one_page_on_both_faces(
    runtime: Runtime, client: TestClient, task: TaskRef
) -> None:
    tampered = task.token[:-3] + ("AAA" if not task.token.endswith("AAA") else "BBB")
    wrong_person = task_token(TEST_SECRET, TaskLinkClaims(task.id, task.assignee_id + 1, task.link_version))
    unknown = task_token(TEST_SECRET, TaskLinkClaims(task.id + 10_000, task.assignee_id, 1))
    forged = task_token(
        "another secret of at least thirty-two characters", TaskLinkClaims(task.id, task.assignee_id, 1)
    )
    pages = [client.get(f"/t/{t}") for t in (tampered, unknown, forged, "1.2.3", "x" * 300)]
    assert {p.status_code for p in pages} == {404}
    assert len({p.text for p in pages}) == 1  # nothing tells which part was wrong
    assert _offers_a_new_link(pages[0]) and "Denne lenken virker ikke" in pages[0].text
    english = client.get(f"/t/{tampered}?lang=en")
    assert english.status_code == 404 and "Send me a new link" in english.text
    for token in (tampered, unknown, forged):
        api = client.get(f"/api/t/{token}")
        assert api.status_code == 404 and api.json()["reason"] == "invalid"
        assert client.post(f"/api/t/{token}", json={"goals": []}).status_code == 404
    # A link bound to another person (signed, task and version right) does not open the task either.
    assert client.get(f"/t/{wrong_person}").status_code == 410
    assert client.get(f"/api/t/{wrong_person}").json()["reason"] == "replaced"
    assert _versions(runtime, task.id) == 0


def test_hr_revokes_a_link_and_the_assignee_gets_a_working_one(
    runtime: Runtime, client: TestClient, task: TaskRef
) -> None:
    data = valid_input(open_task(runtime, task.token))
    hr_token = issue_api_token(runtime, label="test")
    answer = client.post(f"/api/tasks/{task.id}/link/revoke", headers={"Authorization": f"Bearer {hr_token}"})
    assert answer.status_code == 200 and answer.json() == {"task_id": task.id, "link_version": task.link_version + 1}
    assert client.post(f"/api/tasks/{task.id}/link/revoke").status_code == 401

    page = client.get(f"/t/{task.token}")
    assert page.status_code == 410 and "Denne lenken er erstattet" in page.text and _offers_a_new_link(page)
    assert client.get(f"/api/t/{task.token}").json()["reason"] == "replaced"
    refused = _post_html(client, runtime, task.token, data)
    assert refused.status_code == 409 and "Det du sendte, ble ikke lagret" in refused.text
    assert client.post(f"/api/t/{task.token}", json=data).status_code == 409
    assert _versions(runtime, task.id) == 0

    dispatch_due(runtime, backend=OutboxBackend())
    with runtime.sessions() as session:
        mail = session.scalars(
            select(Notification).where(Notification.idempotency_key.like("new_link:revoked:%"))
        ).one()
        assert mail.recipient_id == task.assignee_id and mail.state == "sent"
        audit = session.scalars(select(AuditEvent).where(AuditEvent.action == "task.link_revoked")).one()
        assert audit.object_id == str(task.id) and audit.after == {"link_version": task.link_version + 1}
    fresh = task_token(TEST_SECRET, TaskLinkClaims(task.id, task.assignee_id, task.link_version + 1))
    assert f"/t/{fresh}" in (mail.body_text or "")
    assert client.get(f"/t/{fresh}").status_code == 200
    assert client.post(f"/api/t/{fresh}", json=data).status_code == 200


def test_a_link_reused_after_submit_then_closed_then_expired(
    runtime: Runtime, client: TestClient, task: TaskRef
) -> None:
    data = valid_input(open_task(runtime, task.token))
    assert _post_html(client, runtime, task.token, data).status_code == 303
    assert _versions(runtime, task.id) == 1

    # Reused while the cycle runs: the link shows what was sent and takes amendments; the same input again
    # (a second click, a mail scanner replaying nothing) stores nothing new.
    again = client.get(f"/t/{task.token}")
    assert again.status_code == 200 and "Betyr mye for oss" in again.text
    assert client.get(f"/api/t/{task.token}").json()["task"]["mode"] == "amend"
    repeated = client.post(f"/api/t/{task.token}", json=data).json()["receipt"]
    assert (repeated["version"], repeated["repeated"]) == (1, True)
    assert _post_html(client, runtime, task.token, data).status_code == 303
    assert _versions(runtime, task.id) == 1

    with runtime.sessions() as session:
        cycle_id = session.get(HumanTask, task.id).cycle_id  # type: ignore[union-attr]
    close_cycle(runtime, cycle_id, actor="test", force=True)

    for days in (0, 30):
        runtime.clock.advance(days=days)  # type: ignore[attr-defined]
        receipt = client.get(f"/t/{task.token}")
        assert receipt.status_code == 200 and "Betyr mye for oss" in receipt.text, days
        assert 'name="csrf"' not in receipt.text  # read only: nothing to post
        assert client.get(f"/api/t/{task.token}").json()["task"]["mode"] == "read"
        closed = _post_html(client, runtime, task.token, data)
        assert closed.status_code == 409 and "Denne oppgaven er lukket" in closed.text and _offers_a_new_link(closed)
        assert client.post(f"/api/t/{task.token}", json=data).json()["reason"] == "closed"

    runtime.clock.advance(seconds=1)  # type: ignore[attr-defined]
    expired = client.get(f"/t/{task.token}")
    assert expired.status_code == 410 and "Denne lenken er utløpt" in expired.text and _offers_a_new_link(expired)
    assert "Betyr mye for oss" not in expired.text
    api = client.get(f"/api/t/{task.token}")
    assert api.status_code == 410 and api.json() == {
        "detail": "Denne lenken er utløpt",
        "reason": "expired",
        "new_link": "/link/new",
    }
    assert client.post(f"/api/t/{task.token}", json=data).status_code == 409
    assert client.get(f"/api/t/{task.token}?lang=en").json()["detail"] == "This link has expired"
    assert _versions(runtime, task.id) == 1


def _asgi_post(app: Any, path: str, form: dict[str, str], cookie: str, events: list[str]) -> None:
    """Post a form straight to the ASGI app and record in ``events`` when the answer's last byte leaves."""
    body = urlencode(form).encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"content-length", str(len(body)).encode()),
            (b"cookie", cookie.encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            events.append(f"status {message['status']}")
        elif message["type"] == "http.response.body" and not message.get("more_body", False):
            events.append("answer sent")

    asyncio.run(app(scope, receive, send))


def test_new_link_answers_before_it_looks_the_address_up(
    runtime: Runtime, task: TaskRef, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The answer's timing cannot depend on whether the address is known: the lookup and the queuing
    (an insert, a commit that writes, a trigger) run only after the answer has left."""
    dispatched: list[int] = []
    runtime.triggers = InlineTriggers(
        advance=lambda cycle_id, unit: advance_cycle(runtime, cycle_id, unit_id=unit),
        dispatch=lambda: dispatched.append(1),
    )
    app = create_app(runtime)
    events: list[str] = []
    real = links.request_new_link

    def recorded(rt: Runtime, address: str, now: dt.datetime | None = None) -> int:
        events.append(f"lookup {address}")
        return real(rt, address, now)

    monkeypatch.setattr(links, "request_new_link", recorded)
    address = _assignee_email(runtime, task)
    nonce = "n" * 32
    cookie = f"{links.CSRF_COOKIE}={nonce}"
    form = {"csrf_token": form_csrf(runtime.settings.secret(), links.NEW_LINK_FORM.purpose, nonce)}
    _asgi_post(app, links.NEW_LINK_PATH, {**form, "email": address}, cookie, events)
    _asgi_post(app, links.NEW_LINK_PATH, {**form, "email": "nobody@example.no"}, cookie, events)

    assert events == [
        "status 200",
        "answer sent",
        f"lookup {address}",
        "status 200",
        "answer sent",
        "lookup nobody@example.no",
    ]
    assert dispatched == [1]  # only the known address queued mail, after its answer
    with runtime.sessions() as session:
        queued = session.scalars(select(Notification.to_email).where(Notification.template == "new_link")).all()
    assert queued == [address]


def _assignee_email(runtime: Runtime, task: TaskRef) -> str:
    with runtime.sessions() as session:
        person = session.get(Person, task.assignee_id)
        assert person is not None
        return person.email


def test_the_answer_page_is_the_same_text_for_known_and_unknown(
    runtime: Runtime, client: TestClient, task: TaskRef
) -> None:
    page = client.get(links.NEW_LINK_PATH)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    known = client.post(links.NEW_LINK_PATH, data={"email": _assignee_email(runtime, task), "csrf_token": token[1]})
    unknown = client.post(links.NEW_LINK_PATH, data={"email": "nobody@example.no", "csrf_token": token[1]})
    assert (known.status_code, known.text, dict(known.headers)) == (
        unknown.status_code,
        unknown.text,
        dict(unknown.headers),
    )
