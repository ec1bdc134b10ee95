"""Mail that never jams: whatever goes wrong with one message (an address the mail library refuses, a
backend that raises, hangs, refuses or drops the line half-way) is recorded on that message alone, the
good messages behind it go out in the same run, and the attempt cap ends every message that keeps
failing in ``failed`` with its reason, also when its sender dies every time."""

from __future__ import annotations

import datetime as dt
import socket
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from aarshjul.clock import ManualClock
from aarshjul.db.models import Notification, Person
from aarshjul.domain.enums import NotificationState
from aarshjul.runtime import Runtime
from aarshjul.settings import Settings
from notifications.backends import (
    Delivery,
    MailBackend,
    OutboundEmail,
    PermanentSendError,
    SmtpBackend,
    TransientSendError,
    backend_for,
)
from notifications.dispatcher import LEASE, MAX_ATTEMPTS, dispatch_due
from tests.notifications_support import World, add_task, build_world, queue

BAD_ADDRESS = "rep@[fagforbund.no"


@pytest.fixture
def world(runtime: Runtime) -> World:
    with runtime.sessions.begin() as session:
        return build_world(session, runtime.clock())


def _queue_for(runtime: Runtime, world: World, people: list[tuple[str, str]]) -> None:
    """One invitation per (key, address), in this order."""
    now = runtime.clock()
    with runtime.sessions.begin() as session:
        base = session.get(Person, world.employee_id)
        assert base is not None
        for key, address in people:
            person = Person(
                organisation_id=base.organisation_id,
                name=key,
                email=address,
                unit_id=base.unit_id,
                role=base.role,
                language=base.language,
            )
            session.add(person)
            session.flush()
            task = add_task(session, world, person.id, now)
            queue(session, key, person, "task_invitation", {"task_ids": [task.id]}, now)  # claimed in this order


def _row(runtime: Runtime, key: str) -> Notification:
    with runtime.sessions() as session:
        row = session.scalars(select(Notification).where(Notification.idempotency_key == key)).one()
        session.expunge(row)
        return row


class Moody(MailBackend):
    """Fails in the way named by the recipient's address; takes everything else."""

    name = "moody"

    def __init__(self) -> None:
        self.delivered: list[str] = []

    def send(self, message: OutboundEmail) -> Delivery:
        if message.to.startswith("raises@"):
            raise RuntimeError("a bug in the backend")
        if message.to.startswith("refused@"):
            raise PermanentSendError("550 no such mailbox", 550)
        if message.to.startswith("busy@"):
            raise TransientSendError("451 try later", 451)
        self.delivered.append(message.to)
        return Delivery("ok")


def test_good_messages_behind_bad_ones_go_out_in_the_same_run(runtime: Runtime, world: World) -> None:
    _queue_for(
        runtime,
        world,
        [
            ("bad-address", BAD_ADDRESS),
            ("raises", "raises@example.no"),
            ("refused", "refused@example.no"),
            ("busy", "busy@example.no"),
            ("good", "good@example.no"),
        ],
    )
    backend = Moody()
    report = dispatch_due(runtime, backend=backend)
    assert backend.delivered == ["good@example.no"]
    assert (report.sent, report.failed, report.retried) == (1, 2, 2)
    assert _row(runtime, "bad-address").state == NotificationState.FAILED
    assert "not an address mail can be sent to" in (_row(runtime, "bad-address").last_error or "")
    assert _row(runtime, "raises").state == NotificationState.PENDING  # a bug may pass; tried again later
    assert "RuntimeError" in (_row(runtime, "raises").last_error or "")
    assert _row(runtime, "refused").state == NotificationState.FAILED


def test_a_message_that_always_fails_ends_failed_at_the_cap(runtime: Runtime, world: World, clock: ManualClock) -> None:
    _queue_for(runtime, world, [("raises", "raises@example.no")])
    backend = Moody()
    for _ in range(MAX_ATTEMPTS + 3):
        dispatch_due(runtime, backend=backend)
        clock.advance(hours=7)  # past the longest backoff
    row = _row(runtime, "raises")
    assert row.state == NotificationState.FAILED and row.attempts == MAX_ATTEMPTS
    assert (row.last_error or "").startswith(f"gave up after {MAX_ATTEMPTS} attempts")


class Dying(MailBackend):
    """The sending process stops in the middle of a send (SystemExit stands for the process going away)."""

    name = "dying"

    def send(self, message: OutboundEmail) -> Delivery:
        raise SystemExit(1)


