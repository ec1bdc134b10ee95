"""The dispatcher: claims due outbox rows, renders them, hands them to the mail backend, records the result.

Claiming is a short transaction of its own: due rows (pending and due, or "sending" whose lease ran
out because their sender died) are taken with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, or inside the
``BEGIN IMMEDIATE`` transaction every SQLite transaction starts with, and stamped with a claim token
and a lease. Sending happens outside any transaction; the result is written only where the claim
token still matches. Each try counts as an attempt when it is claimed, so a message that crashes its
sender every time still reaches the cap and fails instead of looping.

A message can be sent twice only when a sender dies between the provider's answer and the mark; the
idempotency key it carries to the provider makes that second send the same message.
"""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, cast

from jinja2 import TemplateError
from sqlalchemy import CursorResult, and_, or_, select, update
from sqlalchemy.orm import Session

from aarshjul.db.engine import is_postgresql, unit_of_work
from aarshjul.db.models import Notification, NotificationAttempt
from aarshjul.domain.enums import NotificationChannel, NotificationState
from aarshjul.runtime import Runtime
from notifications.backends import (
    Delivery,
    MailBackend,
    OutboundEmail,
    PermanentSendError,
    TransientSendError,
    backend_for,
    redirected,
)
from notifications.compose import QueuedMessage, RenderedEmail, UnknownTemplate, compose
from notifications.sms import compose_sms
from notifications.sms_backends import OutboundSms, SmsBackend, redirected_sms, sms_backend_for

LEASE = dt.timedelta(minutes=10)
MAX_ATTEMPTS = 10
FIRST_RETRY = dt.timedelta(minutes=1)
LONGEST_RETRY = dt.timedelta(hours=6)
DEFAULT_LIMIT = 200


class Outcome:
    """What one attempt came to, as written in ``NotificationAttempt.outcome``."""

    SENT = "sent"
    RETRY = "retry"  #: a passing failure (429, 5xx, timeout); tried again later
    FAILED = "failed"  #: refused for good, or out of attempts
    CANCELLED = "cancelled"  #: nothing in it was still worth sending
    ABANDONED = "abandoned"  #: its sender stopped before recording a result; the row was reclaimed


@dataclass
class DispatchReport:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    cancelled: int = 0
    expired: int = 0
    reclaimed: int = 0  #: rows whose earlier sender died mid-way
    lost_claims: int = 0  #: results not written because another sender had taken the row over

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class _Claimed:
    message: QueuedMessage
    attempts: int
    token: str


def retry_delay(attempts: int, retry_after: float | None) -> dt.timedelta:
    """Exponential backoff from one minute, capped at six hours; the provider's Retry-After wins."""
    if retry_after is not None:
        return min(dt.timedelta(seconds=max(retry_after, 1.0)), LONGEST_RETRY)
    return min(FIRST_RETRY * 2 ** max(attempts - 1, 0), LONGEST_RETRY)


def _due(now: dt.datetime) -> Any:
    return or_(
        and_(Notification.state == NotificationState.PENDING, Notification.not_before <= now),
        and_(Notification.state == NotificationState.SENDING, Notification.claimed_until < now),
    )


def _execute_update(session: Session, statement: Any) -> CursorResult[Any]:
    return cast(CursorResult[Any], session.execute(statement))


def expire(session: Session, now: dt.datetime) -> int:
    """Rows past their expiry that nobody is sending right now are cancelled."""
    result = _execute_update(
        session,
        update(Notification)
        .where(
            Notification.expires_at <= now,
            or_(
                Notification.state == NotificationState.PENDING,
                and_(Notification.state == NotificationState.SENDING, Notification.claimed_until < now),
            ),
        )
        .values(state=NotificationState.CANCELLED, last_error="expired before it could be sent", claim_token=None)
        .execution_options(synchronize_session=False),
    )
    return int(result.rowcount or 0)


