"""The dispatcher on real SQLite and PostgreSQL: claiming, rendering at send time, retries, failures."""

from __future__ import annotations

import datetime as dt
import socket
import threading

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from aarshjul.db.models import HumanTask, Notification, NotificationAttempt, Person
from aarshjul.domain.enums import NotificationState, TaskState
from aarshjul.runtime import Runtime
from aarshjul.signing import read_task_token
from aarshjul.usecases.admin.hr_access import set_password
from notifications.backends import (
    Delivery,
    MailBackend,
    OutboundEmail,
    OutboxBackend,
    PermanentSendError,
    SmtpBackend,
    TransientSendError,
)
from notifications.dispatcher import LEASE, MAX_ATTEMPTS, claim, dispatch_due
from service.app import create_app
from tests.conftest import TEST_SECRET
from tests.hr_support import csrf_of
from tests.notifications_support import World, add_task, build_world, queue


class ScriptedBackend(MailBackend):
    """Answers each send from a script of errors, then accepts; remembers what it accepted."""

    name = "scripted"

    def __init__(self, script: list[Exception] | None = None) -> None:
        self.script = list(script or [])
        self.accepted: list[OutboundEmail] = []
        self.calls = 0

    def send(self, message: OutboundEmail) -> Delivery:
        self.calls += 1
        if self.script:
            raise self.script.pop(0)
        self.accepted.append(message)
        return Delivery(provider_message_id=f"p-{len(self.accepted)}", status_code=202)


@pytest.fixture
def world(runtime: Runtime) -> World:
    with runtime.sessions.begin() as session:
        return build_world(session, runtime.clock())


def _row(runtime: Runtime, key: str) -> Notification:
    with runtime.sessions() as session:
        row = session.scalars(select(Notification).where(Notification.idempotency_key == key)).one()
        session.expunge(row)
        return row


def _attempts(runtime: Runtime, key: str) -> list[str]:
    with runtime.sessions() as session:
        return list(
            session.scalars(
                select(NotificationAttempt.outcome)
                .join(Notification, Notification.id == NotificationAttempt.notification_id)
                .where(Notification.idempotency_key == key)
                .order_by(NotificationAttempt.id)
            )
        )


def test_one_invitation_lists_every_task_with_its_own_current_link(runtime: Runtime, world: World) -> None:
    now = runtime.clock()
    with runtime.sessions.begin() as session:
        first = add_task(session, world, world.leader_id, now)
        second = add_task(
            session, world, world.leader_id, now, subject_person_id=world.employee_id, due_on=dt.date(2027, 2, 1)
        )
        leader = session.get(Person, world.leader_id)
        queue(session, "inv:1", leader, "task_invitation", {"task_ids": [first.id, second.id]}, now)
        session.get(HumanTask, second.id).link_version = 3  # type: ignore[union-attr]

    report = dispatch_due(runtime, backend=OutboxBackend())

    assert report.sent == 1 and report.claimed == 1
    row = _row(runtime, "inv:1")
    assert row.state == NotificationState.SENT and row.sent_at == now and row.attempts == 1
    assert row.subject == "New tasks in the annual cycle (2)"  # Kari reads English
    assert "Hello Kari Leader," in (row.body_text or "")
    assert "Ola Nordmann" in (row.body_text or "") and "25 January 2027" in (row.body_text or "")
    links = [w for w in (row.body_text or "").split() if w.startswith("http://testserver/t/")]
    assert len(links) == 2
    claims = sorted((read_task_token(TEST_SECRET, link.rsplit("/", 1)[1]) for link in links), key=lambda c: c.task_id)
    assert [(c.task_id, c.assignee_id, c.link_version) for c in claims] == [
        (first.id, world.leader_id, 1),
        (second.id, world.leader_id, 3),
    ]
    assert links[0] in (row.body_html or "")
    assert _attempts(runtime, "inv:1") == ["sent"]
    assert dispatch_due(runtime, backend=OutboxBackend()).claimed == 0


