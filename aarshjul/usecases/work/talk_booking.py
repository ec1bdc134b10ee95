"""The agreed time of a talk: checked when new or changed, and sent to both people as an invitation."""

from __future__ import annotations

import datetime as dt
from typing import cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from aarshjul.db.models import (
    Cycle,
    HumanTask,
    Person,
)
from aarshjul.runtime import Runtime
from aarshjul.usecases.shared.cycles import today_for
from aarshjul.usecases.work.form_context import task_rules
from aarshjul.usecases.work.links import latest_version
from forms.fields import FormProblem, FormRules
from forms.models import (
    TALK_TIME_FIELDS,
    TalkSlot,
    TalkTime,
)
from forms.registry import FormRejected, validate_form_part
from notifications.outbox import OutgoingMessage, enqueue_many


def booked_slot(session: Session, runtime: Runtime, task: HumanTask, rules: FormRules) -> TalkSlot | None:
    """The time the newest version (draft or not) of the record booked, if any."""
    latest = latest_version(session, task.id)
    if latest is None:
        return None
    try:
        when = validate_form_part(TalkTime, latest.data, TALK_TIME_FIELDS, rules)
    except FormRejected:  # a draft from before the time was checked
        return None
    return cast(TalkTime, when).slot(runtime.settings.zone)


def book_talk(
    session: Session, runtime: Runtime, task: HumanTask, when: TalkTime, version: int, now: dt.datetime
) -> bool:
    """A new or changed time of the talk must lie ahead and in the cycle's year; both people get a
    calendar invitation, its SEQUENCE the version that booked it, so a calendar updates the event
    it has (the UID is the task's). An unchanged time is neither checked again (the record is
    submitted after the talk) nor sent again."""
    zone = runtime.settings.zone
    slot = when.slot(zone)
    cycle = session.get(Cycle, task.cycle_id)
    if slot is None or cycle is None:
        return False
    rules = task_rules(session, task, today_for(now, zone))
    if slot == booked_slot(session, runtime, task, rules):
        return False
    problems: list[FormProblem] = []
    local = slot.starts_at.astimezone(zone)
    if local.year != cycle.year:
        problems.append(FormProblem(("talk_on",), "talk_outside_year", {"year": cycle.year}))
    elif slot.starts_at <= now:
        past_day = local.date() < today_for(now, zone)
        problems.append(FormProblem(("talk_on",) if past_day else ("talk_at",), "talk_in_past"))
    if problems:
        raise FormRejected(problems)
    queued = queue_talk_invitations(session, task.id, slot.starts_at, slot.ends_at, slot.place, now, sequence=version)
    return queued > 0


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
