"""The write side of the forms on both databases: projections with stable ids, amendments as new
versions, HR's approve and return (by link and from the board), and the privacy of talk notes."""

from __future__ import annotations

import copy
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from aarshjul.db.models import CriticalNeed, HumanTask, Measure, Submission, UnitGoal
from aarshjul.domain.errors import Forbidden
from aarshjul.runtime import Runtime
from aarshjul.usecases.work.form_context import task_inputs, task_rules
from aarshjul.usecases.work.links import task_by_link
from aarshjul.usecases.work.measure_decision import decide_measure
from aarshjul.usecases.work.opening import open_task
from aarshjul.usecases.work.submitting import submit_form
from forms.registry import FormRejected, referenced_kinds
from service.app import create_app
from tests.builders import (
    ORDER,
    demo_cycle,
    drive_unit,
    find_tasks,
    person_id,
    submit_valid,
    unit_id,
    valid_input,
    valid_measure,
)
from tests.hr_support import hr_clients, sign_in


def test_amending_unit_goals_keeps_ids_and_retires_dropped_goals(runtime: Runtime) -> None:
    cycle = demo_cycle(runtime)
    task = drive_unit(runtime, cycle, unit_id(runtime, "HR"), "unit_goals")
    submit_form(runtime, task.token, valid_input(open_task(runtime, task.token)))
    stored = open_task(runtime, task.token).submitted_data["goals"]
    first, second = stored[0]["id"], stored[1]["id"]
    amended: dict[str, Any] = {"goals": [{**stored[0], "title": "Svar innen tre dager"}]}
    receipt = submit_form(runtime, task.token, amended)
    assert receipt.version == 2
    with runtime.sessions() as session:
        goals = {g.id: g for g in session.scalars(select(UnitGoal))}
        versions = list(session.scalars(select(Submission.version).where(Submission.task_id == task.id)))
    assert goals[first].title == "Svar innen tre dager" and not goals[first].retired
    assert goals[second].retired
    assert versions == [1, 2]
    # A dropped goal can no longer be pointed at by later steps.
    assert second not in open_task(runtime, task.token).rules.choices["unit_goal"]


def test_needs_mapping_projects_critical_needs(runtime: Runtime) -> None:
    cycle = demo_cycle(runtime)
    task = drive_unit(runtime, cycle, unit_id(runtime, "HR"), "needs_mapping")
    submit_form(runtime, task.token, valid_input(open_task(runtime, task.token)))
    with runtime.sessions() as session:
        needs = list(session.scalars(select(CriticalNeed)))
    assert [(n.title, n.strategy, n.level_needed, n.level_today) for n in needs] == [
        ("Bruk av sakssystemet", "mobilise", 4, 2)
    ]


def test_a_measure_must_answer_a_need_of_its_own_unit(runtime: Runtime) -> None:
    cycle = demo_cycle(runtime)
    own = drive_unit(runtime, cycle, unit_id(runtime, "HR"), "measure_proposal")
    other = drive_unit(runtime, cycle, unit_id(runtime, "HEL"), "measure_proposal")
    foreign_need = open_task(runtime, other.token).rules.choices["critical_need"]
    data = {"measures": [valid_measure(next(iter(foreign_need)))]}
    with pytest.raises(FormRejected) as refused:
        submit_form(runtime, own.token, data)
    assert [(p.loc, p.type) for p in refused.value.problems] == [
        (("measures", 0, "critical_need_id"), "unknown_choice")
    ]


def _proposed(runtime: Runtime) -> tuple[int, Any, Any]:
    cycle = demo_cycle(runtime)
    unit = unit_id(runtime, "HR")
    proposal = drive_unit(runtime, cycle, unit, "measure_proposal")
    submit_valid(runtime, proposal)
    [approval] = find_tasks(runtime, cycle, "measure_approval", unit)
    return cycle, proposal, approval


