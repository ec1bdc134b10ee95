"""Writing to the outbox. Callers pass their own session so the row commits with the change that causes it.

The idempotency key is unique: queuing the same message twice (a re-run advance, a retried sweep)
inserts nothing the second time.

SMS is decided here, for every caller alike: a message of a kind the organisation sends by SMS
(``sms_setting``) to a person with a mobile number gets an SMS row beside the email row (its key is the
email's with ``:sms`` appended, so each has its own attempts and retries), or instead of it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Table, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from aarshjul.db.models import Notification, Person, SmsSetting
from aarshjul.domain.enums import NotificationChannel, NotificationState, SmsMode

SMS_KEY_SUFFIX = ":sms"
#: The kinds of message that have an SMS text (notifications/templates/sms/); the others go by email only.
SMS_TEMPLATES = ("task_invitation", "task_reminder", "evaluation_due", "measure_returned", "talk_scheduled")


@dataclass(frozen=True)
class OutgoingMessage:
    idempotency_key: str
    to_email: str
    language: str
    template: str
    context: dict[str, Any]
    not_before: dt.datetime
    recipient_id: int | None = None
    expires_at: dt.datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _row(message: OutgoingMessage, now: dt.datetime, mobile: str | None = None) -> dict[str, Any]:
    return {
        "idempotency_key": message.idempotency_key + (SMS_KEY_SUFFIX if mobile else ""),
        "recipient_id": message.recipient_id,
        "to_email": message.to_email,
        "channel": NotificationChannel.SMS if mobile else NotificationChannel.EMAIL,
        "to_phone": mobile,
        "language": message.language,
        "template": message.template,
        "context": message.context,
        "state": NotificationState.PENDING,
        "not_before": message.not_before,
        "expires_at": message.expires_at,
        "attempts": 0,
        "created_at": now,
    }


# Built once: every advance that invites anyone reads them.
_SMS = cast(Table, SmsSetting.__table__).c
_PERSON = cast(Table, Person.__table__).c
_SMS_MODES = select(_SMS.template, _SMS.mode).where(_SMS.template.in_(bindparam("kinds", expanding=True)))
_MOBILES = select(_PERSON.id, _PERSON.mobile).where(
    _PERSON.id.in_(bindparam("people", expanding=True)), _PERSON.mobile.is_not(None)
)
_TABLE = cast(Table, Notification.__table__)
_INSERTS = {
    name: insert(_TABLE).on_conflict_do_nothing(index_elements=["idempotency_key"]).returning(_TABLE.c.idempotency_key)
    for name, insert in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))
}


def _mobiles(session: Session, messages: Sequence[OutgoingMessage]) -> tuple[dict[str, SmsMode], dict[int, str]]:
    """The organisation's SMS choices for these kinds, and the mobile numbers of the people they go to."""
    kinds = {m.template for m in messages if m.template in SMS_TEMPLATES and m.recipient_id is not None}
    if not kinds:
        return {}, {}
    connection = session.connection()
    modes = {row.template: SmsMode(row.mode) for row in connection.execute(_SMS_MODES, {"kinds": sorted(kinds)})}
    people = {m.recipient_id for m in messages if m.template in modes and m.recipient_id is not None}
    if not people:
        return modes, {}
    rows = connection.execute(_MOBILES, {"people": sorted(people)})
    return modes, {row.id: row.mobile for row in rows}


def enqueue_many(session: Session, messages: Sequence[OutgoingMessage], now: dt.datetime) -> int:
    """Queue messages in one statement; rows whose key already exists are left alone. Returns how many
    messages were added (an email and its SMS count once)."""
    if not messages:
        return 0
    modes, mobiles = _mobiles(session, messages)
    rows = []
    for m in messages:
        mobile = mobiles.get(m.recipient_id) if m.recipient_id is not None and m.template in modes else None
        if mobile is None or modes[m.template] is SmsMode.WITH_EMAIL:
            rows.append(_row(m, now))
        if mobile is not None:
            rows.append(_row(m, now, mobile))
    statement = _INSERTS[session.get_bind().dialect.name]
    # Through the connection: thousands of reminders in one sweep need no ORM bookkeeping.
    inserted = session.connection().execute(statement, rows).scalars().all()
    return len({key.removesuffix(SMS_KEY_SUFFIX) for key in inserted})


def enqueue(session: Session, message: OutgoingMessage, now: dt.datetime) -> bool:
    """Queue one message; False when a message with the same key was queued before."""
    return enqueue_many(session, [message], now) == 1
