"""The dispatcher: claims due outbox rows, renders them, hands them to the mail backend, records the result.

Claiming is a short transaction of its own: due rows (pending and due, or "sending" whose lease ran
out because their sender died) are taken with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, or inside the
``BEGIN IMMEDIATE`` transaction every SQLite transaction starts with, and stamped with a claim token
and a lease. Sending happens outside any transaction; the result is written only where the claim
token still matches. Each try counts as an attempt when it is claimed, so a message that crashes its
sender every time still reaches the cap and fails instead of looping.

A message can be sent twice only when a sender dies between the provider's answer and the mark; the
idempotency key it carries to the provider makes that second send the same message.

One message never holds up the others: whatever goes wrong while building or sending it (a template
error, an address the mail library cannot take, a backend that raises something unexpected, or
hangs until its time-out) is recorded on that message alone, and the batch goes on. The attempt cap
holds however a try ends, including a sender that died: a row out of attempts ends ``failed`` with
the reason, which HR sees on the board. A batch stops claiming time before its lease runs out and
hands back what it has not tried, so a slow relay never lets a second sender take a row that is
still being sent.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, and_, or_, select, update
from sqlalchemy.orm import Session

from aarshjul.db.engine import is_postgresql, unit_of_work
from aarshjul.db.models import Notification, NotificationAttempt
from aarshjul.domain.addresses import is_deliverable
from aarshjul.domain.enums import NotificationState
from aarshjul.runtime import Runtime
from notifications.backends import (
    MailBackend,
    OutboundEmail,
    PermanentSendError,
    TransientSendError,
    backend_for,
    redirected,
)
from notifications.compose import QueuedMessage, RenderBatch, RenderedEmail, compose

log = logging.getLogger(__name__)

LEASE = dt.timedelta(minutes=10)
MAX_ATTEMPTS = 10
FIRST_RETRY = dt.timedelta(minutes=1)
LONGEST_RETRY = dt.timedelta(hours=6)
DEFAULT_LIMIT = 200
#: A batch tries messages for at most this long after claiming them, well inside the lease.
SENDING_TIME = LEASE / 2


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
    released: int = 0  #: claimed but handed back untried, because the batch ran out of time

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


def fail_exhausted(session: Session, now: dt.datetime) -> int:
    """Rows whose earlier senders died on every try, out of attempts, end as failed."""
    exhausted = list(
        session.scalars(
            select(Notification.id).where(
                Notification.state == NotificationState.SENDING,
                Notification.claimed_until < now,
                Notification.attempts >= MAX_ATTEMPTS,
            )
        )
    )
    if not exhausted:
        return 0
    reason = f"gave up after {MAX_ATTEMPTS} attempts: its sender stopped before recording a result each time"
    session.execute(
        update(Notification)
        .where(Notification.id.in_(exhausted))
        .values(state=NotificationState.FAILED, last_error=reason, claim_token=None, claimed_until=None)
        .execution_options(synchronize_session=False)
    )
    for notification_id in exhausted:
        session.add(
            NotificationAttempt(
                notification_id=notification_id, attempted_at=now, outcome=Outcome.FAILED, detail=reason
            )
        )
    return len(exhausted)


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
    if settings.mail_redirect_to and settings.development:
        email = redirected(email, settings.mail_redirect_to)
    return email


def release(runtime: Runtime, claims: list[_Claimed]) -> int:
    """Hand claimed rows back untried: due again at once, and the claim's attempt not counted."""
    if not claims:
        return 0
    with unit_of_work(runtime.sessions) as session:
        result = _execute_update(
            session,
            update(Notification)
            .where(
                Notification.id.in_([c.message.id for c in claims]),
                Notification.claim_token == claims[0].token,
                Notification.state == NotificationState.SENDING,
            )
            .values(
                state=NotificationState.PENDING,
                claim_token=None,
                claimed_until=None,
                attempts=Notification.attempts - 1,
            )
            .execution_options(synchronize_session=False),
        )
    return int(result.rowcount or 0)


def _failed(
    runtime: Runtime,
    claimed: _Claimed,
    now: dt.datetime,
    error: str,
    rendered: RenderedEmail | None,
    status_code: int | None = None,
) -> str:
    values: dict[str, Any] = {"state": NotificationState.FAILED, "last_error": error, "claim_token": None}
    done = _finish(runtime, claimed, now, Outcome.FAILED, values, rendered, status_code, error)
    return Outcome.FAILED if done else "lost"


def _passing_failure(
    runtime: Runtime,
    claimed: _Claimed,
    now: dt.datetime,
    rendered: RenderedEmail,
    detail: str,
    status_code: int | None = None,
    retry_after: float | None = None,
) -> str:
    """Try again later with backoff, or fail for good once the attempts are used up."""
    if claimed.attempts >= MAX_ATTEMPTS:
        return _failed(
            runtime, claimed, now, f"gave up after {claimed.attempts} attempts: {detail}", rendered, status_code
        )
    values = {
        "state": NotificationState.PENDING,
        "not_before": now + retry_delay(claimed.attempts, retry_after),
        "last_error": detail,
        "claim_token": None,
        "claimed_until": None,
    }
    done = _finish(runtime, claimed, now, Outcome.RETRY, values, rendered, status_code, detail)
    return Outcome.RETRY if done else "lost"


