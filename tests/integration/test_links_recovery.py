"""Bad links and "send me a new link", over HTTP through the service (FastAPI TestClient)."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from starlette.requests import Request

from aarshjul.db.models import HumanTask, Notification, Person
from aarshjul.domain.enums import TaskState
from aarshjul.runtime import Runtime
from aarshjul.signing import TaskLinkClaims, task_token
from aarshjul.usecases.work.links import LinkReason, LinkRefused
from aarshjul.usecases.work.opening import open_task
from notifications.backends import OutboxBackend
from notifications.dispatcher import dispatch_due
from service.app import create_app
from service.routes.links import link_problem_page
from tests.conftest import TEST_SECRET
from tests.fakes import RecordingTriggers
from tests.notifications_support import World, add_task, build_world


@pytest.fixture
def world(runtime: Runtime) -> World:
    with runtime.sessions.begin() as session:
        return build_world(session, runtime.clock())


@pytest.fixture
def client(runtime: Runtime) -> TestClient:
    runtime.triggers = RecordingTriggers()
    return TestClient(create_app(runtime))


def _token(client: TestClient, path: str = "/link/new") -> str:
    page = client.get(path)
    assert page.status_code == 200
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match
    return match.group(1)


def _count(runtime: Runtime) -> int:
    with runtime.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(Notification)) or 0)


def test_known_and_unknown_addresses_get_the_same_answer(runtime: Runtime, world: World, client: TestClient) -> None:
    with runtime.sessions.begin() as session:
        add_task(session, world, world.employee_id, runtime.clock())
    token = _token(client)
    known = client.post("/link/new", data={"email": " OLA@example.no ", "csrf_token": token})
    unknown = client.post("/link/new", data={"email": "nobody@example.no", "csrf_token": token})
    no_tasks = client.post("/link/new", data={"email": "siri@example.no", "csrf_token": token})

    assert known.status_code == unknown.status_code == no_tasks.status_code == 200
    assert known.text == unknown.text == no_tasks.text
    assert _count(runtime) == 1
    assert runtime.triggers.dispatched == 1  # type: ignore[attr-defined]


def test_the_new_link_uses_the_current_link_version(runtime: Runtime, world: World, client: TestClient) -> None:
    with runtime.sessions.begin() as session:
        task = add_task(session, world, world.employee_id, runtime.clock())
        task.link_version = 4  # HR revoked the old links
    client.post("/link/new", data={"email": "ola@example.no", "csrf_token": _token(client)})
    dispatch_due(runtime, backend=OutboxBackend())
    with runtime.sessions() as session:
        row = session.scalars(select(Notification)).one()
        assert row.template == "new_link" and row.to_email == "ola@example.no"
        assert task_token(TEST_SECRET, TaskLinkClaims(task.id, world.employee_id, 4)) in (row.body_text or "")
        assert session.get(HumanTask, task.id).link_version == 4  # type: ignore[union-attr]


def test_asking_twice_queues_one_email(runtime: Runtime, world: World, client: TestClient) -> None:
    with runtime.sessions.begin() as session:
        add_task(session, world, world.employee_id, runtime.clock())
    token = _token(client)
    for _ in range(2):
        client.post("/link/new", data={"email": "ola@example.no", "csrf_token": token})
    assert _count(runtime) == 1


def test_without_the_csrf_token_nothing_happens(runtime: Runtime, world: World, client: TestClient) -> None:
    with runtime.sessions.begin() as session:
        add_task(session, world, world.employee_id, runtime.clock())
    _token(client)
    forged = client.post("/link/new", data={"email": "ola@example.no", "csrf_token": "0" * 64})
    assert forged.status_code == 403
    fresh = TestClient(client.app)  # no cookie: a cross-site form post
    assert fresh.post("/link/new", data={"email": "ola@example.no", "csrf_token": _token(client)}).status_code == 403
    assert _count(runtime) == 0


def test_requests_are_limited_per_address_and_per_client(runtime: Runtime, world: World, client: TestClient) -> None:
    token = _token(client)
    answers = [
        client.post("/link/new", data={"email": "x@example.no", "csrf_token": token}).status_code for _ in range(4)
    ]
    assert answers == [200, 200, 200, 429]
    answers = [
        client.post("/link/new", data={"email": f"p{i}@example.no", "csrf_token": token}).status_code for i in range(8)
    ]
    assert answers[:6] == [200] * 6 and answers[6:] == [429, 429]  # 10 per client per hour in all


def test_get_changes_nothing(runtime: Runtime, world: World, client: TestClient) -> None:
    with runtime.sessions.begin() as session:
        add_task(session, world, world.employee_id, runtime.clock())
    client.get("/link/new?email=ola@example.no")
    assert _count(runtime) == 0


@pytest.mark.parametrize("case", ["tampered", "unknown", "revoked", "reassigned", "cancelled"])
def test_bad_links_are_refused_and_the_bad_link_page_offers_a_new_link(
    runtime: Runtime, world: World, client: TestClient, case: str
) -> None:
    with runtime.sessions.begin() as session:
        task = add_task(session, world, world.employee_id, runtime.clock())
        token = task_token(TEST_SECRET, TaskLinkClaims(task.id, world.employee_id, 1))
        if case == "tampered":
            token = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
        elif case == "unknown":
            token = task_token(TEST_SECRET, TaskLinkClaims(task.id + 100, world.employee_id, 1))
        elif case == "revoked":
            task.link_version = 2
        elif case == "reassigned":
            task.assignee_id = world.other_employee_id
        elif case == "cancelled":
            task.state = TaskState.CANCELLED.value
    with pytest.raises(LinkRefused):
        open_task(runtime, token)
    request = Request({"type": "http", "method": "GET", "path": "/t/x", "headers": [], "query_string": b""})
    nb = link_problem_page(request, "nb", LinkReason.INVALID, posted=False)
    en = link_problem_page(request, "en", LinkReason.INVALID, posted=False)
    assert nb.status_code == en.status_code == 404
    assert "Send meg en ny lenke" in bytes(nb.body).decode() and "Send me a new link" in bytes(en.body).decode()
    assert 'href="/link/new"' in bytes(nb.body).decode()


def test_recovery_page_is_bilingual(client: TestClient) -> None:
    assert "Send meg en ny lenke" in client.get("/link/new").text
    assert "Send me a new link" in client.get("/link/new?lang=en").text


def test_reasons_from_the_forms_link_check(runtime: Runtime, world: World) -> None:
    with runtime.sessions.begin() as session:
        task = add_task(session, world, world.employee_id, runtime.clock())
        session.get(Person, world.employee_id)
        task.link_version = 2
    with pytest.raises(LinkRefused) as refused:
        open_task(runtime, task_token(TEST_SECRET, TaskLinkClaims(task.id, world.employee_id, 1)))
    assert refused.value.reason is LinkReason.REPLACED


def test_the_limits_hold_across_web_processes(runtime: Runtime, world: World, client: TestClient) -> None:
    """Two apps on one database stand for two web processes behind a load balancer."""
    other = TestClient(create_app(runtime))
    answers = []
    for index in range(4):
        web = client if index % 2 else other
        answers.append(web.post("/link/new", data={"email": "x@example.no", "csrf_token": _token(web)}).status_code)
    assert answers == [200, 200, 200, 429]


def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_limit(runtime: Runtime, world: World) -> None:
    runtime.triggers = RecordingTriggers()
    runtime.settings = runtime.settings.model_copy(update={"trusted_proxies": ("10.0.0.5",)})
    proxy = TestClient(create_app(runtime), client=("10.0.0.5", 40000))
    token = _token(proxy)

    def ask(index: int, forwarded_for: str) -> int:
        data = {"email": f"p{index}@example.no", "csrf_token": token}
        return proxy.post("/link/new", data=data, headers={"X-Forwarded-For": forwarded_for}).status_code

    assert [ask(i, f"198.51.100.{i}") for i in range(12)] == [200] * 12  # twelve clients, one each
    assert [ask(20 + i, "198.51.100.77") for i in range(11)][-1] == 429  # one client, eleven times
    untrusted = TestClient(create_app(runtime), client=("203.0.113.1", 40000))
    token = _token(untrusted)
    spoofed = [
        untrusted.post(
            "/link/new",
            data={"email": f"s{i}@example.no", "csrf_token": token},
            headers={"X-Forwarded-For": f"198.51.100.{100 + i}"},
        ).status_code
        for i in range(11)
    ]
    assert spoofed[-1] == 429  # the header of a peer that is not a trusted proxy changes nothing