def test_bokmal_reader_gets_bokmal(runtime: Runtime, world: World) -> None:
    now = runtime.clock()
    with runtime.sessions.begin() as session:
        task = add_task(session, world, world.employee_id, now, subject_person_id=world.employee_id)
        queue(
            session,
            "rem:1",
            session.get(Person, world.employee_id),
            "task_reminder",
            {"task_ids": [task.id], "days_left": 7},
            now,
        )
    dispatch_due(runtime, backend=OutboxBackend())
    row = _row(runtime, "rem:1")
    assert row.subject == "Påminnelse: frist 25. januar 2027"
    assert "Hei Ola Nordmann," in (row.body_text or "")
    assert "<!doctype html>" in (row.body_html or "")


def test_a_reassigned_task_is_left_out_and_an_empty_message_cancelled(runtime: Runtime, world: World) -> None:
    now = runtime.clock()
    with runtime.sessions.begin() as session:
        kept = add_task(session, world, world.leader_id, now)
        moved = add_task(session, world, world.leader_id, now, step_key="unit_goals", part_key="goals")
        alone = add_task(session, world, world.employee_id, now)
        queue(
            session,
            "inv:kept",
            session.get(Person, world.leader_id),
            "task_invitation",
            {"task_ids": [kept.id, moved.id]},
            now,
        )
        queue(
            session,
            "inv:alone",
            session.get(Person, world.employee_id),
            "task_invitation",
            {"task_ids": [alone.id]},
            now,
        )
        session.get(HumanTask, moved.id).assignee_id = world.director_id  # type: ignore[union-attr]
        session.get(HumanTask, alone.id).state = TaskState.CANCELLED.value  # type: ignore[union-attr]

    backend = ScriptedBackend()
    report = dispatch_due(runtime, backend=backend)

    assert (report.sent, report.cancelled) == (1, 1)
    assert len(backend.accepted) == 1
    text = backend.accepted[0].text
    assert text.count("http://testserver/t/") == 1 and "Strategy review" in text and "Unit goals" not in text
    assert backend.accepted[0].subject == "New task: 1. Strategy review"
    cancelled = _row(runtime, "inv:alone")
    assert cancelled.state == NotificationState.CANCELLED and "nothing left" in (cancelled.last_error or "")


def test_500s_then_429_with_retry_after_are_retried_until_delivered_once(runtime: Runtime, world: World, clock) -> None:  # type: ignore[no-untyped-def]
    now = runtime.clock()
    with runtime.sessions.begin() as session:
        task = add_task(session, world, world.employee_id, now)
        queue(
            session,
            "inv:retry",
            session.get(Person, world.employee_id),
            "task_invitation",
            {"task_ids": [task.id]},
            now,
        )
    backend = ScriptedBackend(
        [
            TransientSendError("server error", 500),
            TransientSendError("bad gateway", 502),
            TransientSendError("timed out"),
            TransientSendError("slow down", 429, retry_after=120),
        ]
    )
    delays = []
    for _ in range(4):
        report = dispatch_due(runtime, backend=backend)
        assert report.retried == 1
        row = _row(runtime, "inv:retry")
        delays.append(row.not_before - clock())
        assert dispatch_due(runtime, backend=backend).claimed == 0  # not due before its backoff
        clock.set(row.not_before)
    assert delays == [
        dt.timedelta(minutes=1),
        dt.timedelta(minutes=2),
        dt.timedelta(minutes=4),
        dt.timedelta(seconds=120),
    ]
    assert dispatch_due(runtime, backend=backend).sent == 1
    assert len(backend.accepted) == 1 and backend.calls == 5
    row = _row(runtime, "inv:retry")
    assert row.state == NotificationState.SENT and row.attempts == 5 and row.last_error is None
    assert _attempts(runtime, "inv:retry") == ["retry", "retry", "retry", "retry", "sent"]