def claim(session: Session, now: dt.datetime, limit: int) -> tuple[list[_Claimed], int]:
    """Take up to ``limit`` due rows for this sender. Returns the claims and how many were reclaimed."""
    token = uuid.uuid4().hex
    query = (
        select(Notification.id, Notification.state)
        .where(_due(now))
        .order_by(Notification.not_before, Notification.id)
        .limit(limit)
    )
    if is_postgresql(session.get_bind()):  # type: ignore[arg-type]
        query = query.with_for_update(skip_locked=True, of=Notification)
    rows = session.execute(query).all()
    if not rows:
        return [], 0
    ids = [row.id for row in rows]
    abandoned = [row.id for row in rows if row.state == NotificationState.SENDING]
    session.execute(
        update(Notification)
        .where(Notification.id.in_(ids), _due(now))
        .values(
            state=NotificationState.SENDING,
            claim_token=token,
            claimed_until=now + LEASE,
            attempts=Notification.attempts + 1,
        )
        .execution_options(synchronize_session=False)
    )
    for notification_id in abandoned:
        session.add(
            NotificationAttempt(
                notification_id=notification_id,
                attempted_at=now,
                outcome=Outcome.ABANDONED,
                detail="the previous sender stopped before recording a result",
            )
        )
    claimed = session.execute(
        select(
            Notification.id,
            Notification.idempotency_key,
            Notification.recipient_id,
            Notification.to_email,
            Notification.language,
            Notification.template,
            Notification.context,
            Notification.attempts,
            Notification.channel,
            Notification.to_phone,
            Notification.created_at,
        )
        .where(Notification.claim_token == token)
        .order_by(Notification.not_before, Notification.id)
    ).all()
    return [
        _Claimed(
            QueuedMessage(
                id=row.id,
                idempotency_key=row.idempotency_key,
                recipient_id=row.recipient_id,
                to_email=row.to_email,
                language=row.language,
                template=row.template,
                context=dict(row.context or {}),
                channel=row.channel,
                to_phone=row.to_phone,
                created_at=row.created_at,
            ),
            row.attempts,
            token,
        )
        for row in claimed
    ], len(abandoned)


def _finish(
    runtime: Runtime,
    claimed: _Claimed,
    now: dt.datetime,
    outcome: str,
    values: dict[str, Any],
    rendered: RenderedEmail | None,
    status_code: int | None = None,
    detail: str = "",
) -> bool:
    """Write the result where this sender still holds the claim; False when it had lost it."""
    if rendered is not None:
        values = {
            **values,
            "subject": rendered.subject,
            "body_text": rendered.text,
            "body_html": rendered.html,
            "attachments": [
                {
                    "filename": a.filename,
                    "content_type": a.content_type,
                    "content_base64": base64.b64encode(a.content).decode(),
                }
                for a in rendered.attachments
            ]
            or None,
        }
    with unit_of_work(runtime.sessions) as session:
        result = _execute_update(
            session,
            update(Notification)
            .where(
                Notification.id == claimed.message.id,
                Notification.claim_token == claimed.token,
                Notification.state == NotificationState.SENDING,
            )
            .values(**values)
            .execution_options(synchronize_session=False),
        )
        if not result.rowcount:
            return False
        session.add(
            NotificationAttempt(
                notification_id=claimed.message.id,
                attempted_at=now,
                outcome=outcome,
                status_code=status_code,
                detail=detail[:2000],
            )
        )
    return True


def _outbound(runtime: Runtime, message: QueuedMessage, rendered: RenderedEmail) -> OutboundEmail:
    settings = runtime.settings
    email = OutboundEmail(
        idempotency_key=message.idempotency_key,
        from_address=settings.mail_from,
        to=message.to_email,
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        attachments=rendered.attachments,
    )
    if settings.mail_redirect_to and settings.environment != "production":
        email = redirected(email, settings.mail_redirect_to)
    return email


