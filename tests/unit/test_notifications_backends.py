"""Backends without a database: the exact SendGrid request body, SMTP against a real local server, ICS."""

from __future__ import annotations

import base64
import datetime as dt
import email
import email.policy
import io
import json
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from python_http_client.client import Client
from python_http_client.exceptions import handle_error

from notifications.backends import (
    IDEMPOTENCY_HEADER,
    Attachment,
    OutboundEmail,
    PermanentSendError,
    SendGridBackend,
    SmtpBackend,
    TransientSendError,
    message_id_for,
    parse_retry_after,
)
from notifications.ics import CalendarInvitation, CalendarPerson, build_invitation, escape_text, fold

CALENDAR = Attachment("invitation.ics", "text/calendar; method=REQUEST", b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _email(**changes: Any) -> OutboundEmail:
    values: dict[str, Any] = {
        "idempotency_key": "task_invitation:7:abc",
        "from_address": "Årshjul <aarshjul@example.no>",
        "to": "kari@example.no",
        "subject": "Ny oppgave: 1. Gjennomgang",
        "text": "Hei Kari,\n\nÅpne oppgaven: http://x/t/1\n",
        "html": "<p>Hei Kari,</p><a href='http://x/t/1'>Åpne</a>",
        "headers": {},
        "attachments": (),
    }
    values.update(changes)
    return OutboundEmail(**values)


class _FakeResponse(io.BytesIO):
    def __init__(self, status: int, headers: dict[str, str], body: bytes = b"") -> None:
        super().__init__(body)
        self.status = status
        self.code = status
        self.headers = Message()
        for name, value in headers.items():
            self.headers[name] = value

    def getcode(self) -> int:
        return self.status

    def info(self) -> Message:
        return self.headers


class _HttpLayer:
    """Stands in for urllib under python_http_client: records each request, answers from a script."""

    def __init__(self, answers: list[tuple[int, dict[str, str]]]) -> None:
        self.answers = answers
        self.requests: list[urllib.request.Request] = []

    def __call__(self, opener: Any, request: urllib.request.Request, timeout: float | None = None) -> Any:
        self.requests.append(request)
        status, headers = self.answers.pop(0) if self.answers else (202, {"X-Message-Id": "sg-1"})
        if status >= 400:
            error = urllib.error.HTTPError(request.full_url, status, "error", Message(), io.BytesIO(b'{"errors":[]}'))
            for name, value in headers.items():
                error.hdrs[name] = value
            raise handle_error(error)
        return _FakeResponse(status, headers)


@pytest.fixture
def http(monkeypatch: pytest.MonkeyPatch) -> _HttpLayer:
    layer = _HttpLayer([])
    monkeypatch.setattr(Client, "_make_request", lambda _client, opener, request, timeout=None: layer(opener, request))
    return layer


def test_sendgrid_request_body_field_by_field(http: _HttpLayer) -> None:
    backend = SendGridBackend("SG.test-key")
    delivery = backend.send(_email(headers={"X-Aarshjul-Original-To": "ola@example.no"}, attachments=(CALENDAR,)))

    assert delivery.provider_message_id == "sg-1" and delivery.status_code == 202
    (request,) = http.requests
    assert request.full_url == "https://api.sendgrid.com/v3/mail/send"
    assert request.get_method() == "POST"
    assert request.headers["Authorization"] == "Bearer SG.test-key"
    body = json.loads(request.data)  # type: ignore[arg-type]
    assert body["from"] == {"email": "aarshjul@example.no", "name": "Årshjul"}
    assert body["subject"] == "Ny oppgave: 1. Gjennomgang"
    assert body["personalizations"] == [{"to": [{"email": "kari@example.no"}]}]
    assert body["headers"] == {IDEMPOTENCY_HEADER: "task_invitation:7:abc", "X-Aarshjul-Original-To": "ola@example.no"}
    assert body["custom_args"] == {"idempotency_key": "task_invitation:7:abc"}
    assert body["content"] == [
        {"type": "text/plain", "value": "Hei Kari,\n\nÅpne oppgaven: http://x/t/1\n"},
        {"type": "text/html", "value": "<p>Hei Kari,</p><a href='http://x/t/1'>Åpne</a>"},
    ]
    (attachment,) = body["attachments"]
    assert attachment["filename"] == "invitation.ics"
    assert attachment["type"] == "text/calendar; method=REQUEST"
    assert attachment["disposition"] == "attachment"
    assert base64.b64decode(attachment["content"]) == CALENDAR.content
    assert set(body) == {"from", "subject", "personalizations", "content", "attachments", "headers", "custom_args"}


def test_sendgrid_429_carries_retry_after_5xx_is_transient_400_is_permanent(http: _HttpLayer) -> None:
    backend = SendGridBackend("SG.test-key")
    http.answers += [(429, {"Retry-After": "42"}), (500, {}), (503, {}), (400, {}), (401, {})]
    with pytest.raises(TransientSendError) as limited:
        backend.send(_email())
    assert limited.value.status_code == 429 and limited.value.retry_after == 42.0
    for status in (500, 503):
        with pytest.raises(TransientSendError) as failed:
            backend.send(_email())
        assert failed.value.status_code == status and failed.value.retry_after is None
    with pytest.raises(PermanentSendError) as rejected:
        backend.send(_email())
    assert rejected.value.status_code == 400
    with pytest.raises(TransientSendError):  # a wrong API key is ours to fix, not the message's fault
        backend.send(_email())


def test_sendgrid_timeout_and_refused_connection_are_transient(monkeypatch: pytest.MonkeyPatch) -> None:
    def timeout(*_args: Any, **_kwargs: Any) -> Any:
        raise TimeoutError("timed out")

    monkeypatch.setattr(Client, "_make_request", timeout)
    with pytest.raises(TransientSendError):
        SendGridBackend("SG.k").send(_email())
    monkeypatch.undo()
    port = _free_port()
    with pytest.raises(TransientSendError):
        SendGridBackend("SG.k", host=f"http://127.0.0.1:{port}").send(_email())


def test_retry_after_as_seconds_or_http_date() -> None:
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    later = email.utils.format_datetime(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=300), usegmt=True)
    assert 250 < (parse_retry_after(later) or 0) <= 300


