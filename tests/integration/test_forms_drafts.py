"""Drafts keep the form's shape and limits, on SQLite and PostgreSQL: only completeness is relaxed, and
a task page stays quick whatever an older version stored."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from aarshjul.db.engine import unit_of_work
from aarshjul.db.models import Submission
from aarshjul.runtime import Runtime
from forms.fields import MAX_ITEMS, MAX_TEXT
from service.app import create_app
from service.routes.forms import csrf_token
from tests.builders import TaskRef, demo_cycle, drive_unit, unit_id

#: What the fuzzer stored: a 450 KB draft whose page then took 110 s to render.
HUGE_DRAFT = {"goals": [0] * 150_000}


@pytest.fixture
def client(runtime: Runtime) -> TestClient:
    return TestClient(create_app(runtime))


@pytest.fixture
def review(runtime: Runtime) -> TaskRef:
    """An open strategy review of a small unit."""
    return drive_unit(runtime, demo_cycle(runtime), unit_id(runtime, "HR"), "strategy_review")


def versions(runtime: Runtime, task_id: int) -> int:
    with runtime.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(Submission).where(Submission.task_id == task_id)))


def test_a_draft_beyond_the_forms_limits_is_refused_and_nothing_is_stored(
    runtime: Runtime, client: TestClient, review: TaskRef
) -> None:
    answer = client.post(f"/api/t/{review.token}?draft=true", json=HUGE_DRAFT)
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", "goals"]
    assert answer.json()["detail"][0]["type"] == "too_long"

    too_long_text = {"goals": [{"meaning": "x" * (MAX_TEXT + 1)}]}
    wrong_shape = {"goals": [{"meaning": "Viktig", "no_such_field": 1}]}
    too_many_rows = {"goals": [{}] * (MAX_ITEMS + 1)}
    for body, kind in (
        (too_long_text, "string_too_long"),
        (wrong_shape, "extra_forbidden"),
        (too_many_rows, "too_long"),
    ):
        answer = client.post(f"/api/t/{review.token}?draft=true", json=body)
        assert answer.status_code == 422, body
        assert [p["type"] for p in answer.json()["detail"]] == [kind]
    assert versions(runtime, review.id) == 0


def test_an_unfinished_draft_is_still_kept(runtime: Runtime, client: TestClient, review: TaskRef) -> None:
    """Missing fields, empty texts and empty lists are what a draft is for."""
    for body in ({}, {"goals": []}, {"goals": [{"meaning": "  "}]}, {"goals": [{"relevance": 3}]}):
        assert client.post(f"/api/t/{review.token}?draft=true", json=body).status_code == 200, body
    assert versions(runtime, review.id) == 4


def test_the_html_form_refuses_an_oversized_draft_and_keeps_what_was_typed(
    runtime: Runtime, client: TestClient, review: TaskRef
) -> None:
    schema = client.get(f"/api/t/{review.token}").json()["schema"]
    goal_id = schema["$defs"]["GoalReview"]["properties"]["strategic_goal_id"]["enum"][0]
    fields = {
        "goals.0.strategic_goal_id": str(goal_id),
        "goals.0.meaning": "x" * (MAX_TEXT + 5),
        "csrf": csrf_token(runtime, review.token),
    }
    answer = client.post(f"/t/{review.token}", data={**fields, "action": "save_draft"}, follow_redirects=False)
    assert answer.status_code == 422
    assert "x" * (MAX_TEXT + 5) in answer.text
    assert versions(runtime, review.id) == 0


def test_a_task_page_is_quick_whatever_an_old_draft_holds(
    runtime: Runtime, client: TestClient, review: TaskRef
) -> None:
    """Drafts stored before they were checked: the page leaves the unusable draft out."""
    with unit_of_work(runtime.sessions) as session:
        session.add(
            Submission(
                task_id=review.id,
                version=1,
                is_draft=True,
                data=HUGE_DRAFT,
                submitted_by_id=review.assignee_id,
                created_at=runtime.clock(),
            )
        )
    started = time.perf_counter()
    page = client.get(f"/t/{review.token}")
    api = client.get(f"/api/t/{review.token}")
    elapsed = time.perf_counter() - started
    assert page.status_code == 200 and api.status_code == 200
    assert elapsed < 1.0
    assert len(page.content) < 200_000 and len(api.content) < 200_000
    assert api.json()["data"] == {} and api.json()["data_is_draft"] is False
    # The person can carry on: a good draft replaces the bad one.
    assert client.post(f"/api/t/{review.token}?draft=true", json={"goals": []}).status_code == 200
    assert client.get(f"/api/t/{review.token}").json()["data_is_draft"] is True
