"""Year after year, across two cycles: a new cycle's forms offer last year's answers of the same unit
(a personal form's only to the person who gave them) fitted to this year's choices, with what changed
visible; the talk preparation shows last year's agreed plan, follow-ups and goals; cloning keeps
working; a sub-unit's goals may serve the parent unit's goals, and the chain shows the cascade."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from aarshjul.clock import ManualClock
from aarshjul.db.models import Cycle, HumanTask, Submission
from aarshjul.runtime import Runtime
from aarshjul.usecases.cycle.advance import advance_cycle
from aarshjul.usecases.cycle.lifecycle import close_cycle
from aarshjul.usecases.cycle.start import clone_last_year
from aarshjul.usecases.planning.proposals import measure_proposals
from aarshjul.usecases.work.opening import open_task
from aarshjul.usecases.work.submitting import submit_form
from forms.fields import RefKind
from forms.registry import FormRejected
from service.app import create_app
from service.routes.forms import csrf_token
from tests.builders import demo_cycle, drive_unit, find_tasks, follow_up_task, submit_valid, unit_id, valid_input


@pytest.fixture
def client(runtime: Runtime) -> TestClient:
    return TestClient(create_app(runtime))


def two_years(runtime: Runtime, clock: ManualClock) -> tuple[int, int, int]:
    """The HR unit's 2027 up to its goals acknowledged and one follow-up done; then 2027 is closed
    and cloned into 2028, which has started. Returns (2027's cycle, 2028's cycle, the unit)."""
    first = demo_cycle(runtime)
    unit = unit_id(runtime, "HR")
    follow_up = follow_up_task(runtime, first, unit)
    submit_valid(runtime, follow_up)
    drive_unit(runtime, first, unit, "goal_acknowledgement")
    for task in find_tasks(runtime, first, "goal_acknowledgement", unit):
        submit_valid(runtime, task)
    close_cycle(runtime, first, actor="hr", force=True)
    clock.set(dt.datetime(2027, 12, 1, 8, tzinfo=dt.UTC))
    second = clone_last_year(runtime, actor="hr")
    clock.set(dt.datetime(2028, 1, 4, 8, tzinfo=dt.UTC))
    advance_cycle(runtime, second)
    return first, second, unit


def test_last_years_answers_are_a_starting_point_with_what_changed(
    runtime: Runtime, clock: ManualClock, client: TestClient
) -> None:
    first, second, unit = two_years(runtime, clock)
    with runtime.sessions() as session:
        cloned = session.get(Cycle, second)
        assert cloned is not None and (cloned.year, cloned.cloned_from_id) == (2028, first)

    goals = drive_unit(runtime, second, unit, "unit_goals")
    opened = open_task(runtime, goals.token)
    last = opened.context.last_year
    assert last is not None and last.year == 2027 and last.changes == []
    assert [g["title"] for g in last.data["goals"]] == ["Raskere svar til innbyggerne", "Flere digitale tjenester"]
    assert all("id" not in g for g in last.data["goals"])  # this year's rows are new
    # Main goals and competences are the same strategy period's: they carry over as they were.
    assert {g["strategic_goal_id"] for g in last.data["goals"]} <= {i for i, _ in opened.choices[RefKind.MAIN_GOAL]}
    assert last.data["goals"][0]["competence_ids"]

    # The page offers it; taking it fills the form and saves nothing.
    page = client.get(f"/t/{goals.token}").text
    assert "Begynn med fjorårets svar" in page
    taken = client.post(f"/t/{goals.token}", data={"csrf": csrf_token(runtime, goals.token), "action": "last_year"})
    assert taken.status_code == 200 and 'value="Raskere svar til innbyggerne"' in taken.text
    with runtime.sessions() as session:
        assert session.scalars(select(Submission).where(Submission.task_id == goals.id)).all() == []

    # This year the second goal is new and the first has a new target: the changes say so.
    data: dict[str, Any] = {"goals": [dict(g) for g in last.data["goals"]]}
    data["goals"][0]["target"] = "Under tre dager"
    data["goals"][1]["title"] = "Selvbetjening for alle"
    submit_form(runtime, goals.token, data)
    changes = open_task(runtime, goals.token).context.last_year
    assert changes is not None
    assert [(c.kind, c.row, c.field_label, c.before, c.after) for c in changes.changes] == [
        ("removed", "Flere digitale tjenester", "", "", ""),
        ("added", "Selvbetjening for alle", "", "", ""),
        ("changed", "Raskere svar til innbyggerne", "Target", "Under fem dager", "Under tre dager"),
    ]
    page = client.get(f"/t/{goals.token}").text
    assert "Nytt i år:" in page and "Under fem dager" in page and "Under tre dager" in page

    # The needs mapping's unit goal is fitted by name to this year's goal of the same title.
    needs_task = drive_unit(runtime, second, unit, "needs_mapping")
    needs = open_task(runtime, needs_task.token)
    assert needs.context.last_year is not None
    (need,) = needs.context.last_year.data["needs"]
    this_years = dict(needs.choices[RefKind.UNIT_GOAL])
    assert this_years[need["unit_goal_id"]] == "1. Raskere svar til innbyggerne"


def test_a_personal_form_carries_over_to_the_same_person_only(runtime: Runtime, clock: ManualClock) -> None:
    first, second, unit = two_years(runtime, clock)
    record = drive_unit(runtime, second, unit, "talk_record")
    opened = open_task(runtime, record.token)
    assert opened.context.last_year is not None  # the same leader wrote last year's record
    assert [m["level"] for m in opened.context.last_year.data["mastery"]] == ["independent"]
    assert "talk_on" not in opened.context.last_year.data  # a new talk needs a new time
    # Had someone else written last year's record, this year's leader would not get it.
    with runtime.sessions.begin() as session:
        # Another leader than this year's (the rows come in no fixed order on PostgreSQL).
        other = session.scalar(
            select(HumanTask.assignee_id)
            .where(HumanTask.form_key == "strategy_review", HumanTask.assignee_id != record.assignee_id)
            .order_by(HumanTask.id)
            .limit(1)
        )
        assert other is not None
        session.execute(
            update(HumanTask)
            .where(HumanTask.cycle_id == first, HumanTask.form_key == "talk_record")
            .values(assignee_id=other)
        )
    assert open_task(runtime, record.token).context.last_year is None
    # The employee's own preparation is theirs, and shows what was agreed last year.
    preparation = find_tasks(runtime, second, "talk_preparation", unit, subject_id=record.subject_id)[0]
    prepared = open_task(runtime, preparation.token)
    talk = prepared.context.last_year_talk
    assert talk is not None and talk.year == 2027
    assert [a.activity for a in talk.development_plan] == ["Delta i kollegaveiledning", "Være med i tiltaket"]
    assert talk.development_plan[0].need == "Bruk av sakssystemet"
    assert [g.goal for g in talk.individual_goals] == ["Svare på saker innen fem dager"]
    assert len(talk.follow_ups) == 1 and talk.follow_ups[0].note == "Status"


def test_last_years_talk_shows_which_follow_ups_were_done(
    runtime: Runtime, clock: ManualClock, client: TestClient
) -> None:
    first, second, unit = two_years(runtime, clock)
    followed = {t.subject_id for t in find_tasks(runtime, first, "talk_follow_up", unit)}
    done = {
        t.subject_id
        for t in find_tasks(runtime, first, "talk_follow_up", unit)
        if open_task(runtime, t.token).submitted is not None
    }
    assert len(done) == 1 and done < followed
    for subject in followed:
        preparation = find_tasks(runtime, second, "talk_preparation", unit, subject_id=subject)
        if not preparation:
            drive_unit(runtime, second, unit, "talk_preparation")
            preparation = find_tasks(runtime, second, "talk_preparation", unit, subject_id=subject)
        talk = open_task(runtime, preparation[0].token).context.last_year_talk
        assert talk is not None
        (follow_up,) = talk.follow_ups
        assert follow_up.done is (subject in done)
        if follow_up.done:
            assert follow_up.progress == "Godt i gang med kollegaveiledningen"
            page = client.get(f"/t/{preparation[0].token}").text
            assert "Avtalt i fjorårets samtale (2027)" in page and "fulgt opp" in page


def test_a_sub_units_goal_serves_the_parent_units_goal_and_the_chain_shows_it(runtime: Runtime) -> None:
    cycle = demo_cycle(runtime)
    top, unit = unit_id(runtime, "KOM"), unit_id(runtime, "HR")
    parent_goals = drive_unit(runtime, cycle, top, "unit_goals")
    submit_valid(runtime, parent_goals)
    goals = drive_unit(runtime, cycle, unit, "unit_goals")
    opened = open_task(runtime, goals.token)
    offered = opened.choices[RefKind.PARENT_GOAL]
    assert [label for _, label in offered] == ["1. Raskere svar til innbyggerne", "2. Flere digitale tjenester"]
    data = valid_input(opened)
    data["goals"][0]["parent_goal_id"] = offered[0][0]
    submit_form(runtime, goals.token, data)
    # The top unit cannot drop the goal the sub-unit serves.
    top_task = find_tasks(runtime, cycle, "unit_goals", top)[0]
    kept = valid_input(open_task(runtime, top_task.token))
    with pytest.raises(FormRejected) as refused:
        submit_form(runtime, top_task.token, {"goals": [dict(kept["goals"][1], id=offered[1][0], priority=1)]})
    assert [p.type for p in refused.value.problems] == ["goal_in_use_below"]
    # The chain, as HR reads a proposal: main goal, the parent unit's goal, unit goal, need, measure.
    drive_unit(runtime, cycle, unit, "measure_approval")
    (proposal,) = measure_proposals(session := runtime.sessions(), cycle)
    session.close()
    assert proposal.parent_goal == "Fjordvik kommune – kommunedirektørens stab: Raskere svar til innbyggerne"
    assert (proposal.unit_goal, proposal.need_title, proposal.competence) == (
        "Raskere svar til innbyggerne",
        "Bruk av sakssystemet",
        "Bruk av sakssystemet",
    )
    approval = find_tasks(runtime, cycle, "measure_approval", unit)[0]
    measure = open_task(runtime, approval.token).context.measure
    assert measure is not None and measure.parent_goal == proposal.parent_goal
