"""Drafts and submissions from a task's link, one transaction each.

A draft is checked like a submission except that it need not be complete (a talk's time is checked
in full, because a draft of the record books the talk). A submission is checked against the form and
the task's rules, stored as a new version and projected; after it commits the advance of the task's
unit is triggered without waiting for it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, cast

from aarshjul.db.engine import unit_of_work
from aarshjul.db.models import (
    Submission,
)
from aarshjul.domain.enums import AdvanceReason, FormKey
from aarshjul.runtime import Runtime
from aarshjul.usecases.shared.advances import owe_advance
from aarshjul.usecases.shared.cycles import today_for
from aarshjul.usecases.work.form_context import task_rules
from aarshjul.usecases.work.links import latest_version, writable_task
from aarshjul.usecases.work.recording import Receipt, record_version
from aarshjul.usecases.work.talk_booking import book_talk
from forms.models import (
    TALK_TIME_FIELDS,
    TalkTime,
)
from forms.registry import validate_draft, validate_form, validate_form_part

#: Forms whose submission queues mail itself (a returned measure, a follow-up the employee may read);
#: the advance that follows dispatches only the invitations it queues.
MAILING_FORMS = frozenset({FormKey.MEASURE_APPROVAL, FormKey.TALK_FOLLOW_UP, FormKey.TALK_RECORD})


@dataclass(frozen=True)
class DraftReceipt:
    task_id: int
    version: int
    saved_at: dt.datetime
    invited: bool = False  #: a (new or changed) time of the talk went out as a calendar invitation


def save_draft(runtime: Runtime, token: str, data: dict[str, Any], *, signed_in: int | None = None) -> DraftReceipt:
    """Keep unfinished input as a draft version. It is checked like a submission except that it
    need not be complete (forms.registry.validate_draft), and it changes no state, except the time
    of a talk: a draft of the record books the talk, so that part is checked in full and sent."""
    now = runtime.clock()
    with unit_of_work(runtime.sessions) as session:
        task = writable_task(session, runtime, token, now, signed_in)
        rules = task_rules(session, task, today_for(now, runtime.settings.zone))
        validate_draft(task.form_key, data, rules)
        latest = latest_version(session, task.id)
        if latest is not None and latest.is_draft and latest.data == data:
            return DraftReceipt(task.id, latest.version, latest.created_at)
        version = latest.version + 1 if latest is not None else 1
        invited = False
        if task.form_key == FormKey.TALK_RECORD:
            when = cast(TalkTime, validate_form_part(TalkTime, data, TALK_TIME_FIELDS, rules))
            invited = book_talk(session, runtime, task, when, version, now)
        session.add(
            Submission(
                task_id=task.id,
                version=version,
                is_draft=True,
                data=data,
                submitted_by_id=task.assignee_id,
                created_at=now,
            )
        )
        receipt = DraftReceipt(task.id, version, now, invited)
    if receipt.invited:
        runtime.triggers.dispatch()
    return receipt


def submit_form(runtime: Runtime, token: str, data: Any, *, signed_in: int | None = None) -> Receipt:
    """Check the input against the form and the task's rules, store it as a new version, project it.

    Raises ``FormRejected`` (nothing stored), ``LinkRefused`` (the task no longer takes input) or
    ``SignInNeeded`` (``signed_in``: the person signed in in this browser, as for ``open_task``).
    """
    now = runtime.clock()
    with unit_of_work(runtime.sessions) as session:
        task = writable_task(session, runtime, token, now, signed_in)
        rules = task_rules(session, task, today_for(now, runtime.settings.zone))
        form = validate_form(task.form_key, data, rules)
        receipt = record_version(session, runtime, task, form, task.assignee_id, now)
        cycle_id, unit_id, form_key = task.cycle_id, task.unit_id, task.form_key
        if not receipt.repeated:
            owe_advance(session, cycle_id, unit_id)
    if not receipt.repeated:
        runtime.triggers.advance(cycle_id, unit_id, AdvanceReason.AFTER_SUBMISSION)
        if form_key in MAILING_FORMS:
            runtime.triggers.dispatch()
    return receipt
