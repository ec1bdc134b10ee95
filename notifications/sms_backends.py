"""SMS backends: the local outbox (default) and Twilio, chosen by ``AARSHJUL_SMS_BACKEND``.

Like a mail backend, an SMS backend delivers a rendered message and says how it went by returning a
``Delivery`` or raising ``TransientSendError`` (try again later) or ``PermanentSendError`` (refused for
good; HR sees it on the board).

Twilio goes through its official library (``twilio``); tests replace only its HTTP layer
(``twilio.http.HttpClient``) and check the exact request. Twilio's Messages API takes no idempotency
key, so a retry after an answer that never came (a time-out, a 5xx) first asks Twilio for a message to
the same number with the same text since the first attempt, and takes that one instead of sending again.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from dataclasses import dataclass, replace

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http import HttpClient
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from aarshjul.settings import ConfigurationError, Settings
from notifications.backends import SEND_TIMEOUT_SECONDS, Delivery, PermanentSendError, SendError, TransientSendError

#: Twilio error codes that are about our account or its settings, not the message: worth trying again once
#: someone has fixed them (authentication, a suspended account, a sender not allowed to send there).
TWILIO_CONFIGURATION_CODES = frozenset({20003, 20005, 21408, 21606, 21659})


@dataclass(frozen=True)
class OutboundSms:
    idempotency_key: str
    to: str  #: E.164
    text: str
    #: set on a retry: when the first attempt was made, so a message that did go out is found, not resent
    first_tried_at: dt.datetime | None = None


class SmsBackend(ABC):
    name: str

    @abstractmethod
    def send(self, message: OutboundSms) -> Delivery: ...


class OutboxSmsBackend(SmsBackend):
    """Keeps SMS in the database beside the emails: ``/dev/outbox`` and ``aarshjul outbox`` show them."""

    name = "outbox"

    def send(self, message: OutboundSms) -> Delivery:
        return Delivery(provider_message_id=f"outbox:{message.idempotency_key}")


class TwilioSmsBackend(SmsBackend):
    """Twilio's Messages API through the official library: from a number, or a messaging service."""

    name = "twilio"

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        sender: str | None = None,
        messaging_service_sid: str | None = None,
        http_client: HttpClient | None = None,
    ) -> None:
        if not sender and not messaging_service_sid:
            raise ConfigurationError("Twilio needs AARSHJUL_TWILIO_FROM or AARSHJUL_TWILIO_MESSAGING_SERVICE_SID.")
        self.sender = sender
        self.messaging_service_sid = messaging_service_sid
        # The library sets no time-out of its own: without one a stalled connection holds the dispatcher.
        self.client = Client(
            account_sid, auth_token, http_client=http_client or TwilioHttpClient(timeout=SEND_TIMEOUT_SECONDS)
        )

    def send(self, message: OutboundSms) -> Delivery:
        try:
            if message.first_tried_at is not None:
                earlier = self._already_sent(message)
                if earlier is not None:
                    return earlier
            created = self.client.messages.create(
                to=message.to,
                body=message.text,
                **({"messaging_service_sid": self.messaging_service_sid} if self.messaging_service_sid else {}),
                **({"from_": self.sender} if self.sender and not self.messaging_service_sid else {}),
            )
        except TwilioRestException as exc:
            raise _classify(exc) from exc
        except (requests.exceptions.RequestException, TwilioException) as exc:
            raise TransientSendError(f"Twilio unreachable: {exc}") from exc
        return Delivery(provider_message_id=created.sid, status_code=201)

    def _already_sent(self, message: OutboundSms) -> Delivery | None:
        since = message.first_tried_at
        for sent in self.client.messages.list(to=message.to, date_sent_after=since, limit=50):
            if sent.body == message.text and sent.status not in ("failed", "undelivered", "canceled"):
                return Delivery(provider_message_id=sent.sid, status_code=200)
        return None


def _classify(exc: TwilioRestException) -> SendError:
    detail = f"Twilio answered {exc.status}" + (f" (code {exc.code})" if exc.code else "") + f": {exc.msg}"
    if exc.status == 429 or exc.status >= 500 or exc.code in TWILIO_CONFIGURATION_CODES or exc.status in (401, 403):
        return TransientSendError(detail[:500], exc.status)
    # Everything else is about this message or number (21211 not a valid number, 21614 not a mobile,
    # 21610 the recipient answered STOP, ...): sending it again would be refused again.
    return PermanentSendError(detail[:500], exc.status)


def redirected_sms(message: OutboundSms, redirect_to: str) -> OutboundSms:
    """Outside production all SMS can go to one number; the text says whom it was for."""
    return replace(message, to=redirect_to, text=f"[Test SMS to {message.to}] {message.text}")


def sms_backend_for(settings: Settings) -> SmsBackend:
    if settings.sms_backend == "twilio":
        if settings.twilio_account_sid is None or settings.twilio_auth_token is None:
            raise ConfigurationError(
                "AARSHJUL_SMS_BACKEND=twilio needs AARSHJUL_TWILIO_ACCOUNT_SID and AARSHJUL_TWILIO_AUTH_TOKEN."
            )
        return TwilioSmsBackend(
            settings.twilio_account_sid,
            settings.twilio_auth_token.get_secret_value(),
            settings.twilio_from,
            settings.twilio_messaging_service_sid,
        )
    return OutboxSmsBackend()
