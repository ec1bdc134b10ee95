"""Review of the draft competence plan by union representatives, over HTTP on both databases: HR
invites by name and email, the emailed link opens the plan as it stands (no talk data, no names but
units'), a GET changes nothing, comments are appended and escaped everywhere, and a tampered, expired
or withdrawn link shows a page that says so."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from aarshjul.clock import ManualClock
from aarshjul.db.models import AuditEvent, Notification, PlanComment, PlanReviewer
from aarshjul.runtime import Runtime
from notifications.dispatcher import dispatch_due
from service.app import create_app
from tests.builders import demo_cycle, drive_unit, unit_id
from tests.hr_support import HrClients, csrf_of, hr_clients, sign_in
from tests.notifications_support import Capture

MEASURE = "Kollegaveiledning i digitale verktøy"  #: the measure the builders propose and approve
TALK_TEXTS = ("Jeg kan litt programmering", "Lære mer om sakssystemet")  #: from the talk preparations
LEADER_NAME = "Brit Aasen"  #: leads Helse og omsorg
COMMENT = '<script>alert("x")</script> Tillitsvalgte bør være med – æøå ÆØÅ'


@dataclass
class Setting:
    runtime: Runtime
    hr: HrClients
    csrf: str  #: HR's session CSRF token
    reviewer: TestClient  #: a browser without an HR session


@pytest.fixture(name="setting")
def setting_fixture(runtime: Runtime) -> Iterator[Setting]:
    """The demo cycle with Helse og omsorg's measure approved and its talks prepared."""
    cycle_id = demo_cycle(runtime)
    drive_unit(runtime, cycle_id, unit_id(runtime, "HEL"), "talk_record")
    with hr_clients(runtime) as hr, TestClient(create_app(runtime), raise_server_exceptions=False) as reviewer:
        yield Setting(runtime, hr, sign_in(hr.client), reviewer)


