"""Every token and CSRF value a client sends, over HTTP on both databases: garbage (non-ASCII, invalid
UTF-8, huge, empty) and a good token of another kind are refused with the page's usual answer, never a
500; a good token still works beside them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from aarshjul.db.models import PlanReviewer
from aarshjul.runtime import Runtime
from aarshjul.signing import (
    ExportClaims,
    FollowUpClaims,
    FormPurpose,
    ReviewClaims,
    export_token,
    follow_up_token,
    form_csrf,
    new_nonce,
    review_token,
)
from aarshjul.usecases.planning.review import invite_reviewer
from tests.builders import demo_cycle, drive_unit, unit_id
from tests.hr_support import HrClients, hr_clients, sign_in

#: Form values a script can send: non-ASCII, non-Latin-1, invalid UTF-8 (a lone surrogate's bytes,
#: a stray byte), as long as the fields allow, empty. Percent-encoded, as a raw form body carries them.
GARBAGE_FIELDS = ["%C3%A9", "%C3%B8" * 43, "%E2%82%AC", "%ED%A0%80", "%FF", "x" * 200, ""]
#: Path values: the same, and far longer than any token.
GARBAGE_PATHS = ["%C3%A9", "%ED%A0%80", "%FF", "x" * 5000, "a.b", "a..b", "%00"]


@dataclass
class World:
    runtime: Runtime
    hr: HrClients
    session_csrf: str
    task: str  #: a task link's token
    export: str
    review: str
    follow_up: str  #: of a task that is no follow-up: the page refuses it, as any unknown follow-up


@pytest.fixture(name="world")
def world_fixture(runtime: Runtime) -> Iterator[World]:
    cycle = demo_cycle(runtime)
    task = drive_unit(runtime, cycle, unit_id(runtime, "HR"), "strategy_review")
    secret = runtime.settings.secret()
    reviewer_id = invite_reviewer(runtime, "Per Tillitsvalgt", "per@example.no", "nb", actor="test")
    with runtime.sessions() as session:
        reviewer = session.get(PlanReviewer, reviewer_id)
        assert reviewer is not None
        review = review_token(secret, ReviewClaims(reviewer.id, int(reviewer.invited_at.timestamp())))
    export = export_token(secret, ExportClaims(task.assignee_id, runtime.clock(), new_nonce()))
    follow_up = follow_up_token(secret, FollowUpClaims(task.id, task.assignee_id))
    with hr_clients(runtime) as hr:
        yield World(runtime, hr, sign_in(hr.client), task.token, export, review, follow_up)


def _post(client: TestClient, path: str, body: str) -> int:
    headers = {"content-type": "application/x-www-form-urlencoded"}
    return client.post(path, content=body.encode("ascii"), headers=headers).status_code


@pytest.mark.parametrize("garbage", GARBAGE_FIELDS)
def test_a_bad_csrf_value_is_refused_on_every_form(world: World, garbage: str) -> None:
    client = world.hr.client
    for path in ("/link/new", "/me/data"):
        client.get(path)  # sets the form's cookie
        assert _post(client, path, f"email=ola%40example.no&csrf_token={garbage}") == 403, path
    client.get("/hr/login")
    assert _post(client, "/hr/login", f"email=x%40example.no&password=y&csrf_token={garbage}") == 403
    assert _post(client, f"/me/data/{world.export}", f"csrf_token={garbage}") == 403
    assert _post(client, f"/plan-review/{world.review}", f"body=hei&target=&csrf_token={garbage}") == 403
    assert _post(client, f"/t/{world.task}", f"action=draft&csrf={garbage}") == 403
    assert _post(client, "/hr/logout", f"csrf_token={garbage}") == 403  # HR's session CSRF
    api = client.post("/api/cycles/preview", json={"year": 2027}, headers={"x-csrf-token": b"\xe9\xff" * 3})
    assert api.status_code == 403


def test_a_csrf_token_of_another_form_is_refused(world: World) -> None:
    client, secret = world.hr.client, world.runtime.settings.secret()
    client.get("/link/new")
    nonce = client.cookies.get("aarshjul_link_csrf")
    assert nonce
    for purpose in FormPurpose:
        token = form_csrf(secret, purpose, nonce)
        status = _post(client, "/link/new", f"email=nobody%40example.no&csrf_token={token}")
        assert status == (200 if purpose is FormPurpose.NEW_LINK else 403), purpose
    review_page_token = form_csrf(secret, FormPurpose.PLAN_REVIEW_COMMENT, world.export)
    assert _post(client, f"/me/data/{world.export}", f"csrf_token={review_page_token}") == 403


def test_garbage_and_tokens_of_another_kind_in_a_link_are_refused(world: World) -> None:
    client = world.hr.client
    pages = {
        "/t/": (404, world.task, [world.review, world.export, world.follow_up]),
        "/api/t/": (404, world.task, [world.review, world.export]),
        "/me/data/": (404, world.export, [world.task, world.review, world.follow_up]),
        "/plan-review/": (404, world.review, [world.task, world.export, world.follow_up]),
        "/me/follow-ups/": (404, None, [world.task, world.review, world.export]),
    }
    for prefix, (refused, good, others) in pages.items():
        for value in [*GARBAGE_PATHS, *others]:
            response = client.get(prefix + value)
            assert response.status_code == refused, (prefix, value[:40], response.status_code)
        if good is not None:
            assert client.get(prefix + good).status_code == 200, prefix


@pytest.mark.parametrize("cookie", [b"%C3%A9", b"\xe9\xff", b"x" * 3000, b"", b"task-token"])
def test_a_session_cookie_that_is_not_ours_means_signed_out(world: World, cookie: bytes) -> None:
    value = world.task.encode() if cookie == b"task-token" else cookie
    with TestClient(world.hr.client.app, raise_server_exceptions=False) as browser:
        headers = {"cookie": b"aarshjul_hr=" + value}  # raw bytes: a browser's cookie jar would refuse some
        assert browser.get("/hr/cycles", headers=headers).status_code == 401
        assert browser.get("/api/cycles", headers=headers).status_code == 401
