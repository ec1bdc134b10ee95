"""A person's own open tasks and their deadlines as a calendar to subscribe to (iCalendar, RFC 5545).

Calendar programs cannot sign in, so the feed's address is the credential: ``/calendar/{token}.ics``,
a signed token of the person and their ``calendar_version`` (``aarshjul.signing``). A person finds it,
and asks for a new one (which kills the old), on a small page behind any of their task links
(``/t/{token}/calendar``, linked from every task page): whoever holds a task link is that task's person.

Each deadline is an all-day event (Outlook and others ignore iCalendar to-do items in subscribed calendars) with a UID
that stays the same for the task, so a moved deadline moves the event and a finished task's event goes
away at the next refresh. The document depends only on the tasks (DTSTAMP is when the task was made), so
its ETag changes only when something in it does.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from urllib.parse import urlsplit

from icalendar import Calendar, Event, vDuration
from sqlalchemy import select
from sqlalchemy.orm import Session

from aarshjul.db.engine import unit_of_work
from aarshjul.db.models import HumanTask, Person
from aarshjul.domain.enums import ACTIONABLE_TASK_STATES
from aarshjul.domain.errors import DomainError
from aarshjul.presentation.i18n import gettext, supported
from aarshjul.runtime import Runtime
from aarshjul.signing import BadToken, CalendarClaims, calendar_url, read_calendar_token
from aarshjul.usecases.shared.cycles import today_for
from aarshjul.usecases.shared.writes import audit
from aarshjul.usecases.work.links import mode_of, task_by_link
from notifications.compose import TaskReader

#: How often a subscribed calendar should ask again (RFC 7986 REFRESH-INTERVAL; Outlook reads X-PUBLISHED-TTL).
REFRESH = dt.timedelta(hours=1)


class FeedNotFound(DomainError):
    """No feed at this address: not ours, replaced by a newer one, or its person has left."""


@dataclass(frozen=True)
class CalendarFeed:
    body: bytes
    etag: str


@dataclass(frozen=True)
class CalendarAddress:
    url: str  #: https://…/calendar/….ics
    webcal_url: str  #: the same address as webcal://, which opens the calendar program to subscribe
    person_name: str
    open_tasks: int


def _address(runtime: Runtime, person: Person, open_tasks: int) -> CalendarAddress:
    url = calendar_url(
        runtime.settings.base_url, runtime.settings.secret(), CalendarClaims(person.id, person.calendar_version)
    )
    return CalendarAddress(url, "webcal://" + url.split("://", 1)[1], person.name, open_tasks)


def _open_task_ids(session: Session, person_id: int) -> list[int]:
    return list(
        session.scalars(
            select(HumanTask.id).where(HumanTask.assignee_id == person_id, HumanTask.state.in_(ACTIONABLE_TASK_STATES))
        )
    )


def _person_of_link(session: Session, runtime: Runtime, task_token: str, lock: bool = False) -> Person:
    # No one signed in here: where talk forms need sign-in, their links do not lead to the calendar.
    task, cycle = task_by_link(session, runtime, task_token, None)
    mode_of(session, runtime, task, cycle, runtime.clock())  # a cancelled or expired link opens no page either
    person = session.get(Person, task.assignee_id, with_for_update=lock)
    if person is None:
        raise LookupError(f"task {task.id} has no assignee")
    return person


def calendar_address(runtime: Runtime, task_token: str) -> CalendarAddress:
    """The feed address of the person a task link belongs to (``LinkRefused`` as for the task page)."""
    with runtime.sessions() as session:
        person = _person_of_link(session, runtime, task_token)
        return _address(runtime, person, len(_open_task_ids(session, person.id)))


def new_calendar_address(runtime: Runtime, task_token: str) -> CalendarAddress:
    """A new feed address for the person; every earlier address stops working."""
    now = runtime.clock()
    with unit_of_work(runtime.sessions) as session:
        person = _person_of_link(session, runtime, task_token, lock=True)
        before = person.calendar_version
        person.calendar_version = before + 1
        audit(
            session,
            now,
            f"person:{person.id}",
            "calendar.new_address",
            "person",
            person.id,
            {"version": before},
            {"version": person.calendar_version},
        )
        return _address(runtime, person, len(_open_task_ids(session, person.id)))


def calendar_feed(runtime: Runtime, token: str) -> CalendarFeed:
    """The feed at a calendar address, as of now."""
    try:
        claims = read_calendar_token(runtime.settings.secret(), token)
    except BadToken as exc:
        raise FeedNotFound("not a calendar address") from exc
    now = runtime.clock()
    settings = runtime.settings
    with runtime.sessions() as session:
        person = session.get(Person, claims.person_id)
        if person is None or person.calendar_version != claims.version:
            raise FeedNotFound("no such calendar")
        if not person.is_active_on(today_for(now, settings.zone)):
            raise FeedNotFound("the person has left")
        language = supported(person.language)
        reader = TaskReader(session, settings, now, language)
        ids = _open_task_ids(session, person.id)
        created = dict(session.execute(select(HumanTask.id, HumanTask.created_at).where(HumanTask.id.in_(ids))).all())
        calendar = Calendar()
        calendar.add("prodid", "-//Aarshjul//Calendar feed//NB")
        calendar.add("version", "2.0")
        calendar.add("calscale", "GREGORIAN")
        calendar.add("method", "PUBLISH")
        name = gettext(language, "Årshjul: deadlines for {name}").format(name=person.name)
        calendar.add("name", name)
        calendar.add("x-wr-calname", name)
        calendar.add("x-wr-timezone", settings.time_zone)
        calendar.add("refresh-interval", vDuration(REFRESH), parameters={"VALUE": "DURATION"})
        calendar.add("x-published-ttl", "PT1H")
        host = urlsplit(settings.base_url).hostname or "aarshjul"
        for task in reader.tasks(ids):
            line = reader.task_line(task, with_link=True)
            event = Event()
            event.add("uid", f"task-{task.id}@{host}")
            event.add("dtstamp", created[task.id])
            event.add("dtstart", task.due_on)
            event.add("dtend", task.due_on + dt.timedelta(days=1))
            event.add("summary", gettext(language, "Deadline: {title}").format(title=line["title"]))
            about = f" ({line['about']})" if line["about"] else ""
            event.add("description", f"{line['unit']}{about}\n{line['url']}")
            event.add("url", line["url"])
            event.add("transp", "TRANSPARENT")  # a deadline takes no time in the day
            calendar.add_component(event)
        body = calendar.to_ical()
    return CalendarFeed(body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')