class _NotRendered:
    """``deliver_one`` was not given what rendering came to (None is an answer: nothing to send)."""


NOT_RENDERED = _NotRendered()
#: What rendering a claimed message came to: the email, None (nothing left to send) or the error.
Rendered = RenderedEmail | None | Exception


def render_claimed(runtime: Runtime, claims: list[_Claimed], now: dt.datetime) -> dict[int, Rendered]:
    """Render a batch of claimed messages in one read session, the tasks they name loaded together.

    Whatever one message raises is its answer and no other's (a broad catch on purpose: one
    message's fault must not stop the others); if even loading the batch fails, each message is
    rendered on its own."""
    results: dict[int, Rendered] = {}
    with runtime.sessions() as session:
        batch: RenderBatch | None
        try:
            batch = RenderBatch(session, [c.message for c in claims])
        except Exception as exc:  # noqa: BLE001 - see the docstring
            log.warning("a batch of %d notifications could not be loaded together: %s", len(claims), type(exc).__name__)
            session.rollback()
            batch = None
        for claimed in claims:
            try:
                results[claimed.message.id] = compose(session, claimed.message, runtime.settings, now, batch)
            except Exception as exc:  # noqa: BLE001 - see the docstring
                log.warning("notification %s could not be rendered: %s", claimed.message.id, type(exc).__name__)
                session.rollback()
                results[claimed.message.id] = exc
    return results


def deliver_one(
    runtime: Runtime,
    backend: MailBackend,
    claimed: _Claimed,
    clock: Callable[[], dt.datetime],
    prepared: Rendered | _NotRendered = NOT_RENDERED,
) -> str:
    """Render (unless ``prepared`` holds what rendering came to), send and record one claimed message.
    Returns the outcome, or "lost" if the claim was gone.

    Nothing raised for this message leaves this function: it is recorded on the message (a broad
    catch on purpose, at the one place where one message's fault must not stop the others)."""
    message = claimed.message
    rendered = (
        render_claimed(runtime, [claimed], clock())[message.id] if isinstance(prepared, _NotRendered) else prepared
    )
    if isinstance(rendered, Exception):
        return _failed(
            runtime, claimed, clock(), f"cannot render {message.template}: {type(rendered).__name__}: {rendered}", None
        )
    if rendered is None:
        reason = "nothing left to send: its tasks were reassigned, done or cancelled"
        values: dict[str, Any] = {"state": NotificationState.CANCELLED, "last_error": reason, "claim_token": None}
        done = _finish(runtime, claimed, clock(), Outcome.CANCELLED, values, None, None, reason)
        return Outcome.CANCELLED if done else "lost"

    outbound = _outbound(runtime, message, rendered)
    if not is_deliverable(outbound.to):
        return _failed(runtime, claimed, clock(), f"{outbound.to!r} is not an address mail can be sent to", rendered)
    try:
        delivery = backend.send(outbound)
    except TransientSendError as exc:
        return _passing_failure(runtime, claimed, clock(), rendered, exc.detail, exc.status_code, exc.retry_after)
    except PermanentSendError as exc:
        return _failed(runtime, claimed, clock(), exc.detail, rendered, exc.status_code)
    except Exception as exc:  # noqa: BLE001 - a backend's unforeseen error: retried, within the cap
        log.warning("the %s backend failed on notification %s: %s", backend.name, message.id, type(exc).__name__)
        return _passing_failure(
            runtime, claimed, clock(), rendered, f"{backend.name} failed: {type(exc).__name__}: {exc}"
        )

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


def dispatch_due(
    runtime: Runtime,
    now: dt.datetime | None = None,
    limit: int = DEFAULT_LIMIT,
    backend: MailBackend | None = None,
) -> DispatchReport:
    """Send what is due: one batch of at most ``limit`` messages. Safe to run in several processes at once."""
    clock: Callable[[], dt.datetime] = (lambda: now) if now is not None else runtime.clock
    backend = backend or backend_for(runtime.settings)
    report = DispatchReport()
    with unit_of_work(runtime.sessions) as session:
        moment = clock()
        report.expired = expire(session, moment)
        report.failed += fail_exhausted(session, moment)
        claims, report.reclaimed = claim(session, moment, limit)
    report.claimed = len(claims)
    stop_at = time.monotonic() + SENDING_TIME.total_seconds()
    # Rendered together just before sending: what an email says is read when it goes, not when queued.
    prepared = render_claimed(runtime, claims, clock())
    for index, claimed in enumerate(claims):
        if time.monotonic() >= stop_at:
            report.released = release(runtime, claims[index:])
            break
        outcome = deliver_one(runtime, backend, claimed, clock, prepared[claimed.message.id])
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
