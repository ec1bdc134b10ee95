"""The service's safety over HTTP, on both databases: its headers, HR's sign-in and sessions, what
production hides, and input that used to answer 500 (each a case a fuzz run reported)."""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from aarshjul.runtime import Runtime
from aarshjul.usecases.admin import hr_access
from service.app import create_app
from tests.builders import TaskRef, demo_cycle, drive_unit, unit_id
from tests.hr_support import HR_EMAIL, HR_PASSWORD, HrClients, csrf_of, hr_clients, sign_in


@dataclass
class World:
    runtime: Runtime
    hr: HrClients
    task: TaskRef


@pytest.fixture(name="world")
def world_fixture(runtime: Runtime) -> Iterator[World]:
    cycle = demo_cycle(runtime)
    task = drive_unit(runtime, cycle, unit_id(runtime, "HR"), "strategy_review")
    with hr_clients(runtime) as hr:
        yield World(runtime, hr, task)


# --- headers --------------------------------------------------------------------------------------


def test_every_page_forbids_framing_inline_script_and_sniffing(world: World) -> None:
    client = world.hr.client
    for path in ["/", f"/t/{world.task.token}", "/hr/login", "/link/new", "/me/data", "/board"]:
        headers = client.get(path).headers
        csp = headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "style-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff"
        assert "strict-transport-security" not in headers  # the base URL is http here


def test_pages_with_personal_data_or_a_token_are_not_cached_or_referred(world: World) -> None:
    client = world.hr.client
    task_page = client.get(f"/t/{world.task.token}")
    assert task_page.headers["cache-control"] == "no-store"
    assert task_page.headers["referrer-policy"] == "no-referrer"
    api = client.get(f"/api/t/{world.task.token}")
    assert api.headers["cache-control"] == "no-store" and api.headers["referrer-policy"] == "no-referrer"
    board = client.get("/api/cycles", headers=world.hr.api())
    assert board.headers["cache-control"] == "no-store"
    assert client.get("/board").headers["referrer-policy"] == "same-origin"  # HR's forms come back by it
    assert "no-store" not in client.get("/static/app.css").headers.get("cache-control", "")


def test_https_gets_hsts(world: World) -> None:
    runtime = world.runtime
    runtime.settings = runtime.settings.model_copy(update={"base_url": "https://aarshjul.fjordvik.no"})
    answer = TestClient(create_app(runtime)).get("/")
    assert answer.headers["strict-transport-security"].startswith("max-age=")


def test_a_405_names_every_method_the_path_takes(world: World) -> None:
    answer = world.hr.client.put(f"/api/t/{world.task.token}")
    assert answer.status_code == 405 and answer.headers["allow"] == "GET, POST"
    page = world.hr.client.delete(f"/t/{world.task.token}")
    assert page.status_code == 405 and page.headers["allow"] == "GET, POST"


# --- production -----------------------------------------------------------------------------------


def test_production_is_the_default_and_hides_the_outbox_and_the_api_document(world: World) -> None:
    runtime = world.runtime
    runtime.settings = runtime.settings.model_copy(update={"environment": "production"})
    client = TestClient(create_app(runtime))
    assert client.get("/dev/outbox").status_code == 404
    assert client.get("/api/docs").status_code == 404
    assert client.get("/api/openapi.json").status_code == 401
    document = client.get("/api/openapi.json", headers=world.hr.api()).json()
    assert document["components"]["securitySchemes"]["HTTPBearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An HR API token from `aarshjul hr token`",
    }
    close = document["paths"]["/api/cycles/{cycle_id}/close"]["post"]
    assert close["security"] == [{"HTTPBearer": []}]
    assert {"401", "403", "404", "409", "422"} <= set(close["responses"])
    assert "/t/{token}" not in document["paths"] and "/dev/outbox" not in document["paths"]


# --- signing in and out ---------------------------------------------------------------------------


def _login(client: TestClient, email: str, password: str) -> tuple[int, str, float]:
    token = csrf_of(client.get("/hr/login").text)
    started = time.perf_counter()
    answer = client.post("/hr/login", data={"email": email, "password": password, "csrf_token": token})
    elapsed = time.perf_counter() - started
    # What differs on purpose: the form's fresh CSRF token and the address typed, kept in the field.
    body = re.sub(r'value="[^"]*"', 'value=""', answer.text)
    return answer.status_code, body, elapsed


def test_unknown_wrong_and_throttled_sign_ins_get_one_answer_in_the_same_time(world: World) -> None:
    client = world.hr.client
    for _ in range(hr_access.PER_ACCOUNT_AND_ADDRESS.allowed):  # the test client's address: now throttled
        _login(client, HR_EMAIL, "wrong password!")
    attempts = {
        "unknown": ("nobody@fjordvik.kommune.no", "wrong password!"),
        "wrong": ("brit.aasen@fjordvik.kommune.no", "wrong password!"),
        "throttled": (HR_EMAIL, HR_PASSWORD),
    }
    answers: dict[str, list[tuple[int, str, float]]] = {kind: [] for kind in attempts}
    for _ in range(7):  # taken in turns, so a busy moment of the machine falls on every kind alike
        for kind, (email, password) in attempts.items():
            answers[kind].append(_login(client, email, password))
    assert {status for runs in answers.values() for status, _, _ in runs} == {401}
    assert len({body for runs in answers.values() for _, body, _ in runs}) == 1
    medians = {kind: statistics.median(t for _, _, t in runs) for kind, runs in answers.items()}
    # Each refusal costs one argon2 check; the medians differ by noise, not by a missing hash.
    assert max(medians.values()) < 2.5 * min(medians.values()), medians