def _invite(s: Setting, name: str, email: str, language: str = "nb") -> str:
    """Invite through HR's form; returns the path of the link in the email."""
    response = s.hr.client.post(
        "/plan/reviewers",
        data={"name": name, "email": email, "language": language, "csrf_token": s.csrf},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    backend = Capture()
    dispatch_due(s.runtime, backend=backend)
    (email_sent,) = [m for m in backend.sent if m.to == email.lower()]
    found = re.search(r"http://testserver(/plan-review/\S+)", email_sent.text)
    assert found, email_sent.text
    assert f'href="http://testserver{found.group(1)}"' in email_sent.html
    assert name in email_sent.text
    return found.group(1)


def _counts(runtime: Runtime) -> tuple[int, ...]:
    with runtime.sessions() as session:
        return tuple(
            session.scalar(select(func.count()).select_from(table)) or 0
            for table in (PlanComment, PlanReviewer, AuditEvent, Notification)
        )


def _measure_id(page: str) -> str:
    found = re.search(r'<option value="(measure:\d+)"', page)
    assert found, page
    return found.group(1)


def test_invite_read_comment_and_hr_sees_it_escaped(setting: Setting) -> None:
    s = setting
    path = _invite(s, "Tove Tillitsvalgt", "Tove@Fagforbundet.example")
    with s.runtime.sessions() as session:
        invited = session.scalars(select(AuditEvent).where(AuditEvent.action == "plan_review.invite")).one()
    assert invited.after is not None and invited.after["email"] == "tove@fagforbundet.example"

    before = _counts(s.runtime)
    page = s.reviewer.get(path)
    s.reviewer.get(path + "?lang=en")
    assert _counts(s.runtime) == before  # opening the link changes nothing
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert "Utkast til kompetanseplan" in page.text and "Hei Tove Tillitsvalgt" in page.text
    assert MEASURE in page.text and "Helse og omsorg" in page.text
    for private in (*TALK_TEXTS, LEADER_NAME):
        assert private not in page.text
    assert "<script" not in page.text
    english = s.reviewer.get(path + "?lang=en").text
    assert "Draft competence plan" in english and "Send comment" in english

    token = csrf_of(page.text)
    measure = _measure_id(page.text)
    forged = s.reviewer.post(path, data={"body": "hei", "target": ""}, follow_redirects=False)
    assert forged.status_code == 403
    empty = s.reviewer.post(path, data={"body": "  ", "target": measure, "csrf_token": token})
    assert empty.status_code == 422 and "Skriv en kommentar" in empty.text
    too_long = s.reviewer.post(path, data={"body": "x" * 4001, "target": "", "csrf_token": token})
    assert too_long.status_code == 422 and "x" * 4001 in too_long.text  # the input is kept
    foreign = s.reviewer.post(path, data={"body": "hei", "target": "measure:99999", "csrf_token": token})
    assert foreign.status_code == 422
    assert _counts(s.runtime) == before

    sent = s.reviewer.post(
        path + "?lang=nb", data={"body": COMMENT, "target": measure, "csrf_token": token}, follow_redirects=False
    )
    assert sent.status_code == 303 and "saved=1" in sent.headers["location"]
    s.reviewer.post(path, data={"body": "Planen som helhet er god.", "target": "", "csrf_token": token})
    mine = s.reviewer.get(sent.headers["location"]).text
    assert "Kommentaren din er lagret" in mine
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; Tillitsvalgte bør være med – æøå ÆØÅ" in mine
    assert "<script>" not in mine

    plan_page = s.hr.client.get("/plan").text
    assert "Tove Tillitsvalgt" in plan_page and "tove@fagforbundet.example" in plan_page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in plan_page and "<script>" not in plan_page
    assert plan_page.index("Planen som helhet er god.") < plan_page.index("&lt;script&gt;")  # newest first
    comments = s.hr.client.get("/api/plan", headers=s.hr.api()).json()["comments"]
    assert [c["body"] for c in comments] == ["Planen som helhet er god.", COMMENT]
    assert comments[1]["reviewer_name"] == "Tove Tillitsvalgt" and comments[1]["target_title"] == MEASURE
    assert comments[1]["measure_id"] == int(measure.split(":")[1]) and comments[1]["created_at"]


def test_a_tampered_expired_or_withdrawn_link_shows_a_clear_page(setting: Setting, clock: ManualClock) -> None:
    s = setting
    path = _invite(s, "Ola Verneombud", "ola@example.no", language="en")
    token = csrf_of(s.reviewer.get(path).text)

    tampered = s.reviewer.get(path[:-2] + ("AA" if not path.endswith("AA") else "BB"))
    assert tampered.status_code == 404 and "Denne lenken virker ikke" in tampered.text
    assert s.reviewer.get("/plan-review/1.2.3").status_code == 404

    with s.runtime.sessions() as session:
        reviewer_id = session.scalars(select(PlanReviewer.id).where(PlanReviewer.email == "ola@example.no")).one()
    anonymous = TestClient(create_app(s.runtime), raise_server_exceptions=False)
    assert anonymous.post(f"/plan/reviewers/{reviewer_id}/remove", follow_redirects=False).status_code == 401
    no_csrf = s.hr.client.post(f"/plan/reviewers/{reviewer_id}/remove", follow_redirects=False)
    assert no_csrf.status_code == 403
    removed = s.hr.client.post(
        f"/plan/reviewers/{reviewer_id}/remove", data={"csrf_token": s.csrf}, follow_redirects=False
    )
    assert removed.status_code == 303
    withdrawn = s.reviewer.get(path + "?lang=en")
    assert withdrawn.status_code == 410 and "This link has been withdrawn" in withdrawn.text
    late_post = s.reviewer.post(path, data={"body": "hei", "target": "", "csrf_token": token})
    assert late_post.status_code == 410
    with s.runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(PlanComment)) == 0
        actions = set(session.scalars(select(AuditEvent.action).where(AuditEvent.action.startswith("plan_review."))))
    assert actions == {"plan_review.invite", "plan_review.remove"}
    assert "Ola Verneombud" not in s.hr.client.get("/plan").text  # no longer listed as a reviewer

    second = _invite(s, "Kari Hovedtillitsvalgt", "kari@example.no")
    assert s.reviewer.get(second).status_code == 200
    clock.set(clock() + dt.timedelta(days=61))
    expired = s.reviewer.get(second)
    assert expired.status_code == 410 and "Denne lenken er utløpt" in expired.text


def test_hr_forms_refuse_bad_input_and_a_second_invitation_to_the_same_address(setting: Setting) -> None:
    s = setting
    bad = s.hr.client.post(
        "/plan/reviewers", data={"name": "Per", "email": "not-an-address", "language": "nb", "csrf_token": s.csrf}
    )
    assert bad.status_code == 422 and "Skriv en gyldig e-postadresse." in bad.text and 'value="Per"' in bad.text
    _invite(s, "Per Tillitsvalgt", "per@example.no")
    again = s.hr.client.post(
        "/plan/reviewers",
        data={"name": "Per Tillitsvalgt", "email": "per@example.no", "language": "nb", "csrf_token": s.csrf},
    )
    assert again.status_code == 409
    leader = s.hr.client.post(
        "/plan/reviewers",
        data={"name": "X", "email": "x@example.no", "language": "nb"},
        headers=s.hr.api(s.hr.leader_token),
    )
    assert leader.status_code == 403


@pytest.mark.parametrize("address", ["kari.example.no", "kari@fjordvik", "kari @fjordvik.no", "<kari@fjordvik.no>"])
def test_an_invitation_to_a_malformed_address_is_refused(runtime: Runtime, address: str) -> None:
    from aarshjul.domain.errors import InvalidInput
    from aarshjul.usecases.admin.org_import import seed_demo
    from aarshjul.usecases.planning.review import invite_reviewer

    seed_demo(runtime)
    with pytest.raises(InvalidInput) as refused:
        invite_reviewer(runtime, "Kåre Tillitsvalgt", address, "nb", actor="test")
    assert refused.value.field == "email"
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(PlanReviewer)) == 0
