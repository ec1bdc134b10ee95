"""Mail backends: the local outbox (default), SendGrid and SMTP, chosen by settings.

A backend only delivers an email that is already rendered. It says how a try went by returning a
``Delivery`` or raising ``TransientSendError`` (try again later: 429, 5xx, timeouts, a dropped
connection) or ``PermanentSendError`` (the provider refused this message for good, for example a
rejected address). The idempotency key goes to the provider where it takes one: SendGrid gets it as
a custom arg and a header, SMTP as a Message-ID derived from it, so a resend after a crash between
sending and marking is recognised as the same message.
"""

from __future__ import annotations

import base64
import datetime as dt
import email.errors
import email.utils
import hashlib
import html
import smtplib
import ssl
import urllib.error
from abc import ABC, abstractmethod
from dataclasses import dataclass, field, replace
from email.message import EmailMessage

import python_http_client.exceptions
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import (
    Attachment as SendGridAttachment,
)
from sendgrid.helpers.mail import (
    CustomArg,
    Disposition,
    FileContent,
    FileName,
    FileType,
    From,
    Header,
    Mail,
    To,
)

from aarshjul.settings import ConfigurationError, Settings

IDEMPOTENCY_HEADER = "X-Aarshjul-Idempotency-Key"
ORIGINAL_TO_HEADER = "X-Aarshjul-Original-To"
SEND_TIMEOUT_SECONDS = 20.0


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str  #: for example "text/calendar; method=REQUEST"
    content: bytes


@dataclass(frozen=True)
class OutboundEmail:
    """One rendered email, ready for a backend."""

    idempotency_key: str
    from_address: str  #: "Name <address>"
    to: str
    subject: str
    text: str
    html: str
    headers: dict[str, str] = field(default_factory=dict)
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True)
class Delivery:
    provider_message_id: str | None
    status_code: int | None = None