class _Recorder:
    """An aiosmtpd handler that keeps messages by Message-ID, so a resend is recognised, and can refuse."""

    def __init__(self) -> None:
        self.by_message_id: dict[str, bytes] = {}
        self.received = 0
        self.refuse: dict[str, str] = {}

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:  # noqa: N802
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        self.received += 1
        content = envelope.original_content or b""
        parsed = email.message_from_bytes(content, policy=email.policy.default)
        self.by_message_id.setdefault(str(parsed["Message-ID"]), content)
        return "250 Message accepted"


@pytest.fixture
def smtp_server() -> Iterator[tuple[_Recorder, int]]:
    recorder = _Recorder()
    port = _free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield recorder, port
    finally:
        controller.stop()


def test_smtp_delivers_text_html_and_calendar_with_a_stable_message_id(smtp_server: tuple[_Recorder, int]) -> None:
    recorder, port = smtp_server
    backend = SmtpBackend("127.0.0.1", port)
    message = _email(attachments=(CALENDAR,))
    first = backend.send(message)
    second = backend.send(message)  # a resend after a crash: same Message-ID, so the same message

    assert (
        first.provider_message_id
        == second.provider_message_id
        == message_id_for(message.idempotency_key, message.from_address)
    )
    assert recorder.received == 2 and len(recorder.by_message_id) == 1
    parsed = email.message_from_bytes(next(iter(recorder.by_message_id.values())), policy=email.policy.default)
    assert parsed["To"] == "kari@example.no" and parsed["Subject"] == "Ny oppgave: 1. Gjennomgang"
    assert parsed[IDEMPOTENCY_HEADER] == "task_invitation:7:abc"
    assert parsed["Message-ID"].endswith("@example.no>")
    parts = {part.get_content_type(): part for part in parsed.walk()}
    assert parts["text/plain"].get_content().replace("\r\n", "\n") == message.text
    assert parts["text/html"].get_content().strip() == message.html
    assert parts["text/calendar"].get_param("method") == "REQUEST"
    assert parts["text/calendar"].get_filename() == "invitation.ics"


def test_smtp_rejected_address_is_permanent_busy_mailbox_is_transient(smtp_server: tuple[_Recorder, int]) -> None:
    recorder, port = smtp_server
    recorder.refuse = {"gone@example.no": "550 5.1.1 No such user", "busy@example.no": "451 4.3.0 Try later"}
    backend = SmtpBackend("127.0.0.1", port)
    with pytest.raises(PermanentSendError) as gone:
        backend.send(_email(to="gone@example.no"))
    assert gone.value.status_code == 550
    with pytest.raises(TransientSendError) as busy:
        backend.send(_email(to="busy@example.no"))
    assert busy.value.status_code == 451


def test_smtp_relay_down_is_transient() -> None:
    port = _free_port()
    with pytest.raises(TransientSendError):
        SmtpBackend("127.0.0.1", port, timeout=2).send(_email())


def test_ics_escapes_folds_and_uses_utc() -> None:
    starts = dt.datetime(2027, 3, 10, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    text = build_invitation(
        CalendarInvitation(
            uid="talk-12@aarshjul",
            starts_at=starts,
            ends_at=starts + dt.timedelta(hours=1),
            summary="Samtale; Kari, Ola",
            description="Linje én\nLinje to \\ slutt " + "æ" * 60,
            location="Møterom 2, 3. etasje",
            organizer=CalendarPerson('Kari "K" Leader', "kari@example.no"),
            attendees=(
                CalendarPerson("Kari Leader", "kari@example.no"),
                CalendarPerson("Ola Nordmann", "ola@example.no"),
            ),
            stamp=dt.datetime(2027, 3, 1, 12, 0, tzinfo=dt.UTC),
            sequence=2,
        )
    )
    assert text.startswith("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n") and text.endswith("END:VCALENDAR\r\n")
    lines = text.split("\r\n")
    assert all(len(line.encode()) <= 75 for line in lines)
    unfolded = text.replace("\r\n ", "")
    assert "DTSTART:20270310T080000Z" in unfolded and "DTEND:20270310T090000Z" in unfolded
    assert "SUMMARY:Samtale\\; Kari\\, Ola" in unfolded
    assert "DESCRIPTION:Linje én\\nLinje to \\\\ slutt " + "æ" * 60 in unfolded
    assert "LOCATION:Møterom 2\\, 3. etasje" in unfolded
    assert 'ORGANIZER;CN="Kari K Leader":mailto:kari@example.no' in unfolded
    assert unfolded.count("ATTENDEE;") == 2 and "SEQUENCE:2" in unfolded and "METHOD:REQUEST" in unfolded
    assert escape_text("a,b;c\\d\r\ne") == "a\\,b\\;c\\\\d\\ne"
    assert fold("x" * 75) == "x" * 75 and fold("x" * 76) == "x" * 75 + "\r\n x"