def test_hr_returns_a_proposal_and_the_leader_amends_it(runtime: Runtime) -> None:
    cycle, proposal, approval = _proposed(runtime)
    client = TestClient(create_app(runtime))
    refused = client.post(f"/api/t/{approval.token}", json={"decision": "return", "comment": ""})
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["body", "comment"]
    answer = client.post(f"/api/t/{approval.token}", json={"decision": "return", "comment": "Tydeligere læringsmål"})
    assert answer.status_code == 200
    with runtime.sessions() as session:
        measure = session.scalars(select(Measure)).one()
        assert (measure.state, measure.hr_comment) == ("returned", "Tydeligere læringsmål")
        assert session.get(HumanTask, proposal.id).state == "returned"  # type: ignore[union-attr]
    # The leader's own link opens the proposal for changes again, with HR's comment.
    page = client.get(f"/t/{proposal.token}")
    assert 'name="csrf"' in page.text and "Tydeligere læringsmål" in page.text
    # The decision is final: the approval link is now a receipt.
    assert client.post(f"/api/t/{approval.token}", json={"decision": "approve"}).status_code == 409

    data = open_task(runtime, proposal.token).submitted_data
    data["measures"][0]["learning_goals"] = "Alle kan bruke maler og flettefelt"
    assert submit_form(runtime, proposal.token, data).version == 2
    with runtime.sessions() as session:
        measure = session.scalars(select(Measure)).one()
        assert (measure.state, measure.revision) == ("proposed", 2)
    unit = unit_id(runtime, "HR")
    open_approvals = [t for t in find_tasks(runtime, cycle, "measure_approval", unit) if t.id != approval.id]
    assert len(open_approvals) == 1  # the engine asks HR again, for the new revision


def test_hr_decides_from_the_board(runtime: Runtime) -> None:
    _cycle, _proposal, approval = _proposed(runtime)
    assert approval.measure_id is not None
    with pytest.raises(Forbidden):
        decide_measure(runtime, approval.measure_id, "approve", "", actor=person_id(runtime, "eirik.kraakenes"))
    receipt = decide_measure(runtime, approval.measure_id, "approve", "Fint", actor=person_id(runtime, "geir.hoyland"))
    assert receipt.version == 1
    with runtime.sessions() as session:
        assert session.scalars(select(Measure.state)).one() == "approved"
        assert session.get(HumanTask, approval.id).state == "submitted"  # type: ignore[union-attr]


def test_talk_notes_are_for_the_employee_and_their_leader(runtime: Runtime) -> None:
    cycle = demo_cycle(runtime)
    unit = unit_id(runtime, "HR")
    prepare = drive_unit(runtime, cycle, unit, "talk_preparation", subject_id=person_id(runtime, "eirik.kraakenes"))
    data = valid_input(open_task(runtime, prepare.token))
    data["unused_competence"] = "Hemmelig: jeg kan SQL"
    data["share_unused_competence"] = False
    submit_form(runtime, prepare.token, data)
    [record] = find_tasks(runtime, cycle, "talk_record", unit, subject_id=prepare.subject_id)
    client = TestClient(create_app(runtime))
    page = client.get(f"/t/{record.token}")
    assert page.status_code == 200
    assert "Lære mer om sakssystemet" in page.text  # shared
    assert "Hemmelig" not in page.text  # not shared
    assert "Hemmelig" not in client.get(f"/api/t/{record.token}").text

    # Given to HR, or to another unit's leader, the record's link shows nothing of the talk.
    for other in ("geir.hoyland", "brit.aasen"):
        other_id = person_id(runtime, other)
        with runtime.sessions() as session:
            task = session.get(HumanTask, record.id)
            assert task is not None
            task.assignee_id = other_id
            session.commit()
        moved = find_tasks(runtime, cycle, "talk_record", unit, subject_id=prepare.subject_id)[0]
        assert client.get(f"/t/{moved.token}").status_code == 403
        assert client.get(f"/api/t/{moved.token}").status_code == 403


TYPED = '<script>alert("x")</script> <b>fet</b> & «æøå ÆØÅ» 🎉👩🏽‍💻'
ESCAPED = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &lt;b&gt;fet&lt;/b&gt; &amp; «æøå ÆØÅ» 🎉👩🏽‍💻"