class SendError(Exception):
    def __init__(self, detail: str, status_code: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status_code = status_code


class TransientSendError(SendError):
    """Worth trying again later; ``retry_after`` (seconds) is the provider's own hint, if it gave one."""

    def __init__(self, detail: str, status_code: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(detail, status_code)
        self.retry_after = retry_after


class PermanentSendError(SendError):
    """The provider refused this message; trying again would give the same answer."""


class MailBackend(ABC):
    name: str

    @abstractmethod
    def send(self, message: OutboundEmail) -> Delivery: ...


class OutboxBackend(MailBackend):
    """Keeps mail in the database: the dispatcher writes the rendered message to its row, and
    ``/dev/outbox`` and ``aarshjul outbox`` show it. Writing the same row twice is harmless."""

    name = "outbox"

    def send(self, message: OutboundEmail) -> Delivery:
        return Delivery(provider_message_id=f"outbox:{message.idempotency_key}")


def message_id_for(idempotency_key: str, from_address: str) -> str:
    """A Message-ID that is the same every time the same message is sent."""
    _name, address = email.utils.parseaddr(from_address)
    domain = address.rpartition("@")[2] or "aarshjul.invalid"
    return f"<{hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]}@{domain}>"


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After is either seconds or an HTTP date; an unreadable value counts as no hint."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        return None
    return max(0.0, (moment - dt.datetime.now(dt.UTC)).total_seconds())


class SendGridBackend(MailBackend):
    """The official ``sendgrid`` library; only its HTTP layer is replaced in tests."""

    name = "sendgrid"

    def __init__(self, api_key: str, host: str = "https://api.sendgrid.com") -> None:
        self.client = SendGridAPIClient(api_key=api_key, host=host)

    @staticmethod
    def build(message: OutboundEmail) -> Mail:
        from_name, from_address = email.utils.parseaddr(message.from_address)
        mail = Mail(
            from_email=From(from_address, from_name or None),
            to_emails=To(message.to),
            subject=message.subject,
            plain_text_content=message.text,
            html_content=message.html,
        )
        mail.custom_arg = CustomArg("idempotency_key", message.idempotency_key)
        mail.header = Header(IDEMPOTENCY_HEADER, message.idempotency_key)
        for name, value in message.headers.items():
            mail.header = Header(name, value)
        for item in message.attachments:
            mail.attachment = SendGridAttachment(
                FileContent(base64.b64encode(item.content).decode()),
                FileName(item.filename),
                FileType(item.content_type),
                Disposition("attachment"),
            )
        return mail

    def send(self, message: OutboundEmail) -> Delivery:
        body = self.build(message).get()
        try:
            response = self.client.client.mail.send.post(request_body=body, timeout=SEND_TIMEOUT_SECONDS)
        except python_http_client.exceptions.HTTPError as exc:
            raise _classify_http(exc) from exc
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            raise TransientSendError(f"SendGrid unreachable: {exc}") from exc
        headers = response.headers
        provider_id = headers.get("X-Message-Id") if headers is not None else None
        return Delivery(provider_message_id=provider_id, status_code=response.status_code)


def _classify_http(exc: python_http_client.exceptions.HTTPError) -> SendError:
    status = int(exc.status_code)
    body = exc.body.decode("utf-8", "replace") if isinstance(exc.body, bytes) else str(exc.body)
    detail = f"SendGrid answered {status}: {body[:500]}"
    if status == 429:
        headers = exc.headers
        hint = headers.get("Retry-After") if headers is not None else None
        return TransientSendError(detail, status, parse_retry_after(hint))
    # 401/403 mean our key or account is wrong, not the message: worth retrying once it is fixed.
    if status >= 500 or status in (401, 403, 408):
        return TransientSendError(detail, status)
    return PermanentSendError(detail, status)


class SmtpBackend(MailBackend):
    """For organisations with their own relay. One connection per message keeps failures separate."""

    name = "smtp"

    def __init__(
        self,
        host: str,
        port: int,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout: float = SEND_TIMEOUT_SECONDS,
    ) -> None:
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.starttls = starttls
        self.timeout = timeout

    @staticmethod
    def build(message: OutboundEmail) -> EmailMessage:
        mime = EmailMessage()
        mime["From"] = message.from_address
        mime["To"] = message.to
        mime["Subject"] = message.subject
        mime["Date"] = email.utils.formatdate(localtime=False)
        mime["Message-ID"] = message_id_for(message.idempotency_key, message.from_address)
        mime[IDEMPOTENCY_HEADER] = message.idempotency_key
        for name, value in message.headers.items():
            mime[name] = value
        mime.set_content(message.text)
        mime.add_alternative(message.html, subtype="html")
        for item in message.attachments:
            maintype, _, rest = item.content_type.partition("/")
            subtype, _, param_text = rest.partition(";")
            params = dict(p.strip().split("=", 1) for p in param_text.split(";") if "=" in p)
            mime.add_attachment(
                item.content, maintype=maintype, subtype=subtype.strip(), filename=item.filename, params=params
            )
        return mime

    def send(self, message: OutboundEmail) -> Delivery:
        try:
            mime = self.build(message)
        # The mail library refuses a header or an address in several ways; the same message would
        # be refused again, so this is no reason to try later.
        except (email.errors.MessageError, ValueError, TypeError, AttributeError, IndexError) as exc:
            raise PermanentSendError(f"the message cannot be built: {type(exc).__name__}: {exc}") from exc
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.username:
                    smtp.login(self.username, self.password or "")
                refused = smtp.send_message(mime)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _text in exc.recipients.values()]
            detail = f"SMTP refused the recipient: {exc.recipients}"
            if codes and all(400 <= code < 500 for code in codes):
                raise TransientSendError(detail, codes[0]) from exc
            raise PermanentSendError(detail, codes[0] if codes else None) from exc
        except smtplib.SMTPResponseException as exc:
            detail = f"SMTP answered {exc.smtp_code}: {exc.smtp_error!r}"
            if 400 <= exc.smtp_code < 500:
                raise TransientSendError(detail, exc.smtp_code) from exc
            raise PermanentSendError(detail, exc.smtp_code) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise TransientSendError(f"SMTP relay unreachable: {exc}") from exc
        if refused:
            raise PermanentSendError(f"SMTP refused: {refused}")
        return Delivery(provider_message_id=str(mime["Message-ID"]), status_code=250)


def redirected(message: OutboundEmail, redirect_to: str) -> OutboundEmail:
    """Outside production all mail can go to one address; the original recipient stays visible."""
    note_text = f"[Redirected test mail: originally to {message.to}]\n\n"
    note_html = (
        f'<p style="background:#fff3cd;padding:8px">Redirected test mail: originally to {html.escape(message.to)}</p>'
    )
    return replace(
        message,
        to=redirect_to,
        headers={**message.headers, ORIGINAL_TO_HEADER: message.to},
        text=note_text + message.text,
        html=note_html + message.html,
    )


def backend_for(settings: Settings) -> MailBackend:
    if settings.mail_backend == "sendgrid":
        if settings.sendgrid_api_key is None:
            raise ConfigurationError("AARSHJUL_MAIL_BACKEND=sendgrid needs AARSHJUL_SENDGRID_API_KEY.")
        return SendGridBackend(settings.sendgrid_api_key.get_secret_value())
    if settings.mail_backend == "smtp":
        return SmtpBackend(
            settings.smtp_host,
            settings.smtp_port,
            settings.smtp_username,
            settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            settings.use_starttls,
        )
    return OutboxBackend()
