"""Emails and SMS the provider refused for good, with what they were about, for HR's board."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

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
    created_at: dt.datetime
    failed_at: dt.datetime | None
    cycle_ids: tuple[int, ...]  #: the cycles the message was about (by its tasks, measure or cycle)
    channel: str = "email"  #: or "sms"
    to_phone: str | None = None


def _ints(value: object) -> list[int]:
    return [int(v) for v in value] if isinstance(value, list | tuple) else []


def _task_ids(context: dict[str, Any]) -> list[int]:
    task_ids = _ints(context.get("task_ids"))
    task_ids += [int(e["task_id"]) for e in context.get("late") or [] if isinstance(e, dict) and "task_id" in e]
    if isinstance(context.get("task_id"), int):
        task_ids.append(context["task_id"])
    return task_ids


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
        .where(Notification.state == NotificationState.FAILED)
        .order_by(Notification.id.desc())
    ).all()
    contexts = {notification.id: dict(notification.context or {}) for notification, _, _ in rows}
    # Two queries for all the messages' tasks and measures, not two per message.
    all_tasks = {t for context in contexts.values() for t in _task_ids(context)}
    all_measures = {m for context in contexts.values() if isinstance(m := context.get("measure_id"), int)}
    task_cycle: dict[int, int] = {
        task: cycle
        for task, cycle in session.execute(select(HumanTask.id, HumanTask.cycle_id).where(HumanTask.id.in_(all_tasks)))
    }
    measure_cycle: dict[int, int] = {
        measure: cycle
        for measure, cycle in session.execute(select(Measure.id, Measure.cycle_id).where(Measure.id.in_(all_measures)))
    }
    result = []
    for notification, name, failed_at in rows:
        context = contexts[notification.id]
        cycles = {task_cycle[t] for t in _task_ids(context) if t in task_cycle}
        if isinstance(context.get("cycle_id"), int):
            cycles.add(context["cycle_id"])
        if context.get("measure_id") in measure_cycle:
            cycles.add(measure_cycle[context["measure_id"]])
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
                created_at=notification.created_at,
                failed_at=failed_at,
                cycle_ids=tuple(sorted(cycles)),
                channel=notification.channel,
                to_phone=notification.to_phone,
            )
        )
    return result
