"""The personal data export over HTTP on both databases: the same answer for known and unknown
addresses, CSRF and rate limits, the one-time seven-day link (a GET changes nothing, the POST spends
it), refused links that say what to do, and an export that holds the person's own talk notes but not
a colleague's. Also the employee's read-only page of a follow-up about them."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from aarshjul.clock import ManualClock
from aarshjul.db.models import Notification
from aarshjul.runtime import Runtime
from aarshjul.usecases.cycle.sweep import sweep
from aarshjul.usecases.work.opening import open_task
from aarshjul.usecases.work.submitting import submit_form
from notifications.dispatcher import dispatch_due
from service.app import create_app
from tests.builders import demo_cycle, drive_unit, find_tasks, person_id, unit_id, valid_input
from tests.notifications_support import Capture

EIRIK = "eirik.kraakenes@fjordvik.kommune.no"


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def _ask(client: TestClient, email: str) -> Any:
    token = _csrf(client.get("/me/data").text)
    return client.post("/me/data", data={"email": email, "csrf_token": token})


def _mailed_link(runtime: Runtime, path: str) -> str:
    backend = Capture()
    dispatch_due(runtime, backend=backend)
    links = [m for e in backend.sent for m in re.findall(rf"http://testserver({path}/\S+)", e.text)]
    assert links, [e.subject for e in backend.sent]
    return links[-1]


def _talks(runtime: Runtime, clock: ManualClock) -> None:
    """Eirik's and his colleague Frøydis's talks in the HR unit, each with their own words, and a
    follow-up of Eirik's written by their leader."""
    cycle = demo_cycle(runtime)
    unit = unit_id(runtime, "HR")
    people = {"EIRIK": person_id(runtime, "eirik.kraakenes"), "FROYDIS": person_id(runtime, "froydis.nordbo")}
    drive_unit(runtime, cycle, unit, "talk_preparation", subject_id=people["EIRIK"])
    for name, subject in people.items():
        [prepare] = find_tasks(runtime, cycle, "talk_preparation", unit, subject_id=subject)
        data = valid_input(open_task(runtime, prepare.token))
        data["unused_competence"] = f"{name}-UNSHARED-COMPETENCE"
        submit_form(runtime, prepare.token, data)
    for name, subject in people.items():
        [record] = find_tasks(runtime, cycle, "talk_record", unit, subject_id=subject)
        data = valid_input(open_task(runtime, record.token))
        data["feedback"] = f"{name}-FEEDBACK"
        submit_form(runtime, record.token, data)
    follow_up_day = clock().date() + dt.timedelta(days=60)
    sweep(runtime, dt.datetime.combine(follow_up_day, dt.time(8), dt.UTC))
    clock.set(dt.datetime.combine(follow_up_day, dt.time(9), dt.UTC))
    [follow_up] = find_tasks(runtime, cycle, "talk_follow_up", unit, subject_id=people["EIRIK"])
    answer = {
        "plan_progress": "EIRIK-FOLLOW-UP <b>godt</b>",
        "done_since": "To økter",
        "support_needed": "",
        "next_step": "Ny økt",
    }
    submit_form(runtime, follow_up.token, answer)


def test_known_and_unknown_addresses_get_the_same_answer(runtime: Runtime) -> None:
    demo_cycle(runtime)
    client = TestClient(create_app(runtime))
    known = _ask(client, EIRIK.upper())
    unknown = _ask(client, "nobody@fjordvik.kommune.no")
    assert known.status_code == unknown.status_code == 200
    assert known.text == unknown.text
    with runtime.sessions() as session:
        queued = list(session.scalars(select(Notification).where(Notification.template == "personal_data_link")))
    assert [(n.to_email, n.recipient_id) for n in queued] == [(EIRIK, person_id(runtime, "eirik.kraakenes"))]


def test_the_request_needs_a_csrf_token_and_is_rate_limited(runtime: Runtime) -> None:
    demo_cycle(runtime)
    client = TestClient(create_app(runtime))
    client.get("/me/data")
    assert client.post("/me/data", data={"email": EIRIK, "csrf_token": "forged"}).status_code == 403
    assert _ask(client, "no-at-sign").status_code == 422
    answers = [_ask(client, EIRIK).status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]


