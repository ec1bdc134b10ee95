"""What HR sees of the outbox: messages that could not be delivered (a rejected address, a provider
that never recovered), with the reason, so someone can correct the address and resend by hand."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aarshjul.db.models import HumanTask, Measure, Notification, NotificationAttempt, Person
from aarshjul.domain.enums import NotificationState


@dataclass(frozen=True)
class FailedNotification:
    id: int
    to_email: str
    recipient_id: int | None
    recipient_name: str | None
    template: str
    subject: str | None
    last_error: str
    attempts: int
    failed_at: dt.datetime | None
    cycle_ids: tuple[int, ...]  #: the cycles the message was about (by its tasks, measure or cycle)


def _cycles_of(session: Session, context: dict[str, object]) -> set[int]:
    cycles: set[int] = set()
    if isinstance(context.get("cycle_id"), int):
        cycles.add(int(context["cycle_id"]))  # type: ignore[call-overload]
    task_ids = [int(t) for t in context.get("task_ids") or []]  # type: ignore[attr-defined]
    task_ids += [int(e["task_id"]) for e in context.get("late") or [] if "task_id" in e]  # type: ignore[attr-defined]
    if isinstance(context.get("task_id"), int):
        task_ids.append(int(context["task_id"]))  # type: ignore[call-overload]
    if task_ids:
        cycles.update(session.scalars(select(HumanTask.cycle_id).where(HumanTask.id.in_(task_ids))))
    if isinstance(context.get("measure_id"), int):
        cycles.update(session.scalars(select(Measure.cycle_id).where(Measure.id == context["measure_id"])))
    return cycles


def failed_notifications(session: Session, cycle_id: int | None = None) -> list[FailedNotification]:
    """Undeliverable messages, newest first; with ``cycle_id``, only those about that cycle."""
    last_attempt = (
        select(NotificationAttempt.notification_id, func.max(NotificationAttempt.attempted_at).label("at"))
        .group_by(NotificationAttempt.notification_id)
        .subquery()
    )
    rows = session.execute(
        select(Notification, Person.name, last_attempt.c.at)
        .outerjoin(Person, Person.id == Notification.recipient_id)
        .outerjoin(last_attempt, last_attempt.c.notification_id == Notification.id)
        .where(Notification.state == NotificationState.FAILED.value)
        .order_by(Notification.id.desc())
    ).all()
    result = []
    for notification, name, failed_at in rows:
        cycles = _cycles_of(session, dict(notification.context or {}))
        if cycle_id is not None and cycle_id not in cycles:
            continue
        result.append(
            FailedNotification(
                id=notification.id,
                to_email=notification.to_email,
                recipient_id=notification.recipient_id,
                recipient_name=name,
                template=notification.template,
                subject=notification.subject,
                last_error=notification.last_error or "",
                attempts=notification.attempts,
                failed_at=failed_at,
                cycle_ids=tuple(sorted(cycles)),
            )
        )
    return result
