"""A private, unshared draft never moves to another person: a talk preparation reassigned to the leader
opens empty for them, and the employee's draft is theirs again when the task comes back."""

from __future__ import annotations

from fastapi.testclient import TestClient

from aarshjul.db.models import Unit
from aarshjul.runtime import Runtime
from aarshjul.usecases.admin.task_admin import reassign_tasks
from aarshjul.usecases.work.opening import open_task
from aarshjul.usecases.work.submitting import save_draft
from service.app import create_app
from tests.builders import task_for, token_for

SECRET_WISH = "Jeg vurderer å søke meg bort herfra"


def test_a_reassigned_talk_preparation_starts_empty_and_the_draft_stays_the_employees(runtime: Runtime) -> None:
    preparation = task_for(runtime, "talk_preparation")
    employee = preparation.assignee_id
    save_draft(runtime, preparation.token, {"development_wishes": SECRET_WISH, "share_wishes": False})
    with runtime.sessions() as session:
        unit = session.get(Unit, preparation.unit_id)
        assert unit is not None and unit.leader_id is not None
        leader = unit.leader_id

    reassign_tasks(runtime, [preparation.id], leader, actor="test")
    leaders_link = token_for(runtime, preparation.id)
    opened = open_task(runtime, leaders_link)
    assert opened.data == {} and opened.versions == [] and not opened.data_is_draft
    client = TestClient(create_app(runtime))
    assert SECRET_WISH not in client.get(f"/t/{leaders_link}").text
    assert SECRET_WISH not in client.get(f"/api/t/{leaders_link}").text

    reassign_tasks(runtime, [preparation.id], employee, actor="test")
    back = open_task(runtime, token_for(runtime, preparation.id))
    assert back.data["development_wishes"] == SECRET_WISH and back.data_is_draft


def test_a_unit_form_moves_with_its_draft(runtime: Runtime) -> None:
    """Only private forms start empty: a deputy takes over a unit's half-written strategy review."""
    review = task_for(runtime, "strategy_review")
    save_draft(runtime, review.token, {"overall_comment": "Halvferdig"})
    with runtime.sessions() as session:
        unit = session.get(Unit, review.unit_id)
        assert unit is not None and unit.parent_id is not None
        parent = session.get(Unit, unit.parent_id)
        assert parent is not None and parent.leader_id is not None
    reassign_tasks(runtime, [review.id], parent.leader_id, actor="test")
    assert open_task(runtime, token_for(runtime, review.id)).data == {"overall_comment": "Halvferdig"}