def deliver_one(runtime: Runtime, backend: MailBackend, claimed: _Claimed, clock: Callable[[], dt.datetime]) -> str:
    """Render, send and record one claimed message. Returns the outcome, or "lost" if the claim was gone."""
    message = claimed.message
    settings = runtime.settings
    rendered: RenderedEmail | None
    try:
        with runtime.sessions() as session:
            rendered = compose(session, message, settings, clock())
    except (UnknownTemplate, TemplateError, LookupError, ValueError, TypeError) as exc:
        error = f"cannot render {message.template}: {type(exc).__name__}: {exc}"
        values: dict[str, Any] = {"state": NotificationState.FAILED, "last_error": error, "claim_token": None}
        return (
            Outcome.FAILED if _finish(runtime, claimed, clock(), Outcome.FAILED, values, None, None, error) else "lost"
        )
    if rendered is None:
        reason = "nothing left to send: its tasks were reassigned, done or cancelled"
        values = {"state": NotificationState.CANCELLED, "last_error": reason, "claim_token": None}
        done = _finish(runtime, claimed, clock(), Outcome.CANCELLED, values, None, None, reason)
        return Outcome.CANCELLED if done else "lost"

    try:
        delivery = backend.send(_outbound(runtime, message, rendered))
    except TransientSendError as exc:
        now = clock()
        if claimed.attempts >= MAX_ATTEMPTS:
            error = f"gave up after {claimed.attempts} attempts: {exc.detail}"
            values = {"state": NotificationState.FAILED, "last_error": error, "claim_token": None}
            done = _finish(runtime, claimed, now, Outcome.FAILED, values, rendered, exc.status_code, exc.detail)
            return Outcome.FAILED if done else "lost"
        values = {
            "state": NotificationState.PENDING,
            "not_before": now + retry_delay(claimed.attempts, exc.retry_after),
            "last_error": exc.detail,
            "claim_token": None,
            "claimed_until": None,
        }
        done = _finish(runtime, claimed, now, Outcome.RETRY, values, rendered, exc.status_code, exc.detail)
        return Outcome.RETRY if done else "lost"
    except PermanentSendError as exc:
        values = {"state": NotificationState.FAILED, "last_error": exc.detail, "claim_token": None}
        done = _finish(runtime, claimed, clock(), Outcome.FAILED, values, rendered, exc.status_code, exc.detail)
        return Outcome.FAILED if done else "lost"

    now = clock()
    values = {
        "state": NotificationState.SENT,
        "sent_at": now,
        "provider_message_id": delivery.provider_message_id,
        "last_error": None,
        "claim_token": None,
        "claimed_until": None,
    }
    done = _finish(runtime, claimed, now, Outcome.SENT, values, rendered, delivery.status_code, backend.name)
    return Outcome.SENT if done else "lost"


def _settle(
    runtime: Runtime,
    claimed: _Claimed,
    clock: Callable[[], dt.datetime],
    attempt: Callable[[], Delivery],
    kept: dict[str, Any],
) -> str:
    """Make one attempt and record how it went, as ``deliver_one`` does for an email; ``kept`` is written
    with every outcome (the rendered text)."""
    try:
        delivery = attempt()
    except TransientSendError as exc:
        now = clock()
        if claimed.attempts >= MAX_ATTEMPTS:
            error = f"gave up after {claimed.attempts} attempts: {exc.detail}"
            values = {**kept, "state": NotificationState.FAILED, "last_error": error, "claim_token": None}
            return _finished(
                _finish(runtime, claimed, now, Outcome.FAILED, values, None, exc.status_code, exc.detail),
                Outcome.FAILED,
            )
        values = {
            **kept,
            "state": NotificationState.PENDING,
            "not_before": now + retry_delay(claimed.attempts, exc.retry_after),
            "last_error": exc.detail,
            "claim_token": None,
            "claimed_until": None,
        }
        return _finished(
            _finish(runtime, claimed, now, Outcome.RETRY, values, None, exc.status_code, exc.detail), Outcome.RETRY
        )
    except PermanentSendError as exc:
        values = {**kept, "state": NotificationState.FAILED, "last_error": exc.detail, "claim_token": None}
        done = _finish(runtime, claimed, clock(), Outcome.FAILED, values, None, exc.status_code, exc.detail)
        return _finished(done, Outcome.FAILED)
    now = clock()
    values = {
        **kept,
        "state": NotificationState.SENT,
        "sent_at": now,
        "provider_message_id": delivery.provider_message_id,
        "last_error": None,
        "claim_token": None,
        "claimed_until": None,
    }
    return _finished(_finish(runtime, claimed, now, Outcome.SENT, values, None, delivery.status_code), Outcome.SENT)