def test_the_link_gives_one_export_with_my_talk_and_not_my_colleagues(runtime: Runtime, clock: ManualClock) -> None:
    _talks(runtime, clock)
    client = TestClient(create_app(runtime))
    _ask(client, EIRIK)
    link = _mailed_link(runtime, "/me/data")

    page = client.get(link)
    assert page.status_code == 200 and "Eirik Kråkenes" in page.text
    assert client.get(link).status_code == 200  # opening the link changes nothing
    assert client.post(link, data={"csrf_token": "forged"}).status_code == 403

    download = client.post(link, data={"csrf_token": _csrf(page.text)})
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("application/json")
    assert "attachment" in download.headers["content-disposition"]
    export = json.loads(download.text)
    assert export["person"]["email"] == EIRIK
    assert export["contacts"] == {"leader": "Sunniva Kvåle", "hr": ["Geir Høyland"]}
    text = download.text
    # The talk is his: his preparation (also what he did not share), the record and the follow-up.
    for mine in ("EIRIK-UNSHARED-COMPETENCE", "EIRIK-FEEDBACK", "EIRIK-FOLLOW-UP <b>godt</b>"):
        assert mine in text, mine
    forms = {s["form"] for s in export["submissions"]}
    assert {"talk_preparation", "talk_record", "talk_follow_up"} <= forms
    assert any(n["kind"] == "follow_up_recorded" for n in export["notifications"])
    # Nothing of his colleague's talk, nor who she is.
    assert "FROYDIS" not in text and "Frøydis" not in text and "froydis" not in text

    # A link works once.
    assert client.post(link, data={"csrf_token": _csrf(page.text)}).status_code == 410
    used = client.get(link)
    assert used.status_code == 410 and 'href="/me/data"' in used.text


def test_a_leaders_export_leaves_out_what_they_wrote_about_employees(runtime: Runtime, clock: ManualClock) -> None:
    _talks(runtime, clock)
    client = TestClient(create_app(runtime))
    _ask(client, "sunniva.kvaale@fjordvik.kommune.no")
    link = _mailed_link(runtime, "/me/data")
    page = client.get(link)
    export = client.post(link, data={"csrf_token": _csrf(page.text)}).text
    assert '"about_another_person": true' in export
    for theirs in ("EIRIK", "FROYDIS", "Eirik", "Frøydis", "eirik.", "froydis."):
        assert theirs not in export, theirs


@pytest.mark.parametrize("language", ["nb", "en"])
def test_expired_and_tampered_links_say_what_to_do(runtime: Runtime, clock: ManualClock, language: str) -> None:
    demo_cycle(runtime)
    client = TestClient(create_app(runtime), headers={"Accept-Language": language})
    _ask(client, EIRIK)
    link = _mailed_link(runtime, "/me/data")

    tampered = client.get(link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB"))
    assert tampered.status_code == 404 and 'href="/me/data"' in tampered.text
    clock.advance(days=7, seconds=1)
    expired = client.get(link)
    assert expired.status_code == 410 and 'href="/me/data"' in expired.text
    assert ("utløpt" if language == "nb" else "expired") in expired.text
    page_with_button = client.post(link, data={"csrf_token": "x"})
    assert page_with_button.status_code == 403


def test_the_employee_reads_the_follow_up_about_them(runtime: Runtime, clock: ManualClock) -> None:
    _talks(runtime, clock)
    client = TestClient(create_app(runtime))
    link = _mailed_link(runtime, "/me/follow-ups")
    page = client.get(link)
    assert page.status_code == 200
    assert "EIRIK-FOLLOW-UP &lt;b&gt;godt&lt;/b&gt;" in page.text  # escaped
    assert "Delta i kollegaveiledning" in page.text  # the plan agreed in the talk
    assert "Sunniva Kvåle" in page.text
    assert client.get(link[:-2] + "xx").status_code == 404
