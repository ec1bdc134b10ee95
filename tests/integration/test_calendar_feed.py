"""A person's deadlines as a calendar feed: found behind their task link, all-day events with stable UIDs,
parsed back by the icalendar library, ETag and 304, caching headers, and a new address killing the old."""

from __future__ import annotations

import datetime as dt
import re

from fastapi.testclient import TestClient
from icalendar import Calendar
from sqlalchemy import select, update

from aarshjul.db.models import HumanTask, Person
from aarshjul.domain.enums import TaskState
from aarshjul.runtime import Runtime
from aarshjul.signing import TaskLinkClaims, task_token
from aarshjul.usecases.admin.task_admin import extend_deadline
from service.app import create_app
from tests.builders import demo_cycle
from tests.hr_support import csrf_of

LEADER = "ingrid.myrvaag@fjordvik.kommune.no"


def leader_task(runtime: Runtime) -> tuple[HumanTask, str]:
    with runtime.sessions() as session:
        person_id = session.scalars(select(Person.id).where(Person.email == LEADER)).one()
        task = session.scalars(select(HumanTask).where(HumanTask.assignee_id == person_id)).first()
    assert task is not None
    token = task_token(runtime.settings.secret(), TaskLinkClaims(task.id, task.assignee_id, task.link_version))
    return task, token


def feed_path(page: str) -> str:
    found = re.search(r"<code class=\"address\">http://testserver(/calendar/[^<]+\.ics)</code>", page)
    assert found is not None, page
    return found.group(1)


def test_a_person_subscribes_to_their_deadlines_from_a_task_page(runtime: Runtime) -> None:
    demo_cycle(runtime)
    task, token = leader_task(runtime)
    with TestClient(create_app(runtime)) as client:
        task_page = client.get(f"/t/{token}")
        assert f'href="/t/{token}/calendar"' in task_page.text and "Fristene dine i kalenderen din" in task_page.text
        page = client.get(f"/t/{token}/calendar")
        assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
        path = feed_path(page.text)
        assert f'href="webcal://testserver{path}"' in page.text
        feed = client.get(path)
        assert feed.status_code == 200
        assert feed.headers["content-type"] == "text/calendar; charset=utf-8"
        assert feed.headers["cache-control"] == "private, no-cache"
        assert feed.headers["content-disposition"] == 'inline; filename="aarshjul.ics"'
        calendar = Calendar.from_ical(feed.content)
        assert str(calendar["x-wr-calname"]) == "Årshjul: frister for Ingrid Myrvåg"
        [event] = [c for c in calendar.walk("VEVENT")]
        assert str(event["uid"]) == f"task-{task.id}@testserver"
        assert event["dtstart"].dt == task.due_on and event["dtend"].dt == task.due_on + dt.timedelta(days=1)
        assert str(event["summary"]).startswith("Frist: 1. ")
        assert str(event["url"]).startswith("http://testserver/t/")
        # unchanged: 304; a moved deadline moves the same event (same UID), with a new ETag
        etag = feed.headers["etag"]
        assert client.get(path, headers={"If-None-Match": etag}).status_code == 304
        extend_deadline(runtime, new_due=task.due_on + dt.timedelta(days=10), actor="test", task_ids=[task.id])
        moved = client.get(path, headers={"If-None-Match": etag})
        assert moved.status_code == 200 and moved.headers["etag"] != etag
        [event] = Calendar.from_ical(moved.content).walk("VEVENT")
        assert (str(event["uid"]), event["dtstart"].dt) == (
            f"task-{task.id}@testserver",
            task.due_on + dt.timedelta(days=10),
        )
        # a finished task leaves the feed
        with runtime.sessions.begin() as session:
            session.execute(update(HumanTask).where(HumanTask.id == task.id).values(state=TaskState.SUBMITTED))
        assert Calendar.from_ical(client.get(path).content).walk("VEVENT") == []


def test_a_new_address_kills_the_old_one(runtime: Runtime) -> None:
    demo_cycle(runtime)
    _task, token = leader_task(runtime)
    with TestClient(create_app(runtime)) as client:
        page = client.get(f"/t/{token}/calendar?lang=en")
        old = feed_path(page.text)
        assert client.post(f"/t/{token}/calendar", data={"csrf": "forged"}).status_code == 403
        assert client.get(old).status_code == 200
        renewed = client.post(
            f"/t/{token}/calendar?lang=en",
            data={"csrf": csrf_of(page.text.replace('name="csrf"', 'name="csrf_token"'))},
        )
        assert renewed.status_code == 200 and "Your calendar has a new address" in renewed.text
        new = feed_path(renewed.text)
        assert new != old
        assert client.get(old).status_code == 404
        assert client.get(new).status_code == 200
        assert client.get("/calendar/garbage.ics").status_code == 404


def test_a_dead_task_link_opens_no_calendar_page_and_a_leaver_has_no_feed(runtime: Runtime) -> None:
    demo_cycle(runtime)
    task, token = leader_task(runtime)
    with TestClient(create_app(runtime)) as client:
        path = feed_path(client.get(f"/t/{token}/calendar").text)
        assert client.get("/t/not-a-token/calendar").status_code == 404
        with runtime.sessions.begin() as session:
            session.execute(update(Person).where(Person.id == task.assignee_id).values(active_to=dt.date(2026, 12, 31)))
        assert client.get(path).status_code == 404