def test_a_rejected_address_is_failed_at_once_and_not_retried(runtime: Runtime, world: World, clock) -> None:  # type: ignore[no-untyped-def]
    now = runtime.clock()
    with runtime.sessions.begin() as session:
        task = add_task(session, world, world.employee_id, now)
        queue(
            session, "inv:bad", session.get(Person, world.employee_id), "task_invitation", {"task_ids": [task.id]}, now
        )
    backend = ScriptedBackend([PermanentSendError("550 no such user", 550)])
    assert dispatch_due(runtime, backend=backend).failed == 1
    clock.advance(days=2)
    assert dispatch_due(runtime, backend=backend).claimed == 0
    row = _row(runtime, "inv:bad")
    assert row.state == NotificationState.FAILED and row.last_error == "550 no such user" and backend.calls == 1


def test_passing_failures_stop_at_the_cap(runtime: Runtime, world: World, clock) -> None:  # type: ignore[no-untyped-def]
    now = runtime.clock()
    with runtime.sessions.begin() as session:
        task = add_task(session, world, world.employee_id, now)
        queue(
            session, "inv:cap", session.get(Person, world.employee_id), "task_invitation", {"task_ids": [task.id]}, now
        )
    backend = ScriptedBackend([TransientSendError("down", 503) for _ in range(MAX_ATTEMPTS + 5)])
    for _ in range(MAX_ATTEMPTS + 3):
        dispatch_due(runtime, backend=backend)
        clock.advance(hours=7)
    row = _row(runtime, "inv:cap")
    assert row.state == NotificationState.FAILED and row.attempts == MAX_ATTEMPTS
    assert backend.calls == MAX_ATTEMPTS and "gave up" in (row.last_error or "")


def test_expired_rows_are_cancelled(runtime: Runtime, world: World, clock) -> None:  # type: ignore[no-untyped-def]
    now = runtime.clock()
    with runtime.sessions.begin() as session:
        task = add_task(session, world, world.employee_id, now)
        queue(
            session,
            "inv:old",
            session.get(Person, world.employee_id),
            "task_invitation",
            {"task_ids": [task.id]},
            now - dt.timedelta(days=3),
            expires_at=now - dt.timedelta(hours=1),
        )
    backend = ScriptedBackend()
    report = dispatch_due(runtime, backend=backend)
    assert report.expired == 1 and report.claimed == 0 and backend.calls == 0
    assert _row(runtime, "inv:old").state == NotificationState.CANCELLED


def test_a_claim_is_exclusive_until_its_lease_runs_out(runtime: Runtime, world: World, clock) -> None:  # type: ignore[no-untyped-def]
    now = runtime.clock()
    with runtime.sessions.begin() as session:
        task = add_task(session, world, world.employee_id, now)
        queue(
            session,
            "inv:lease",
            session.get(Person, world.employee_id),
            "task_invitation",
            {"task_ids": [task.id]},
            now,
        )
    with runtime.sessions.begin() as session:
        first, _ = claim(session, now, 10)
    with runtime.sessions.begin() as session:
        second, _ = claim(session, now + LEASE - dt.timedelta(seconds=1), 10)
    assert len(first) == 1 and second == []
    clock.advance(seconds=LEASE.total_seconds() + 1)
    report = dispatch_due(runtime, backend=OutboxBackend())
    assert (report.reclaimed, report.sent) == (1, 1)
    assert _attempts(runtime, "inv:lease") == ["abandoned", "sent"]
    assert _row(runtime, "inv:lease").attempts == 2


