"""Messages this area queues itself: HR's weekly progress summary and the calendar invitation for an
agreed talk. Both take the caller's session, so the rows commit with the caller's change."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from aarshjul.clock import OSLO, local_date
from aarshjul.db.models import Cycle, HumanTask, Person
from aarshjul.domain.enums import CycleState, Role
from notifications.outbox import OutgoingMessage, enqueue_many

WEEKLY_SUMMARY_LIFETIME = dt.timedelta(days=3)
WEEKLY_SUMMARY_HOUR = dt.time(7, 0)


def queue_weekly_summaries(session: Session, now: dt.datetime) -> int:
    """One summary per running cycle per HR person per ISO week; calling it again that week adds nothing."""
    year, week, weekday = local_date(now).isocalendar()
    # Read on Monday morning, not at the first sweep after midnight.
    monday = local_date(now) - dt.timedelta(days=weekday - 1)
    send_from = max(now, dt.datetime.combine(monday, WEEKLY_SUMMARY_HOUR, tzinfo=OSLO).astimezone(dt.UTC))
    rows = session.execute(
        select(Cycle.id, Person.id.label("person_id"), Person.email, Person.language, Person.active_to)
        .join(Person, Person.organisation_id == Cycle.organisation_id)
        .where(Cycle.state == CycleState.RUNNING.value, Person.role == Role.HR.value)
        .order_by(Cycle.id, Person.id)
    ).all()
    today = local_date(now)
    messages = [
        OutgoingMessage(
            idempotency_key=f"weekly_summary:{row.id}:{row.person_id}:{year}-W{week:02d}",
            to_email=row.email,
            language=row.language,
            template="weekly_summary",
            context={"cycle_id": row.id},
            not_before=send_from,
            recipient_id=row.person_id,
            expires_at=send_from + WEEKLY_SUMMARY_LIFETIME,
        )
        for row in rows
        if row.active_to is None or row.active_to >= today
    ]
    return enqueue_many(session, messages, now)


def queue_talk_invitations(
    session: Session,
    task_id: int,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    location: str,
    now: dt.datetime,
    sequence: int | None = None,
) -> int:
    """Both people of a talk get an email with an ICS invitation. A new time is a new message with a
    higher SEQUENCE, so calendars update the event instead of adding a second one.

    ``sequence`` is the booking's own counter (the version of the record that set the time); it is
    part of the key, so going back to an earlier time is sent again. Without it the sequence is
    the minute of ``now`` and the key is the time alone."""
    task = session.get(HumanTask, task_id)
    if task is None or task.subject_person_id is None:
        return 0
    people = session.scalars(select(Person).where(Person.id.in_([task.assignee_id, task.subject_person_id]))).all()
    stamp = starts_at.astimezone(dt.UTC).strftime("%Y%m%dT%H%M")
    if sequence is not None:
        stamp += f"-{ends_at.astimezone(dt.UTC).strftime('%Y%m%dT%H%M')}:s{sequence}"
    else:
        sequence = int(now.timestamp() // 60)
    messages = [
        OutgoingMessage(
            idempotency_key=f"talk_scheduled:{task_id}:{person.id}:{stamp}",
            to_email=person.email,
            language=person.language,
            template="talk_scheduled",
            context={
                "task_id": task_id,
                "starts_at": starts_at.isoformat(),
                "ends_at": ends_at.isoformat(),
                "location": location,
                "sequence": sequence,
            },
            not_before=now,
            recipient_id=person.id,
            expires_at=starts_at,
        )
        for person in people
    ]
    return enqueue_many(session, messages, now)
