"""Rendering an SMS at send time: a short text in the recipient's language with each task's link shortened
on our own domain (``/s/{code}``).

Like an email, an SMS is rendered from the database as it is when it is sent: a task reassigned away or
no longer waiting is left out, and an SMS with nothing left is cancelled (``None``). The wording lives
in ``notifications/templates/sms/`` and the emails' catalogue.

A short link stands for one task link (the task, its assignee, its link version) and is made the first
time an SMS needs it, then reused (a reminder carries the invitation's code). Its code is 72 random bits,
so guessing one is hopeless; it leads where the task link leads and dies with it.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from aarshjul.db.models import ShortLink
from aarshjul.presentation.i18n import supported
from aarshjul.presentation.templating import render
from aarshjul.settings import Settings
from notifications.compose import QueuedMessage, RenderBatch, UnknownTemplate, _ids, _Reader, _Task, _waiting_for

SHORT_LINK_PATH = "/s"
#: An SMS lists at most this many tasks, each with its link, and counts the rest.
TASKS_SHOWN = 3


@dataclass(frozen=True)
class RenderedSms:
    text: str


def new_code() -> str:
    return secrets.token_urlsafe(9)  # 12 characters, 72 bits


def short_link(session: Session, task: _Task, now: dt.datetime) -> str:
    """The code of this task link's short link, made now if it has none yet."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(
        insert(ShortLink)
        .values(
            code=new_code(),
            task_id=task.id,
            assignee_id=task.assignee_id,
            link_version=task.link_version,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["task_id", "assignee_id", "link_version"])
    )
    code = session.scalar(
        select(ShortLink.code).where(
            ShortLink.task_id == task.id,
            ShortLink.assignee_id == task.assignee_id,
            ShortLink.link_version == task.link_version,
        )
    )
    if code is None:
        raise LookupError(f"no short link for task {task.id}")
    return code


def _tasks(reader: _Reader, message: QueuedMessage, ids: list[int]) -> list[dict[str, Any]]:
    tasks = [t for t in reader.tasks(ids) if _waiting_for(t, message.recipient_id)]
    return [
        {
            "title": reader.task_title(t),
            "due": reader.date(t.due_on),
            "url": f"{reader.settings.base_url}{SHORT_LINK_PATH}/{short_link(reader.session, t, reader.now)}",
            "about": t.subject_name or t.measure_title or "",
        }
        for t in tasks
    ]


def _task_list(reader: _Reader, message: QueuedMessage) -> dict[str, Any] | None:
    tasks = _tasks(reader, message, _ids(message.context))
    if not tasks:
        return None
    return {"tasks": tasks[:TASKS_SHOWN], "more": max(0, len(tasks) - TASKS_SHOWN), "count": len(tasks)}


def _one_task(reader: _Reader, message: QueuedMessage) -> dict[str, Any] | None:
    tasks = _tasks(reader, message, [int(message.context["task_id"])])
    return {"task": tasks[0]} if tasks else None


def _talk(reader: _Reader, message: QueuedMessage) -> dict[str, Any] | None:
    tasks = reader.tasks([int(message.context["task_id"])])
    if not tasks or tasks[0].state == "cancelled":
        return None
    starts_at = dt.datetime.fromisoformat(message.context["starts_at"])
    return {
        "when": reader.moment(starts_at),
        "location": str(message.context.get("location", "")),
        "leader": tasks[0].assignee_name,
        "employee": tasks[0].subject_name or "",
    }


BUILDERS = {
    "task_invitation": _task_list,
    "task_reminder": _task_list,
    "evaluation_due": _task_list,
    "measure_returned": _one_task,
    "talk_scheduled": _talk,
}


def compose_sms(
    session: Session, message: QueuedMessage, settings: Settings, now: dt.datetime, batch: RenderBatch | None = None
) -> RenderedSms | None:
    """The SMS text as of ``now``; ``None`` when nothing in it is still worth sending. Writes short links
    to ``session``: call it inside a transaction. With ``batch``, what it reads is shared with the other
    messages of the batch."""
    builder = BUILDERS.get(message.template)
    if builder is None:
        raise UnknownTemplate(f"sms/{message.template}")
    language = supported(message.language)
    reader = _Reader(session, settings, now, language, batch)
    view = builder(reader, message)
    if view is None:
        return None
    text = render(f"sms/{message.template}.txt", view, language, settings.zone)
    # One blank line at most, none at the ends: an SMS is paid for by its length.
    return RenderedSms(re.sub(r"\n{2,}", "\n", text).strip())