def test_senders_running_at_once_claim_disjoint_rows(runtime: Runtime, world: World) -> None:
    now = runtime.clock()
    with runtime.sessions.begin() as session:
        for index in range(40):
            task = add_task(session, world, world.employee_id, now)
            queue(
                session,
                f"inv:many{index}",
                session.get(Person, world.employee_id),
                "task_invitation",
                {"task_ids": [task.id]},
                now,
            )
    results: list[list[int]] = []
    barrier = threading.Barrier(4)

    def sender() -> None:
        barrier.wait()
        with runtime.sessions.begin() as session:
            claims, _ = claim(session, now, 15)
        results.append([c.message.id for c in claims])

    threads = [threading.Thread(target=sender) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    claimed = [i for batch in results for i in batch]
    assert len(results) == 4 and len(claimed) == 40 and len(set(claimed)) == 40

    if runtime.engine.dialect.name == "postgresql":
        # SKIP LOCKED: a row another transaction holds is passed over, not waited for.
        with runtime.sessions.begin() as session:
            session.execute(update(Notification).values(state=NotificationState.PENDING.value, claim_token=None))
        with runtime.sessions.begin() as holder:
            locked = holder.scalars(select(Notification.id).order_by(Notification.id).limit(5).with_for_update()).all()
            with runtime.sessions.begin() as other:
                claims, _ = claim(other, now, 100)
            assert len(claims) == 35 and not {c.message.id for c in claims} & set(locked)


def test_redirect_outside_production_keeps_the_original_recipient_visible(runtime: Runtime, world: World) -> None:
    runtime.settings = runtime.settings.model_copy(update={"mail_redirect_to": "test-inbox@example.no"})
    now = runtime.clock()
    with runtime.sessions.begin() as session:
        task = add_task(session, world, world.employee_id, now)
        queue(
            session,
            "inv:redir",
            session.get(Person, world.employee_id),
            "task_invitation",
            {"task_ids": [task.id]},
            now,
        )
    backend = ScriptedBackend()
    dispatch_due(runtime, backend=backend)
    sent = backend.accepted[0]
    assert sent.to == "test-inbox@example.no"
    assert sent.headers["X-Aarshjul-Original-To"] == "ola@example.no"
    assert sent.text.startswith("[Redirected test mail: originally to ola@example.no]")


class _RefusingRelay:
    """An aiosmtpd handler that refuses one address for good and accepts the others."""

    def __init__(self, refused: str) -> None:
        self.refused = refused
        self.rcpt_calls = 0
        self.delivered: list[str] = []

    async def handle_RCPT(  # noqa: N802
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        self.rcpt_calls += 1
        if address == self.refused:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        self.delivered.extend(envelope.rcpt_tos)
        return "250 Message accepted"


def test_a_rejected_address_through_a_real_relay_is_marked_and_shown_on_the_board(
    runtime: Runtime,
    world: World,
    clock,  # type: ignore[no-untyped-def]
) -> None:
    now = runtime.clock()
    with runtime.sessions.begin() as session:
        ola = session.get(Person, world.employee_id)
        siri = session.get(Person, world.other_employee_id)
        assert ola and siri
        ola.email = "ola.gone@example.no"  # HR's file has an address the relay no longer knows
        for person in (ola, siri):
            task = add_task(session, world, person.id, now)
            queue(session, f"inv:{person.id}", person, "task_invitation", {"task_ids": [task.id]}, now)
    relay = _RefusingRelay("ola.gone@example.no")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(relay, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        backend = SmtpBackend("127.0.0.1", port)
        report = dispatch_due(runtime, backend=backend)
        assert (report.sent, report.failed) == (1, 1)
        for _ in range(3):  # days pass: the refused message is not tried again
            clock.advance(days=1)
            assert dispatch_due(runtime, backend=backend).claimed == 0
    finally:
        controller.stop()
    assert relay.delivered == ["siri@example.no"] and relay.rcpt_calls == 2
    row = _row(runtime, f"inv:{world.employee_id}")
    assert row.state == NotificationState.FAILED and row.attempts == 1 and "550" in (row.last_error or "")
    assert _attempts(runtime, f"inv:{world.employee_id}") == ["failed"]

    set_password(runtime, "hanne@example.no", "correct horse battery staple")
    client = TestClient(create_app(runtime))
    token = csrf_of(client.get("/hr/login").text)
    signed_in = client.post(
        "/hr/login",
        data={"email": "hanne@example.no", "password": "correct horse battery staple", "csrf_token": token},
        follow_redirects=False,
    )
    assert signed_in.status_code == 303
    board = client.get(f"/board?cycle={world.cycle_id}")
    assert board.status_code == 200
    section = board.text.split("E-poster som ikke kunne leveres")[1]
    assert "ola.gone@example.no" in section and "550" in section and "siri@example.no" not in section
