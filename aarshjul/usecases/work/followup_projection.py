"""What a submitted follow-up makes: the employee is told their leader wrote it."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy.orm import Session

from aarshjul.db.models import HumanTask, Person
from aarshjul.runtime import Runtime
from aarshjul.usecases.shared.cycles import today_for
from aarshjul.usecases.shared.mail import digest, message_to
from aarshjul.usecases.shared.org import Contact
from forms.fields import FormModel
from notifications.outbox import enqueue_many

#: Template of the email that tells the employee their follow-up was written.
RECORDED_TEMPLATE = "follow_up_recorded"


def project_follow_up(
    session: Session, runtime: Runtime, task: HumanTask, form: FormModel, now: dt.datetime
) -> dict[str, Any]:
    """When the leader submits (or amends) a follow-up, the employee gets an email with a link to
    read it: their development, their responsibility. Queued in the submission's transaction."""
    data = form.model_dump(mode="json")
    subject = session.get(Person, task.subject_person_id) if task.subject_person_id is not None else None
    if subject is None or not subject.is_active_on(today_for(now, runtime.settings.zone)):
        return data
    contact = Contact(subject.id, subject.email, subject.language)
    version = digest([json.dumps(data, sort_keys=True, ensure_ascii=False)])
    key = f"{RECORDED_TEMPLATE}:t{task.id}:{version}"
    enqueue_many(session, [message_to(contact, key, RECORDED_TEMPLATE, {"task_id": task.id}, now)], now)
    return data
