"""HR's weekly summary email, queued by the sweep once a week."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from aarshjul.clock import local_date
from aarshjul.db.models import Cycle, Person
from aarshjul.domain.enums import CycleState, Role
from notifications.outbox import OutgoingMessage, enqueue_many

WEEKLY_SUMMARY_LIFETIME = dt.timedelta(days=3)


WEEKLY_SUMMARY_HOUR = dt.time(7, 0)


def queue_weekly_summaries(session: Session, now: dt.datetime, zone: ZoneInfo) -> int:
    """One summary per running cycle per HR person per ISO week of the organisation's ``zone``;
    calling it again that week adds nothing."""
    today = local_date(now, zone)
    year, week, weekday = today.isocalendar()
    # Read on Monday morning at seven where HR works, not at the first sweep after midnight.
    monday = today - dt.timedelta(days=weekday - 1)
    send_from = max(now, dt.datetime.combine(monday, WEEKLY_SUMMARY_HOUR, tzinfo=zone).astimezone(dt.UTC))
    rows = session.execute(
        select(Cycle.id, Person.id.label("person_id"), Person.email, Person.language, Person.active_to)
        .join(Person, Person.organisation_id == Cycle.organisation_id)
        .where(Cycle.state == CycleState.RUNNING, Person.role == Role.HR)
        .order_by(Cycle.id, Person.id)
    ).all()
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