def test_argon2_runs_with_no_database_connection_held(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """Twelve sign-ins at once must not hold the write lock while they hash."""
    held: list[int] = []
    verify = hr_access._verify

    def watched(password_hash: str, password: str) -> bool:
        held.append(world.runtime.engine.pool.checkedout())  # type: ignore[attr-defined]
        return verify(password_hash, password)

    monkeypatch.setattr(hr_access, "_verify", watched)
    _login(world.hr.client, HR_EMAIL, "wrong password!")
    _login(world.hr.client, HR_EMAIL, HR_PASSWORD)
    assert held == [0, 0]


def test_signing_out_ends_the_session_for_every_copy_of_the_cookie(world: World) -> None:
    client = world.hr.client
    csrf = sign_in(client)
    cookie = client.cookies.get("aarshjul_hr")
    assert cookie and client.get("/board").status_code == 200
    client.post("/hr/logout", data={"csrf_token": csrf}, follow_redirects=False)
    stolen = TestClient(create_app(world.runtime), cookies={"aarshjul_hr": cookie})
    assert stolen.get("/board").status_code == 401
    assert stolen.get("/api/cycles").status_code == 401


def test_a_session_idles_out(world: World) -> None:
    client = world.hr.client
    sign_in(client)
    world.runtime.clock.advance(minutes=59)  # type: ignore[attr-defined]
    assert client.get("/board").status_code == 200
    world.runtime.clock.advance(minutes=61)  # type: ignore[attr-defined]
    assert client.get("/board").status_code == 401


def test_api_tokens_expire_and_record_when_they_were_used(world: World) -> None:
    hr = world.hr
    listed = hr.client.get("/api/tokens", headers=hr.api()).json()
    mine = next(t for t in listed if t["label"] == "test" and t["person_id"] != 0 and t["last_used_at"])
    assert mine["expires_at"] > mine["created_at"]
    short = hr_access.issue_api_token(world.runtime, HR_EMAIL, label="short", days=1)
    assert hr.client.get("/api/cycles", headers=hr.api(short)).status_code == 200
    world.runtime.clock.advance(days=1)  # type: ignore[attr-defined]
    assert hr.client.get("/api/cycles", headers=hr.api(short)).status_code == 401


# --- input that used to answer 500 ----------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b'{"year": NaN}',
        b'{"year": 2027, "starts_on": Infinity}',
        b'{"year": 2027, "x": "\\ud800"}',
        b'{"year": 2027, "x": "\\u0000"}',
        b"[" * 100_000 + b"]" * 100_000,
    ],
    ids=["nan", "infinity", "surrogate", "nul", "deep"],
)
def test_unstorable_json_is_a_422_on_every_api(world: World, body: bytes) -> None:
    json_headers = {"Content-Type": "application/json"}
    hr = world.hr.client.post("/api/cycles/preview", content=body, headers={**json_headers, **world.hr.api()})
    assert hr.status_code == 422 and hr.json()["detail"][0]["type"] == "json_invalid"
    task = world.hr.client.post(f"/api/t/{world.task.token}?draft=true", content=body, headers=json_headers)
    assert task.status_code == 422
    # Whatever the content type says, the task's API reads JSON by the same rules.
    plain = world.hr.client.post(f"/api/t/{world.task.token}?draft=true", content=body)
    assert plain.status_code == 422
    assert world.hr.client.get(f"/api/t/{world.task.token}").status_code == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/cycles/99999999999999999999/status"),
        ("GET", "/api/cycles/²/status"),
        ("POST", "/api/tasks/99999999999999999999/link/revoke"),
        ("GET", "/api/t/" + "x" * 600),
    ],
)
def test_out_of_range_path_values_are_a_4xx(world: World, method: str, path: str) -> None:
    answer = world.hr.client.request(method, path, headers=world.hr.api())
    assert 400 <= answer.status_code < 500


def test_odd_headers_are_answered_not_crashed_on(world: World) -> None:
    client = world.hr.client
    assert client.post("/hr/login", headers={"Content-Length": "²".encode()}).status_code < 500
    sign_in(client)
    non_ascii = client.post("/api/cycles/preview", json={"year": 2027}, headers={"X-CSRF-Token": "æøå".encode()})
    assert non_ascii.status_code == 403
    assert (
        client.post(
            "/api/cycles/preview", json={"year": 2027}, headers={"Authorization": "Bearer æøå".encode()}
        ).status_code
        == 401
    )
