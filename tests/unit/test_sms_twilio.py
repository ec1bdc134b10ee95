"""The Twilio SMS backend through the official library, with only its HTTP layer replaced: the exact request
it makes, how Twilio's answers are classified, and the check for an earlier send before a retry."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
import requests
from twilio.http import HttpClient
from twilio.http.response import Response

from aarshjul.settings import ConfigurationError, Settings
from notifications.backends import PermanentSendError, TransientSendError
from notifications.sms_backends import OutboundSms, OutboxSmsBackend, TwilioSmsBackend, sms_backend_for

SID = "AC" + "0" * 32
TOKEN = "test-auth-token"
SECRET = "test-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
MESSAGES_URL = f"https://api.twilio.com/2010-04-01/Accounts/{SID}/Messages.json"
SMS = OutboundSms(idempotency_key="task_invitation:7:abc:sms", to="+4791234567", text="Årshjul: en ny oppgave til deg.")


def message(sid: str = "SM" + "1" * 32, body: str = SMS.text, status: str = "queued") -> dict[str, Any]:
    return {
        "sid": sid,
        "account_sid": SID,
        "to": SMS.to,
        "from": "+4798765432",
        "body": body,
        "status": status,
        "date_created": "Mon, 04 Jan 2027 07:00:00 +0000",
        "uri": f"/2010-04-01/Accounts/{SID}/Messages/{sid}.json",
    }


class FakeTwilioHttp(HttpClient):
    """Twilio's HTTP layer, answering from a script and remembering every request."""

    def __init__(self, *answers: tuple[int, dict[str, Any]] | Exception) -> None:
        super().__init__(logger=None, is_async=False, timeout=None)
        self.answers = list(answers)
        self.requests: list[dict[str, Any]] = []

    def request(
        self,
        method: str,
        url: str,
        params: Any = None,
        data: Any = None,
        headers: Any = None,
        auth: Any = None,
        timeout: Any = None,
        allow_redirects: bool = False,
    ) -> Response:
        self.requests.append(
            {"method": method, "url": url, "params": params, "data": data, "headers": headers, "auth": auth}
        )
        answer = self.answers.pop(0) if self.answers else (201, message())
        if isinstance(answer, Exception):
            raise answer
        status, body = answer
        return Response(status, json.dumps(body), {"Content-Type": "application/json"})


def backend(http: FakeTwilioHttp, **kwargs: Any) -> TwilioSmsBackend:
    return TwilioSmsBackend(SID, TOKEN, http_client=http, **({"sender": "+4798765432"} | kwargs))


def test_the_request_is_a_form_post_to_the_messages_resource() -> None:
    http = FakeTwilioHttp()
    delivery = backend(http).send(SMS)
    assert delivery.provider_message_id == "SM" + "1" * 32
    [sent] = http.requests
    assert (sent["method"], sent["url"], sent["auth"]) == ("POST", MESSAGES_URL, (SID, TOKEN))
    assert sent["data"] == {"To": "+4791234567", "From": "+4798765432", "Body": "Årshjul: en ny oppgave til deg."}
    assert sent["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    assert sent["headers"]["Accept"] == "application/json"


def test_a_messaging_service_sends_instead_of_a_number() -> None:
    http = FakeTwilioHttp()
    backend(http, sender=None, messaging_service_sid="MG" + "2" * 32).send(SMS)
    assert http.requests[0]["data"] == {"To": SMS.to, "MessagingServiceSid": "MG" + "2" * 32, "Body": SMS.text}


def error(status: int, code: int | None) -> tuple[int, dict[str, Any]]:
    return status, {
        "code": code,
        "message": "refused",
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        (error(400, 21211), PermanentSendError),  # not a valid number
        (error(400, 21610), PermanentSendError),  # the recipient answered STOP
        (error(400, 21614), PermanentSendError),  # not a mobile number
        (error(429, 20429), TransientSendError),
        (error(503, None), TransientSendError),
        (error(401, 20003), TransientSendError),  # our credentials: worth sending once they are fixed
        (requests.exceptions.ConnectionError("refused"), TransientSendError),
        (requests.exceptions.ReadTimeout("slow"), TransientSendError),
    ],
)
def test_answers_are_classified(answer: tuple[int, dict[str, Any]] | Exception, kind: type[Exception]) -> None:
    with pytest.raises(kind) as raised:
        backend(FakeTwilioHttp(answer)).send(SMS)
    if isinstance(answer, tuple):
        assert f"code {answer[1]['code']}" in str(raised.value) or answer[1]["code"] is None


def test_a_retry_takes_a_message_that_did_go_out_instead_of_sending_it_again() -> None:
    first = dt.datetime(2027, 1, 4, 7, 0, tzinfo=dt.UTC)
    retry = OutboundSms(SMS.idempotency_key, SMS.to, SMS.text, first_tried_at=first)
    listing = {
        "messages": [message("SM" + "9" * 32, "another text"), message("SM" + "8" * 32)],
        "meta": {"key": "messages", "next_page_url": None},
    }
    http = FakeTwilioHttp((200, listing))
    assert backend(http).send(retry).provider_message_id == "SM" + "8" * 32
    [asked] = http.requests
    assert (asked["method"], asked["url"]) == ("GET", MESSAGES_URL)
    assert asked["params"]["To"] == SMS.to and asked["params"]["DateSent>"] == "2027-01-04T07:00:00Z"
    # nothing found: it is sent
    http = FakeTwilioHttp((200, {"messages": [], "meta": {"key": "messages"}}), (201, message()))
    backend(http).send(retry)
    assert [r["method"] for r in http.requests] == ["GET", "POST"]


def test_the_backend_follows_the_settings() -> None:
    assert isinstance(sms_backend_for(Settings(secret_key=SECRET)), OutboxSmsBackend)
    with pytest.raises(ConfigurationError, match="ACCOUNT_SID"):
        sms_backend_for(Settings(secret_key=SECRET, sms_backend="twilio"))
    with pytest.raises(ConfigurationError, match="TWILIO_FROM"):
        Settings(  # a mail backend chosen, as production asks, so the SMS settings are what is missing
            secret_key=SECRET,
            mail_backend="outbox",
            sms_backend="twilio",
            twilio_account_sid=SID,
            twilio_auth_token=TOKEN,
        ).check_for_start()
    configured = Settings(
        secret_key=SECRET,
        sms_backend="twilio",
        twilio_account_sid=SID,
        twilio_auth_token=TOKEN,
        twilio_from="Fjordvik",
    )
    assert isinstance(sms_backend_for(configured), TwilioSmsBackend)
