"""Principle 1 on both databases: an amendment may not break the chain measure → critical need →
unit goal → main goal, and HR's decision on a measure is audited as such."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from aarshjul.db.models import AuditEvent, CriticalNeed, Measure, Submission, UnitGoal
from aarshjul.domain.enums import TaskState
from aarshjul.runtime import Runtime
from aarshjul.usecases.work.measure_decision import decide_measure
from aarshjul.usecases.work.opening import open_task
from aarshjul.usecases.work.submitting import submit_form
from forms.registry import FormRejected
from service.app import create_app
from service.routes.forms import csrf_token
from tests.builders import TaskRef, demo_cycle, drive_unit, find_tasks, person_id, submit_valid, unit_id
from tests.hr_support import hr_clients, sign_in

NEED = "Bruk av sakssystemet"  # the need valid_input maps, serving the unit's first goal
MEASURE = "Kollegaveiledning i digitale verktøy"


def _submitted(runtime: Runtime, cycle: int, unit: int, form_key: str) -> TaskRef:
    [task] = find_tasks(runtime, cycle, form_key, unit, states=(TaskState.SUBMITTED,))
    return task


def _versions(runtime: Runtime, task_id: int) -> int:
    with runtime.sessions() as session:
        return int(
            session.scalar(select(func.count()).select_from(Submission).where(Submission.task_id == task_id)) or 0
        )


def _flatten(data: dict[str, Any]) -> dict[str, str]:
    return {
        f"{name}.{i}.{key}": str(value)
        for name, rows in data.items()
        if isinstance(rows, list)
        for i, row in enumerate(rows)
        for key, value in row.items()
        if value is not None
    }


@pytest.fixture
def proposed(runtime: Runtime) -> tuple[int, int]:
    """A unit whose goals, needs and a measure proposal are in: measure → need → first goal."""
    cycle = demo_cycle(runtime)
    unit = unit_id(runtime, "HR")
    submit_valid(runtime, drive_unit(runtime, cycle, unit, "measure_proposal"))
    return cycle, unit


def test_dropping_a_goal_a_need_serves_is_refused_and_nothing_is_stored(
    runtime: Runtime, proposed: tuple[int, int]
) -> None:
    cycle, unit = proposed
    goals_task = _submitted(runtime, cycle, unit, "unit_goals")
    stored = open_task(runtime, goals_task.token).submitted_data["goals"]
    used, free = stored[0], stored[1]
    with pytest.raises(FormRejected) as refused:
        submit_form(runtime, goals_task.token, {"goals": [free]})
    [problem] = refused.value.problems
    assert (problem.loc, problem.type, dict(problem.ctx)) == (("goals", 1), "goal_in_use", {"need": NEED})
    # The refused form gets the dropped row back, where the problem points.
    assert refused.value.restore == {"goals": [used]}
    with runtime.sessions() as session:
        assert not session.get(UnitGoal, used["id"]).retired  # type: ignore[union-attr]
    assert _versions(runtime, goals_task.id) == 1
    # Dropping the goal no need serves is fine.
    assert submit_form(runtime, goals_task.token, {"goals": [used]}).version == 2


def test_a_goal_can_go_once_its_need_serves_another(runtime: Runtime, proposed: tuple[int, int]) -> None:
    cycle, unit = proposed
    goals_task = _submitted(runtime, cycle, unit, "unit_goals")
    needs_task = _submitted(runtime, cycle, unit, "needs_mapping")
    used, free = open_task(runtime, goals_task.token).submitted_data["goals"]
    needs = open_task(runtime, needs_task.token).submitted_data
    needs["needs"][0]["unit_goal_id"] = free["id"]
    submit_form(runtime, needs_task.token, needs)
    submit_form(runtime, goals_task.token, {"goals": [free]})
    with runtime.sessions() as session:
        goal = session.get(UnitGoal, used["id"])
        assert goal is not None and goal.retired


def test_dropping_a_need_a_live_measure_answers_is_refused(runtime: Runtime, proposed: tuple[int, int]) -> None:
    cycle, unit = proposed
    needs_task = _submitted(runtime, cycle, unit, "needs_mapping")
    data = open_task(runtime, needs_task.token).submitted_data
    [need] = data["needs"]
    replacement = {**need, "id": None, "title": "Klarspråk", "strategy": "develop"}
    with pytest.raises(FormRejected) as refused:
        submit_form(runtime, needs_task.token, {**data, "needs": [replacement]})
    [problem] = refused.value.problems
    assert (problem.loc, problem.type, dict(problem.ctx)) == (("needs", 1), "need_in_use", {"measure": MEASURE})
    with runtime.sessions() as session:
        assert session.scalars(select(CriticalNeed.title).where(CriticalNeed.retired.is_(False))).all() == [NEED]
    # HR returns the measure: a returned measure is still live, so the need still may not go.
    [approval] = find_tasks(runtime, cycle, "measure_approval", unit)
    assert approval.measure_id is not None
    decide_measure(runtime, approval.measure_id, "return", "Mer konkret", actor=person_id(runtime, "geir.hoyland"))
    with pytest.raises(FormRejected):
        submit_form(runtime, needs_task.token, {**data, "needs": [replacement]})
    # Once the proposal answers the new need instead, the old one can be dropped.
    submit_form(runtime, needs_task.token, {**data, "needs": [need, replacement]})
    [proposal_task] = find_tasks(runtime, cycle, "measure_proposal", unit)
    offered = open_task(runtime, proposal_task.token)
    new_need = next(i for i, title in offered.choices["critical_need"] if title == "Klarspråk")
    measures = offered.submitted_data
    measures["measures"][0]["critical_need_id"] = new_need
    submit_form(runtime, proposal_task.token, measures)
    kept = [n for n in open_task(runtime, needs_task.token).submitted_data["needs"] if n["title"] == "Klarspråk"]
    submit_form(runtime, needs_task.token, {**data, "needs": kept})
    with runtime.sessions() as session:
        assert session.scalars(select(CriticalNeed.title).where(CriticalNeed.retired.is_(False))).all() == ["Klarspråk"]


def test_the_refusal_sits_beside_the_row_in_html_and_names_the_path_in_json(
    runtime: Runtime, proposed: tuple[int, int]
) -> None:
    cycle, unit = proposed
    goals_task = _submitted(runtime, cycle, unit, "unit_goals")
    used, free = open_task(runtime, goals_task.token).submitted_data["goals"]
    client = TestClient(create_app(runtime))
    fields = {**_flatten({"goals": [free]}), "csrf": csrf_token(runtime, goals_task.token), "action": "submit"}
    page = client.post(f"/t/{goals_task.token}", data=fields, follow_redirects=False)
    assert page.status_code == 422
    text = page.text
    row = text[text.index('id="f-goals-1"') :]
    row = row[: row.index("</fieldset>")]
    assert f"Dette målet brukes av kompetansebehovet «{NEED}»; fjern eller endre behovet først." in row
    assert f'name="goals.1.id" value="{used["id"]}"' in row and used["title"] in row
    assert 'href="#f-goals-1"' in text  # the error summary leads to the row

    answer = client.post(f"/api/t/{goals_task.token}", json={"goals": [free]}, headers={"Accept-Language": "en"})
    assert answer.status_code == 422
    assert answer.json()["detail"] == [
        {
            "loc": ["body", "goals", 1],
            "msg": f"This goal is used by the critical need «{NEED}»; remove or change the need first.",
            "type": "goal_in_use",
        }
    ]
    assert _versions(runtime, goals_task.id) == 1


# --- HR's decision in the audit log -------------------------------------------------------------------


def _measure_events(runtime: Runtime) -> list[AuditEvent]:
    with runtime.sessions() as session:
        return list(
            session.scalars(select(AuditEvent).where(AuditEvent.action.startswith("measure.")).order_by(AuditEvent.id))
        )


def test_hr_decisions_are_audited_on_the_measure(runtime: Runtime, proposed: tuple[int, int]) -> None:
    cycle, unit = proposed
    hr = person_id(runtime, "geir.hoyland")
    [approval] = find_tasks(runtime, cycle, "measure_approval", unit)
    measure_id = approval.measure_id
    assert measure_id is not None
    decide_measure(runtime, measure_id, "return", "Tydeligere læringsmål", actor=hr)
    [proposal] = find_tasks(runtime, cycle, "measure_proposal", unit)
    data = open_task(runtime, proposal.token).submitted_data
    data["measures"][0]["learning_goals"] = "Alle kan bruke maler og flettefelt"
    submit_form(runtime, proposal.token, data)
    # The new revision is answered by its own approval task, by link this time.
    [again] = [t for t in find_tasks(runtime, cycle, "measure_approval", unit) if t.id != approval.id]
    submit_form(runtime, again.token, {"decision": "approve", "comment": "Fint"})

    returned, approved = _measure_events(runtime)
    assert (returned.action, returned.object_type, returned.object_id) == ("measure.return", "measure", str(measure_id))
    assert returned.actor == f"person:{hr}"
    assert returned.before == {"state": "proposed", "revision": 1, "hr_comment": ""}
    assert returned.after == {"state": "returned", "revision": 1, "hr_comment": "Tydeligere læringsmål"}
    assert approved.action == "measure.approve" and approved.actor == f"person:{again.assignee_id}"
    assert approved.before == {"state": "proposed", "revision": 2, "hr_comment": "Tydeligere læringsmål"}
    assert approved.after == {"state": "approved", "revision": 2, "hr_comment": "Fint"}
    with runtime.sessions() as session:
        measure = session.get(Measure, measure_id)
        assert measure is not None and measure.state == "approved"


def test_a_refused_decision_leaves_no_audit_event(runtime: Runtime, proposed: tuple[int, int]) -> None:
    cycle, unit = proposed
    [approval] = find_tasks(runtime, cycle, "measure_approval", unit)
    with pytest.raises(FormRejected):
        submit_form(runtime, approval.token, {"decision": "return", "comment": ""})
    assert _measure_events(runtime) == []


def test_hr_reads_the_decision_in_words_in_the_audit_log(runtime: Runtime, proposed: tuple[int, int]) -> None:
    cycle, unit = proposed
    [approval] = find_tasks(runtime, cycle, "measure_approval", unit)
    assert approval.measure_id is not None
    decide_measure(runtime, approval.measure_id, "approve", "Fint", actor=person_id(runtime, "geir.hoyland"))
    with hr_clients(runtime) as hr:
        sign_in(hr.client)
        page = hr.client.get("/hr/audit?action=measure.")
    assert page.status_code == 200
    row = page.text[page.text.index('data-action="measure.approve"') :]
    row = row[: row.index("</tr>")]
    assert "Godkjente et tiltak" in row and "<code>measure.approve</code>" in row and "Fint" in row
    assert 'value="measure."' in page.text  # the filter offers measure decisions