def test_a_sender_that_dies_every_time_still_ends_at_the_cap(
    runtime: Runtime, world: World, clock: ManualClock
) -> None:
    _queue_for(runtime, world, [("doomed", "doomed@example.no")])
    for _ in range(MAX_ATTEMPTS):
        with pytest.raises(SystemExit):
            dispatch_due(runtime, backend=Dying())
        clock.advance(minutes=LEASE.total_seconds() // 60 + 1)
    report = dispatch_due(runtime, backend=Moody())
    row = _row(runtime, "doomed")
    assert row.state == NotificationState.FAILED and row.attempts == MAX_ATTEMPTS and report.failed == 1
    assert "its sender stopped" in (row.last_error or "")


def test_a_batch_hands_back_what_it_has_no_time_left_for(
    runtime: Runtime, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    _queue_for(runtime, world, [("first", "first@example.no"), ("second", "second@example.no")])
    monkeypatch.setattr("notifications.dispatcher.SENDING_TIME", dt.timedelta(0))
    report = dispatch_due(runtime, backend=Moody())
    assert (report.claimed, report.sent, report.released) == (2, 0, 2)
    row = _row(runtime, "first")
    assert row.state == NotificationState.PENDING and row.attempts == 0 and row.claim_token is None


# --- a real SMTP relay that misbehaves ------------------------------------------------------------


def _serve(handler: type[_Relay]) -> Iterator[int]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    stop = threading.Event()

    def loop() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            threading.Thread(target=handler(connection).run, daemon=True).start()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(5)
    server.close()


class _Relay(ABC):
    """A hand-made SMTP relay: each subclass misbehaves in its own way."""

    def __init__(self, connection: socket.socket) -> None:
        self.connection = connection
        self.file = connection.makefile("rwb")

    def say(self, line: str) -> None:
        self.file.write(line.encode() + b"\r\n")
        self.file.flush()

    def run(self) -> None:
        try:
            self.talk()
        except OSError:
            pass
        finally:
            self.connection.close()

    @abstractmethod
    def talk(self) -> None:
        """What this kind of broken relay says on the connection."""


class Silent(_Relay):
    """Accepts the connection and never says a word."""

    def talk(self) -> None:
        self.file.readline()


class HalfSending(_Relay):
    """Takes the envelope and part of the message, then drops the line."""

    def talk(self) -> None:
        self.say("220 relay")
        while line := self.file.readline():
            command = line.decode(errors="replace").strip().upper()
            if command.startswith("EHLO") or command.startswith("HELO"):
                self.say("250 relay")
            elif command.startswith("DATA"):
                self.say("354 go on")
                self.file.readline()
                return  # gone half-way through the message
            else:
                self.say("250 ok")


@pytest.mark.parametrize("relay", [Silent, HalfSending], ids=["hangs", "half-sends"])
def test_a_relay_that_hangs_or_drops_the_line_costs_one_retry(
    runtime: Runtime, world: World, relay: type[_Relay]
) -> None:
    _queue_for(runtime, world, [("one", "one@example.no")])
    for port in _serve(relay):
        report = dispatch_due(runtime, backend=SmtpBackend("127.0.0.1", port, timeout=1.0))
        assert report.retried == 1
    row = _row(runtime, "one")
    assert row.state == NotificationState.PENDING and row.last_error


def test_smtp_uses_starttls_whenever_it_has_credentials() -> None:
    def backend(**settings: object) -> SmtpBackend:
        chosen = backend_for(Settings(secret_key="x" * 40, mail_backend="smtp", **settings))  # type: ignore[arg-type]
        assert isinstance(chosen, SmtpBackend)
        return chosen

    assert backend(smtp_username="relay-user", smtp_password="pw").starttls is True
    assert backend().starttls is False  # no credentials: a local relay on port 25
    assert backend(smtp_username="relay-user", smtp_starttls=False).starttls is False  # said so on purpose


def test_the_address_rule_is_the_mail_librarys() -> None:
    from aarshjul.domain.addresses import is_deliverable

    assert is_deliverable("kari.nordmann@fjordvik.kommune.no")
    for bad in [BAD_ADDRESS, "a..b@x.no", "a@x..no", "bjørn@fjordvik.no", "a@b", "a b@x.no", "x" * 250 + "@x.no"]:
        assert not is_deliverable(bad), bad