def _finished(done: bool, outcome: str) -> str:
    return outcome if done else "lost"


def deliver_sms(runtime: Runtime, backend: SmsBackend, claimed: _Claimed, clock: Callable[[], dt.datetime]) -> str:
    """Render, send and record one claimed SMS, with the same retries and failures as an email."""
    message = claimed.message
    settings = runtime.settings
    try:
        with unit_of_work(runtime.sessions) as session:  # the text's short links are written as it renders
            sms = compose_sms(session, message, settings, clock())
    except (UnknownTemplate, TemplateError, LookupError, ValueError, TypeError) as exc:
        error = f"cannot render sms/{message.template}: {type(exc).__name__}: {exc}"
        values: dict[str, Any] = {"state": NotificationState.FAILED, "last_error": error, "claim_token": None}
        return _finished(_finish(runtime, claimed, clock(), Outcome.FAILED, values, None, None, error), Outcome.FAILED)
    if sms is None:
        reason = "nothing left to send: its tasks were reassigned, done or cancelled"
        values = {"state": NotificationState.CANCELLED, "last_error": reason, "claim_token": None}
        return _finished(
            _finish(runtime, claimed, clock(), Outcome.CANCELLED, values, None, None, reason), Outcome.CANCELLED
        )
    outbound = OutboundSms(
        idempotency_key=message.idempotency_key,
        to=message.to_phone or "",
        text=sms.text,
        first_tried_at=message.created_at if claimed.attempts > 1 else None,
    )
    if settings.sms_redirect_to and settings.environment != "production":
        outbound = redirected_sms(outbound, settings.sms_redirect_to)
    return _settle(runtime, claimed, clock, lambda: backend.send(outbound), {"body_text": outbound.text})


def dispatch_due(
    runtime: Runtime,
    now: dt.datetime | None = None,
    limit: int = DEFAULT_LIMIT,
    backend: MailBackend | None = None,
    sms_backend: SmsBackend | None = None,
) -> DispatchReport:
    """Send what is due: one batch of at most ``limit`` messages. Safe to run in several processes at once."""
    clock: Callable[[], dt.datetime] = (lambda: now) if now is not None else runtime.clock
    backend = backend or backend_for(runtime.settings)
    sms = sms_backend or sms_backend_for(runtime.settings)
    report = DispatchReport()
    with unit_of_work(runtime.sessions) as session:
        moment = clock()
        report.expired = expire(session, moment)
        claims, report.reclaimed = claim(session, moment, limit)
    report.claimed = len(claims)
    for claimed in claims:
        if claimed.message.channel == NotificationChannel.SMS:
            outcome = deliver_sms(runtime, sms, claimed, clock)
        else:
            outcome = deliver_one(runtime, backend, claimed, clock)
        if outcome == Outcome.SENT:
            report.sent += 1
        elif outcome == Outcome.RETRY:
            report.retried += 1
        elif outcome == Outcome.FAILED:
            report.failed += 1
        elif outcome == Outcome.CANCELLED:
            report.cancelled += 1
        else:
            report.lost_claims += 1
    return report
