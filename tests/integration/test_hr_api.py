"""HR's API and pages over HTTP: who may call them, sign-in and CSRF, starting a cycle, bad input."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.routing import APIRoute

from aarshjul.runtime import Runtime
from aarshjul.usecases.admin.hr_access import issue_api_token
from aarshjul.usecases.admin.org_import import seed_demo
from service.routes import hr as hr_routes
from tests.hr_support import HR_EMAIL, HR_PASSWORD, HrClients, csrf_of, hr_clients, sign_in

#: Signing in is open to anyone: the password form and the single sign-on's start and callback (which
#: answer 404 while no provider is set up, and refuse a callback without its signed transaction cookie).
PUBLIC = {("GET", "/hr/login"), ("POST", "/hr/login"), ("GET", "/hr/oidc/login"), ("GET", "/hr/oidc/callback")}


def _hr_endpoints() -> list[tuple[str, str]]:
    found = []
    routes = [route for router in hr_routes.ROUTERS for route in router.routes]
    for route in routes:
        if not isinstance(route, APIRoute):
            continue
        path = re.sub(r"\{[a-z_]+\}", "1", route.path)
        for method in sorted(route.methods):
            if (method, route.path) not in PUBLIC:
                found.append((method, path))
    return sorted(found)


HR_ENDPOINTS = _hr_endpoints()


@pytest.fixture(name="hr")
def hr_fixture(runtime: Runtime) -> Iterator[HrClients]:
    seed_demo(runtime)
    with hr_clients(runtime) as clients:
        yield clients


def test_the_endpoint_list_covers_the_api_and_the_pages() -> None:
    paths = {p for _, p in HR_ENDPOINTS}
    assert {"/api/cycles", "/api/cycles/1/status", "/api/plan", "/api/plan.xlsx", "/api/audit"} <= paths
    assert {"/board", "/plan", "/hr/cycles", "/hr/audit", "/board/units/1", "/plan/reviewers"} <= paths
    assert "/plan/reviewers/1/remove" in paths


def test_every_hr_endpoint_needs_a_session_or_a_token_and_refuses_non_hr_tokens(hr: HrClients) -> None:
    for method, path in HR_ENDPOINTS:
        anonymous = hr.client.request(method, path, json={} if path.startswith("/api/") else None)
        assert anonymous.status_code == 401, (method, path, anonymous.status_code)
        if path.startswith("/api/"):
            assert anonymous.headers["www-authenticate"] == "Bearer"
        else:
            assert 'action="/hr/login"' in anonymous.text
        leader = hr.client.request(method, path, headers=hr.api(hr.leader_token))
        # Signing out ends a session of anyone signed in (single sign-on lets leaders sign in too): a
        # token is no session, so it is refused as not signed in rather than as not HR.
        refused = 401 if (method, path) == ("POST", "/hr/logout") else 403
        assert leader.status_code == refused, (method, path, leader.status_code)
        garbage = hr.client.request(method, path, headers={"Authorization": "Bearer ahr_not-a-token"})
        assert garbage.status_code == 401, (method, path)


def test_sign_in_sets_a_hardened_cookie_and_forms_need_the_csrf_token(hr: HrClients) -> None:
    client = hr.client
    login = client.get("/hr/login?next=/plan")
    response = client.post(
        "/hr/login",
        data={"email": HR_EMAIL, "password": HR_PASSWORD, "csrf_token": csrf_of(login.text), "next": "/plan"},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/plan"
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("aarshjul_hr="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert client.get("/board").status_code == 200
    no_csrf = client.post("/hr/cycles/preview", data={"year": "2027"})
    assert no_csrf.status_code == 403
    api_without_header = client.post("/api/cycles/preview", json={"year": 2027})
    assert api_without_header.status_code == 403
    csrf = csrf_of(client.get("/hr/cycles").text)
    api_with_header = client.post("/api/cycles/preview", json={"year": 2027}, headers={"X-CSRF-Token": csrf})
    assert api_with_header.status_code == 200
    signed_out = client.post("/hr/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert signed_out.status_code == 303
    assert client.get("/board").status_code == 401


def test_the_login_form_refuses_a_forged_post_and_throttles_after_five_failures(hr: HrClients) -> None:
    client = hr.client
    forged = client.post("/hr/login", data={"email": HR_EMAIL, "password": HR_PASSWORD, "csrf_token": "x"})
    assert forged.status_code == 403
    token = csrf_of(client.get("/hr/login").text)
    answers = [
        client.post("/hr/login", data={"email": HR_EMAIL, "password": "wrong wrong", "csrf_token": token})
        for _ in range(5)
    ]
    assert [a.status_code for a in answers] == [401] * 5
    right = client.post("/hr/login", data={"email": HR_EMAIL, "password": HR_PASSWORD, "csrf_token": token})
    # Throttled: the same answer as a wrong password, so it tells nobody that the address is HR's.
    assert right.status_code == 401 and right.text == answers[0].text


@pytest.mark.parametrize(
    ("next_url", "location"),
    [
        ("https://evil.example/x", "/board"),  # refused, not rewritten: it is not a path of ours
        ("//evil.example/x", "/board"),
        ("/\\evil.example", "/board"),
        ("/%2F%2Fevil.example", "/board"),
        ("/\t/evil.example", "/board"),
        ("/plan?year=2027", "/plan?year=2027"),
    ],
)
def test_an_open_redirect_through_next_is_not_possible(hr: HrClients, next_url: str, location: str) -> None:
    token = csrf_of(hr.client.get("/hr/login").text)
    response = hr.client.post(
        "/hr/login",
        data={"email": HR_EMAIL, "password": HR_PASSWORD, "csrf_token": token, "next": next_url},
        follow_redirects=False,
    )
    assert response.headers["location"] == location


@pytest.mark.parametrize(
    ("referer", "next_url"),
    [
        ("http://testserver/board/units/3?cycle=2", "/board/units/3?cycle=2"),  # back to the page of the form
        ("https://evil.example/board", "/hr/tasks/1/link/revoke"),  # another site's page is not followed
        ("http://testserver//evil.example", "/board"),  # ours, but not a plain path: the default
        (None, "/hr/tasks/1/link/revoke"),
    ],
)
def test_a_form_posted_without_a_session_asks_to_sign_in_and_comes_back_to_this_site(
    hr: HrClients, referer: str | None, next_url: str
) -> None:
    headers = {"referer": referer} if referer else {}
    response = hr.client.post("/hr/tasks/1/link/revoke", data={"csrf_token": "x"}, headers=headers)
    assert response.status_code == 401
    found = re.search(r'name="next" value="([^"]*)"', response.text)
    assert found and found.group(1) == next_url


def test_start_a_cycle_by_api_and_read_its_status(hr: HrClients) -> None:
    preview = hr.client.post("/api/cycles/preview", json={"year": 2027, "starts_on": "2027-01-04"}, headers=hr.api())
    assert preview.status_code == 200
    first = preview.json()["first_tasks"]
    assert len(first) == 8 and {t["step_key"] for t in first} == {"strategy_review"}
    started = hr.client.post("/api/cycles", json={"year": 2027, "starts_on": "2027-01-04"}, headers=hr.api())
    assert started.status_code == 201
    cycle_id = started.json()["id"]
    status = hr.client.get(f"/api/cycles/{cycle_id}/status", headers=hr.api()).json()
    assert status["cycle"] == {
        "id": cycle_id,
        "year": 2027,
        "state": "running",
        "starts_on": "2027-01-04",
        "definition_key": "standard",
        "definition_version": 3,  # the standard definition; version 3 added nynorsk names
    }
    assert [s["key"] for s in status["steps"]][:2] == ["strategy_review", "unit_goals"]
    assert status["steps"][0]["units_by_state"]["open"] == 8
    assert len(status["units"]) == 8 and status["units"][0]["parent_id"] is None
    audit = hr.client.get("/api/audit?action=cycle.", headers=hr.api()).json()
    assert audit["entries"][0]["action"] == "cycle.start"
    assert audit["entries"][0]["actor_name"] == "Geir Høyland"
    assert hr.client.get("/api/openapi.json").status_code == 401  # the document is HR's
    schema = hr.client.get("/api/openapi.json", headers=hr.api()).json()
    ok = schema["paths"]["/api/cycles/{cycle_id}/status"]["get"]["responses"]["200"]
    assert ok["content"]["application/json"]["schema"]["$ref"].endswith("/CycleStatus")


def test_bad_input_unknown_cycle_year_outside_period_past_start_and_overlap(hr: HrClients) -> None:
    api = hr.api()
    assert hr.client.get("/api/cycles/999/status", headers=api).status_code == 404
    assert hr.client.get("/api/cycles/999/units/1", headers=api).status_code == 404
    assert hr.client.post("/api/cycles/999/close", json={}, headers=api).status_code == 404
    outside = hr.client.post("/api/cycles", json={"year": 2031}, headers=api)
    assert outside.status_code == 422 and outside.json()["detail"][0]["loc"] == ["body", "year"]
    past = hr.client.post("/api/cycles", json={"year": 2027, "starts_on": "2026-12-01"}, headers=api)
    assert past.status_code == 422 and past.json()["detail"][0]["loc"] == ["body", "starts_on"]
    assert hr.client.post("/api/cycles", json={"year": 2027}, headers=api).status_code == 201
    overlap = hr.client.post("/api/cycles", json={"year": 2027}, headers=api)
    assert overlap.status_code == 409
    unknown_step = hr.client.get("/api/cycles/1/status?step=nope", headers=api)
    assert unknown_step.status_code == 422


def test_the_start_form_keeps_the_input_and_names_the_field_when_refused(hr: HrClients) -> None:
    csrf = sign_in(hr.client)
    refused = hr.client.post("/hr/cycles/preview", data={"csrf_token": csrf, "year": "2031", "starts_on": ""})
    assert refused.status_code == 422
    assert 'value="2031"' in refused.text and 'aria-invalid="true"' in refused.text
    preview = hr.client.post("/hr/cycles/preview", data={"csrf_token": csrf, "year": "2027", "starts_on": "2027-01-04"})
    assert preview.status_code == 200 and 'id="start-button"' in preview.text
    assert "Brit Aasen" in preview.text
    started = hr.client.post(
        "/hr/cycles/start",
        data={"csrf_token": csrf, "year": "2027", "starts_on": "2027-01-04", "due_strategy_review": "2027-02-01"},
        follow_redirects=False,
    )
    assert started.status_code == 303
    board = hr.client.get(started.headers["location"])
    assert board.status_code == 200 and "1. februar 2027" in board.text
    again = hr.client.post("/hr/cycles/start", data={"csrf_token": csrf, "year": "2027", "starts_on": "2027-01-04"})
    assert again.status_code == 409


def test_switching_language_keeps_the_boards_filters(hr: HrClients) -> None:
    started = hr.client.post("/api/cycles", json={"year": 2027, "starts_on": "2027-01-04"}, headers=hr.api())
    assert started.status_code == 201
    page = hr.client.get("/board?step=talks&late=1&lang=en", headers=hr.api())
    assert page.status_code == 200
    assert 'href="?step=talks&amp;late=1&amp;lang=nb"' in page.text
    assert 'href="?step=talks&amp;late=1&amp;lang=en"' in page.text


def test_hr_lists_api_tokens_and_revokes_one_by_its_id(hr: HrClients, runtime: Runtime) -> None:
    listed = hr.client.get("/api/tokens", headers=hr.api()).json()
    assert [t["label"] for t in listed] == ["test", "test"]  # the leader's (newest) and HR's
    assert set(listed[0]) == {  # no value
        *("id", "person_id", "person_name", "label", "created_at", "revoked_at", "expires_at", "last_used_at")
    }
    mine = next(t for t in listed if t["person_name"] == "Geir Høyland")
    second = issue_api_token(runtime, HR_EMAIL, label="script")
    newest = hr.client.get("/api/tokens", headers=hr.api()).json()[0]
    assert newest["label"] == "script" and newest["revoked_at"] is None

    assert hr.client.delete(f"/api/tokens/{newest['id']}", headers=hr.api()).status_code == 204
    assert hr.client.get("/api/hr/me", headers=hr.api(second)).status_code == 401
    assert hr.client.get("/api/hr/me", headers=hr.api()).status_code == 200
    assert hr.client.delete(f"/api/tokens/{newest['id']}", headers=hr.api()).status_code == 409
    assert hr.client.delete("/api/tokens/999", headers=hr.api()).status_code == 404
    (event,) = hr.client.get("/api/audit?action=hr.token_revoked", headers=hr.api()).json()["entries"]
    assert event["object_id"] == str(newest["id"]) and event["actor_name"] == "Geir Høyland"
    assert event["before"]["revoked_at"] is None and event["after"]["revoked_at"]
    assert event["before"]["label"] == "script"
    # HR can end their own token too; the next call with it is refused.
    assert hr.client.delete(f"/api/tokens/{mine['id']}", headers=hr.api()).status_code == 204
    assert hr.client.get("/api/hr/me", headers=hr.api()).status_code == 401