def test_typed_text_is_kept_as_typed_and_shown_escaped_everywhere(runtime: Runtime) -> None:
    cycle = demo_cycle(runtime)
    unit = unit_id(runtime, "HR")
    proposal = drive_unit(runtime, cycle, unit, "measure_proposal")
    data = valid_input(open_task(runtime, proposal.token))
    for name in ("title", "desired_effect", "success_criteria"):
        data["measures"][0][name] = TYPED
    with hr_clients(runtime) as hr:
        client = hr.client
        assert client.post(f"/api/t/{proposal.token}", json=data).status_code == 200
        measure = client.get(f"/api/t/{proposal.token}").json()["data"]["measures"][0]
        assert (measure["title"], measure["desired_effect"]) == (TYPED, TYPED)  # as typed, emoji and all
        with runtime.sessions() as session:
            assert session.scalars(select(Measure.title)).one() == TYPED
        [approval] = find_tasks(runtime, cycle, "measure_approval", unit)
        sign_in(client)
        pages = {
            "receipt": client.get(f"/t/{proposal.token}").text,
            "amend": client.get(f"/t/{proposal.token}?edit=1").text,
            "approval": client.get(f"/t/{approval.token}").text,
            "HR's proposals": client.get("/hr/measures").text,
        }
        decide_measure(runtime, approval.measure_id or 0, "approve", "", actor=person_id(runtime, "geir.hoyland"))
        pages["plan"] = client.get("/plan").text
    for name, page in pages.items():
        assert "<script>alert" not in page and "<b>fet</b>" not in page, name
        assert ESCAPED in page, name


def test_a_double_click_on_submit_stores_one_submission(runtime: Runtime) -> None:
    """Two posts of the same form at the same moment: one version, both answered with its receipt."""
    cycle = demo_cycle(runtime)
    task = drive_unit(runtime, cycle, unit_id(runtime, "HR"), "unit_goals")
    data = valid_input(open_task(runtime, task.token))
    start = threading.Barrier(2)

    def click() -> int:
        start.wait()
        return submit_form(runtime, task.token, copy.deepcopy(data)).version

    with ThreadPoolExecutor(2) as pool:
        versions = [f.result() for f in [pool.submit(click), pool.submit(click)]]
    assert versions == [1, 1]
    with runtime.sessions() as session:
        assert list(session.scalars(select(Submission.version).where(Submission.task_id == task.id))) == [1]
        assert len(list(session.scalars(select(UnitGoal)))) == 2  # the goals were made once


def test_a_need_must_serve_a_goal_of_its_own_unit(runtime: Runtime) -> None:
    cycle = demo_cycle(runtime)
    own = drive_unit(runtime, cycle, unit_id(runtime, "HR"), "needs_mapping")
    other = drive_unit(runtime, cycle, unit_id(runtime, "HEL"), "needs_mapping")
    foreign_goal = min(open_task(runtime, other.token).rules.choices["unit_goal"])
    data = valid_input(open_task(runtime, own.token))
    data["needs"][0]["unit_goal_id"] = foreign_goal
    with pytest.raises(FormRejected) as refused:
        submit_form(runtime, own.token, data)
    assert [(p.loc, p.type) for p in refused.value.problems] == [(("needs", 0, "unit_goal_id"), "unknown_choice")]


def test_a_submission_is_checked_against_the_same_rules_the_form_shows(runtime: Runtime) -> None:
    """``task_rules`` (what a submission reads) agrees with ``task_inputs`` (what the page shows) on
    every kind of id the form points at, for every form of a unit's year."""
    cycle_id = demo_cycle(runtime)
    unit = unit_id(runtime, "HR")
    today = runtime.clock().date()
    seen = set()
    for form_key in ORDER:
        task = drive_unit(runtime, cycle_id, unit, form_key)
        with runtime.sessions() as session:
            found, _cycle = task_by_link(session, runtime, task.token)
            shown = task_inputs(session, found, today).rules
            checked = task_rules(session, found, today)
        kinds = referenced_kinds(form_key)
        assert {k: checked.choices[k] for k in kinds} == {k: shown.choices[k] for k in kinds}, form_key
        assert (checked.first_year, checked.last_year, checked.today) == (shown.first_year, shown.last_year, today)
        seen |= kinds
    assert len(seen) == 5  # every kind of reference is covered
