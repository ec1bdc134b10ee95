"""Single sign-on: who a provider's account is here, what they may open, and what is refused.

The matching and the talk forms' sign-in rule are tested on the use cases (both databases, no
provider); the flow over HTTP runs against a real OpenID Provider (panva/oidc-provider with node,
``tests/oidc_support.py``): HR and an employee sign in, a talk form goes through sign-in and back, and
a wrong audience, an expired ID token, another nonce, a wrong state and a missing transaction cookie
are each refused with a 400 page, a token never in the logs."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select, update

from aarshjul.db.models import Person, PersonIdentity
from aarshjul.domain.enums import Role
from aarshjul.domain.errors import Conflict, Forbidden
from aarshjul.runtime import Runtime
from aarshjul.settings import ConfigurationError
from aarshjul.usecases.admin.hr_access import person_for_session, principal_for_session, sign_in
from aarshjul.usecases.admin.single_sign_on import (
    ProviderIdentity,
    SsoRefusal,
    SsoRefused,
    set_talk_forms_sign_in,
    sign_in_with_provider,
)
from aarshjul.usecases.work.links import SignInNeeded
from aarshjul.usecases.work.my_tasks import my_tasks
from aarshjul.usecases.work.opening import open_task
from service.app import create_app
from tests.builders import TaskRef, demo_cycle, drive_unit, submit_valid, unit_id
from tests.hr_support import HR_EMAIL, LEADER_EMAIL
from tests.oidc_support import HR_GROUP, OpenIdProvider, running_provider, sign_on, through_provider

ISSUER = "https://login.example.test/tenant/v2.0"


def _identity(
    subject: str, email: str | None, groups: tuple[str, ...] = (), verified: bool | None = None
) -> ProviderIdentity:
    return ProviderIdentity(ISSUER, subject, email, verified, frozenset(groups))


def _sso(runtime: Runtime, hr_group: str | None = HR_GROUP) -> Runtime:
    runtime.settings = runtime.settings.model_copy(
        update={
            "oidc_issuer": ISSUER,
            "oidc_client_id": "c",
            "oidc_client_secret": SecretStr("s"),
            "oidc_hr_group": hr_group,
        }
    )
    return runtime


def _person(runtime: Runtime, email: str) -> Person:
    with runtime.sessions() as session:
        person = session.scalars(select(Person).where(Person.email == email)).one()
        session.expunge(person)
        return person


def _grant(runtime: Runtime, identity: ProviderIdentity) -> tuple[int, bool]:
    result = sign_in_with_provider(runtime, identity)
    assert result.principal is not None
    with runtime.sessions() as session:
        found = person_for_session(
            session, result.principal.person_id, result.session_id, runtime.clock(), _today(runtime)
        )
        hr_only = principal_for_session(
            session, result.principal.person_id, result.session_id, runtime.clock(), _today(runtime)
        )
    assert found is not None and found.principal.via == "oidc"
    assert (hr_only is not None) == found.principal.is_hr == result.principal.is_hr
    return result.principal.person_id, found.principal.is_hr


def _today(runtime: Runtime) -> dt.date:
    return runtime.clock().astimezone(runtime.settings.zone).date()


# --- matching --------------------------------------------------------------------------------------


def test_the_first_sign_in_matches_by_email_and_later_ones_by_the_subject(runtime: Runtime) -> None:
    demo_cycle(_sso(runtime))
    leader = _person(runtime, LEADER_EMAIL)
    person_id, is_hr = _grant(runtime, _identity("sub-leader", "  Brit.Aasen@Fjordvik.Kommune.NO "))
    assert (person_id, is_hr) == (leader.id, False)
    with runtime.sessions() as session:
        link = session.scalars(select(PersonIdentity)).one()
    assert (link.person_id, link.issuer, link.subject) == (leader.id, ISSUER, "sub-leader")
    # Renamed at the provider (or in our data): the subject still finds them, whatever the address says.
    assert _grant(runtime, _identity("sub-leader", "brit.new@fjordvik.kommune.no")) == (leader.id, False)
    # Another account with the linked person's address does not take them over.
    with pytest.raises(SsoRefused) as refused:
        sign_in_with_provider(runtime, _identity("someone-else", LEADER_EMAIL))
    assert refused.value.reason is SsoRefusal.LINKED_TO_ANOTHER_ACCOUNT


def test_unknown_unverified_and_former_people_are_refused(runtime: Runtime) -> None:
    demo_cycle(_sso(runtime))
    cases = [
        (_identity("s1", "nobody@fjordvik.kommune.no"), SsoRefusal.UNKNOWN_PERSON),
        (_identity("s2", None), SsoRefusal.UNKNOWN_PERSON),
        (_identity("s3", LEADER_EMAIL, verified=False), SsoRefusal.EMAIL_NOT_VERIFIED),
    ]
    for identity, reason in cases:
        with pytest.raises(SsoRefused) as refused:
            sign_in_with_provider(runtime, identity)
        assert refused.value.reason is reason
    _grant(runtime, _identity("s4", LEADER_EMAIL, verified=True))
    with runtime.sessions.begin() as session:
        session.execute(
            update(Person).where(Person.email == LEADER_EMAIL).values(active_to=_today(runtime) - dt.timedelta(days=1))
        )
    with pytest.raises(SsoRefused):  # gone from the organisation: the stored link does not help
        sign_in_with_provider(runtime, _identity("s4", LEADER_EMAIL))
    with runtime.sessions() as session:
        assert session.scalars(select(PersonIdentity.subject)).all() == ["s4"]


def test_the_hr_group_decides_who_is_hr_when_it_is_set_and_our_data_when_not(runtime: Runtime) -> None:
    demo_cycle(_sso(runtime))
    assert _grant(runtime, _identity("hr", HR_EMAIL, (HR_GROUP,)))[1] is True
    assert _grant(runtime, _identity("hr", HR_EMAIL, ("staff",)))[1] is False  # HR in our data, not in the group
    assert _grant(runtime, _identity("leader", LEADER_EMAIL, (HR_GROUP,)))[1] is True  # the provider says HR
    _sso(runtime, hr_group=None)
    assert _grant(runtime, _identity("hr", HR_EMAIL))[1] is True
    assert _grant(runtime, _identity("leader", LEADER_EMAIL, (HR_GROUP,)))[1] is False
    # A session granted HR by our data loses HR's pages when our data stops saying HR.
    result = sign_in_with_provider(runtime, _identity("hr", HR_EMAIL))
    assert result.principal is not None
    with runtime.sessions.begin() as session:
        session.execute(update(Person).where(Person.email == HR_EMAIL).values(role=Role.LEADER))
        found = person_for_session(
            session, result.principal.person_id, result.session_id, runtime.clock(), _today(runtime)
        )
    assert found is not None and not found.principal.is_hr


def test_local_passwords_can_be_switched_off(runtime: Runtime) -> None:
    demo_cycle(runtime)
    runtime.settings = runtime.settings.model_copy(update={"local_passwords": False})
    with pytest.raises(Forbidden):
        sign_in(runtime, HR_EMAIL, "whatever it is", "127.0.0.1")
    with pytest.raises(ConfigurationError, match="AARSHJUL_OIDC_ISSUER"):
        runtime.settings.check_for_start()
    partial = runtime.settings.model_copy(update={"local_passwords": True, "oidc_issuer": ISSUER})
    with pytest.raises(ConfigurationError, match="AARSHJUL_OIDC_CLIENT_ID"):
        partial.check_for_start()


# --- talk forms that need sign-in, and my tasks ------------------------------------------------------


def _talk_preparation(runtime: Runtime) -> TaskRef:
    cycle_id = demo_cycle(runtime)
    return drive_unit(runtime, cycle_id, unit_id(runtime, "HJE"), "talk_preparation")


def test_an_organisation_can_keep_its_talk_forms_for_their_assignee_signed_in(runtime: Runtime) -> None:
    task = _talk_preparation(runtime)
    with pytest.raises(Conflict):  # nobody could open them without single sign-on
        set_talk_forms_sign_in(runtime, True, actor="test")
    set_talk_forms_sign_in(_sso(runtime), True, actor="test")
    with pytest.raises(SignInNeeded) as nobody:
        open_task(runtime, task.token)
    assert nobody.value.signed_in is None
    with pytest.raises(SignInNeeded) as other:
        open_task(runtime, task.token, signed_in=task.assignee_id + 1)
    assert other.value.signed_in == task.assignee_id + 1
    assert open_task(runtime, task.token, signed_in=task.assignee_id).task.id == task.id
    set_talk_forms_sign_in(runtime, False, actor="test")
    assert open_task(runtime, task.token).task.id == task.id


def test_my_tasks_lists_open_tasks_and_receipts(runtime: Runtime) -> None:
    task = _talk_preparation(runtime)
    mine = my_tasks(runtime, task.assignee_id)
    # Earlier in the year the employee submitted their competence mapping: a receipt already.
    earlier = [(t.href, t.submitted_version) for t in mine.done]
    assert [t.href for t in mine.open] == [f"/t/{task.token}"] and len(earlier) == 1
    submit_valid(runtime, task)
    mine = my_tasks(runtime, task.assignee_id)
    receipts = [(t.href, t.submitted_version) for t in mine.done]
    assert mine.open == [] and sorted(receipts) == sorted([*earlier, (f"/t/{task.token}", 1)])


# --- over HTTP, against the real provider ------------------------------------------------------------


@pytest.fixture(scope="module")
def provider() -> Iterator[OpenIdProvider]:
    with running_provider(["http://testserver"]) as running:
        yield running


@pytest.fixture
def client(runtime: Runtime, provider: OpenIdProvider) -> Iterator[TestClient]:
    runtime.settings = provider.settings_for(runtime.settings)
    provider.next_login("hr")
    with TestClient(create_app(runtime), raise_server_exceptions=False) as test_client:
        yield test_client


def test_hr_signs_in_lands_on_the_board_and_signs_out(runtime: Runtime, client: TestClient) -> None:
    demo_cycle(runtime)
    page = client.get("/hr/login")
    assert "Logg inn med Testleverandøren" in page.text and 'href="/hr/oidc/login?next=/board"' in page.text
    answer = sign_on(client, "hr")
    assert (answer.status_code, answer.headers["location"]) == (303, "/board")
    board = client.get("/board")
    assert board.status_code == 200 and "Statustavle" in board.text
    csrf = board.text.split('name="csrf_token" value="')[1].split('"')[0]
    signed_out = client.post("/hr/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert signed_out.status_code == 200 and "Du er logget ut av Årshjul" in signed_out.text
    assert "/session/end?" in signed_out.text and "post_logout_redirect_uri" in signed_out.text
    assert client.get("/board", follow_redirects=False).status_code == 401


def test_an_employee_signs_in_to_my_tasks_and_not_to_hr_pages(
    runtime: Runtime, client: TestClient, provider: OpenIdProvider
) -> None:
    task = _talk_preparation(runtime)
    with runtime.sessions() as session:
        email = session.scalars(select(Person.email).where(Person.id == task.assignee_id)).one()
    provider.add_user("emp", email.upper(), ["staff"])
    answer = sign_on(client, "emp")
    assert (answer.status_code, answer.headers["location"]) == (303, "/me/tasks")
    page = client.get("/me/tasks")
    assert page.status_code == 200 and f'href="/t/{task.token}"' in page.text
    assert client.get("/board").status_code == 403
    with runtime.sessions() as session:
        assert session.scalars(select(PersonIdentity.person_id)).all() == [task.assignee_id]


def test_a_talk_form_that_needs_sign_in_goes_through_it_and_back(
    runtime: Runtime, client: TestClient, provider: OpenIdProvider
) -> None:
    task = _talk_preparation(runtime)
    set_talk_forms_sign_in(runtime, True, actor="test")
    with runtime.sessions() as session:
        email = session.scalars(select(Person.email).where(Person.id == task.assignee_id)).one()
    provider.add_user("emp", email, ["staff"])
    provider.add_user("leader", LEADER_EMAIL, ["staff"])
    link = f"/t/{task.token}"
    assert client.get(f"/api/t/{task.token}").status_code == 403  # the JSON API takes no session
    first = client.get(link, follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == f"/hr/oidc/login?next={link}"
    # Someone else signed in is refused; the assignee signed in comes back to the form.
    assert sign_on(client, "leader").status_code == 303
    assert client.get(link).status_code == 403
    answer = sign_on(client, "emp", next_url=link)
    assert (answer.status_code, answer.headers["location"]) == (303, link)
    assert client.get(link).status_code == 200


@pytest.mark.parametrize(
    ("tamper", "check"),
    [
        ({"aud": "someone-else"}, "aud"),
        ({"exp": -600, "iat": -1200}, "ExpiredTokenError"),
        ({"nonce": "not-the-nonce"}, "nonce"),
    ],
)
def test_a_bad_id_token_is_refused(
    runtime: Runtime,
    client: TestClient,
    provider: OpenIdProvider,
    caplog: pytest.LogCaptureFixture,
    tamper: dict[str, object],
    check: str,
) -> None:
    demo_cycle(runtime)
    provider.tamper_next_id_token(**tamper)
    with caplog.at_level(logging.INFO):
        answer = sign_on(client, "hr")
    assert answer.status_code == 400 and "Innloggingen gikk ikke gjennom" in answer.text
    assert "aarshjul_hr" not in answer.headers.get("set-cookie", "")
    assert check in caplog.text
    assert "eyJ" not in caplog.text  # no JWT, nor any part of one
    assert client.get("/board", follow_redirects=False).status_code == 401


def test_a_wrong_state_or_a_missing_transaction_cookie_is_refused(
    runtime: Runtime, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    demo_cycle(runtime)
    started = client.get("/hr/oidc/login", follow_redirects=False)
    callback = through_provider(started.headers["location"], "http://testserver")
    query = parse_qs(urlsplit(callback).query)
    code = query["code"][0]
    with caplog.at_level(logging.INFO):
        wrong_state = client.get("/hr/oidc/callback", params={"code": code, "state": "forged"})
        assert wrong_state.status_code == 400
        client.cookies.clear()  # another browser: no transaction cookie
        no_cookie = client.get(callback.removeprefix("http://testserver"))
        assert no_cookie.status_code == 400
    # (the test's own client logs the URLs it asks for; the service's lines must not hold the code)
    service_lines = [r.getMessage() for r in caplog.records if "http://testserver" not in r.getMessage()]
    assert service_lines and not [line for line in service_lines if code in line]
    assert client.get("/board", follow_redirects=False).status_code == 401
    # A provider's own refusal (the person cancelled) is a 400 page too, its words not repeated.
    cancelled = client.get("/hr/oidc/callback", params={"error": "access_denied", "error_description": "<b>x</b>"})
    assert cancelled.status_code == 400 and "<b>x</b>" not in cancelled.text


def test_the_sign_in_pages_are_uncacheable_and_unframeable(client: TestClient) -> None:
    for path in ("/hr/login", "/hr/oidc/login", "/hr/oidc/callback?state=x&code=y", "/me/tasks"):
        headers = client.get(path, follow_redirects=False).headers
        assert headers["cache-control"] == "no-store", path
        assert headers["x-frame-options"] == "DENY" and "frame-ancestors 'none'" in headers["content-security-policy"]
