"""The forms over HTTP, on SQLite and PostgreSQL: every form's valid path on both faces, each kind
of bad input refused the same way by the HTML form and the JSON API, links that no longer work."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from aarshjul.db.models import HumanTask, Submission
from aarshjul.runtime import Runtime
from aarshjul.usecases.admin.task_admin import reassign_tasks
from aarshjul.usecases.cycle.lifecycle import cancel_cycle
from aarshjul.usecases.work.opening import open_task
from forms.registry import FORMS
from service.app import create_app
from service.routes.forms import csrf_token
from tests.builders import (
    TaskRef,
    find_tasks,
    person_id,
    task_for,
    valid_input,
)


def flatten(data: dict[str, Any]) -> dict[str, str]:
    """The form fields a browser would post for this data."""
    fields: dict[str, str] = {}
    for name, value in data.items():
        if isinstance(value, list):
            for index, row in enumerate(value):
                for key, item in row.items():
                    if item is not None:
                        fields[f"{name}.{index}.{key}"] = str(item)
        elif isinstance(value, bool):
            if value:
                fields[name] = "true"
        elif value is not None:
            fields[name] = str(value)
    return fields


def post_html(client: TestClient, runtime: Runtime, task: TaskRef, fields: dict[str, str], **extra: str) -> Any:
    body = {**fields, "csrf": csrf_token(runtime, task.token), "action": "submit", **extra}
    return client.post(f"/t/{task.token}", data=body, follow_redirects=False)


@pytest.fixture
def client(runtime: Runtime) -> TestClient:
    return TestClient(create_app(runtime))


def count_versions(runtime: Runtime, task_id: int) -> int:
    with runtime.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(Submission).where(Submission.task_id == task_id)))


def task_state(runtime: Runtime, task_id: int) -> str:
    with runtime.sessions() as session:
        task = session.get(HumanTask, task_id)
        assert task is not None
        return task.state


# --- the valid path, every form, both faces -----------------------------------------------------------


@pytest.mark.parametrize("form_key", sorted(FORMS))
@pytest.mark.parametrize("face", ["html", "json"])
def test_every_form_takes_valid_input(runtime: Runtime, client: TestClient, form_key: str, face: str) -> None:
    task = task_for(runtime, form_key)
    page = client.get(f"/t/{task.token}")
    assert page.status_code == 200
    assert 'name="csrf"' in page.text
    data = valid_input(open_task(runtime, task.token))
    if face == "json":
        answer = client.post(f"/api/t/{task.token}", json=data)
        assert answer.status_code == 200, answer.text
        assert answer.json()["receipt"]["version"] == 1
    else:
        answer = post_html(client, runtime, task, flatten(data))
        assert answer.status_code == 303, answer.text
        receipt = client.get(answer.headers["location"])
        assert "Takk. Vi har mottatt svaret ditt (versjon 1)." in receipt.text
    assert task_state(runtime, task.id) == "submitted"
    shown = client.get(f"/api/t/{task.token}").json()
    assert shown["task"]["state"] == "submitted"
    assert shown["submitted"]["version"] == 1


# --- bad input: the same rule, the same answer on both faces -------------------------------------------

Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        node: Any = data
        for part in parents:
            node = node[part]
        if value is DROP:
            del node[last]
        else:
            node[last] = value

    return mutate


DROP = object()
LIST_NAMES = {"goals", "actions", "needs", "measures"}
LONG = "å" * 2001

BAD_INPUT: list[tuple[str, str, Mutation, str, str]] = [
    # form, what is wrong, change to valid input, where, error type
    ("strategy_review", "missing", _set("goals.0.meaning", DROP), "goals.0.meaning", "missing"),
    ("strategy_review", "too high", _set("goals.0.relevance", 9), "goals.0.relevance", "less_than_equal"),
    ("strategy_review", "a goal left out", lambda d: d["goals"].pop(), "goals", "every_choice_needed"),
    (
        "unit_goals",
        "unknown id",
        _set("goals.0.strategic_goal_id", 9999),
        "goals.0.strategic_goal_id",
        "unknown_choice",
    ),
    ("unit_goals", "too long", _set("goals.0.indicator", LONG), "goals.0.indicator", "string_too_long"),
    ("unit_goals", "same priority", _set("goals.1.priority", 1), "goals.1.priority", "duplicate_priority"),
    ("unit_goals", "not a number", _set("goals.0.priority", "høy"), "goals.0.priority", "int_parsing"),
    ("unit_goals", "empty list", _set("goals", []), "goals", "too_short"),
    ("action_plan", "ends first", _set("actions.0.ends_on", "2027-01-15"), "actions.0.ends_on", "end_before_start"),
    ("action_plan", "after period", _set("actions.0.ends_on", "2030-01-01"), "actions.0.ends_on", "outside_period"),
    (
        "action_plan",
        "not a date",
        _set("actions.0.starts_on", "1.2.2027"),
        "actions.0.starts_on",
        "date_from_datetime_parsing",
    ),
    (
        "needs_mapping",
        "mobilise nothing",
        _set("needs.0.passive_competence", ""),
        "needs.0.passive_competence",
        "passive_needed",
    ),
    ("needs_mapping", "level too high", _set("needs.0.level_today", 7), "needs.0.level_today", "less_than_equal"),
    ("needs_mapping", "unknown kind", _set("needs.0.kind", "magic"), "needs.0.kind", "enum"),
    ("measure_proposal", "missing", _set("measures.0.desired_effect", DROP), "measures.0.desired_effect", "missing"),
    (
        "measure_proposal",
        "evaluated first",
        _set("measures.0.evaluate_on", "2027-02-01"),
        "measures.0.evaluate_on",
        "evaluation_before_start",
    ),
    (
        "measure_proposal",
        "years reversed",
        _set("measures.0.last_year", 2026),
        "measures.0.last_year",
        "end_before_start",
    ),
    (
        "measure_proposal",
        "year outside",
        _set("measures.0.last_year", 2030),
        "measures.0.last_year",
        "year_outside_period",
    ),
    (
        "measure_proposal",
        "unknown need",
        _set("measures.0.critical_need_id", 9999),
        "measures.0.critical_need_id",
        "unknown_choice",
    ),
    ("measure_approval", "return, no comment", _set("decision", "return"), "comment", "comment_required"),
    ("measure_approval", "no such decision", _set("decision", "maybe"), "decision", "enum"),
    ("talk_preparation", "missing", _set("development_wishes", DROP), "development_wishes", "missing"),
    (
        "talk_preparation",
        "too low",
        _set("self_assessment.0.mastery", 0),
        "self_assessment.0.mastery",
        "greater_than_equal",
    ),
    (
        "talk_record",
        "untied",
        _set("development_plan.0.critical_need_id", None),
        "development_plan.0.critical_need_id",
        "tie_needed",
    ),
    ("talk_record", "in the past", _set("follow_ups.0.on", "2027-01-02"), "follow_ups.0.on", "date_in_past"),
    ("talk_confirmation", "no comment", _set("agreement", "comment"), "comment", "comment_required"),
    ("goal_breakdown", "unknown goal", _set("goals.0.unit_goal_id", 9999), "goals.0.unit_goal_id", "unknown_choice"),
    ("goal_breakdown", "before period", _set("goals.0.due_on", "2024-12-31"), "goals.0.due_on", "outside_period"),
    ("goal_acknowledgement", "not ticked", _set("acknowledged", False), "acknowledged", "must_acknowledge"),
    ("measure_evaluation", "adjust, no note", _set("next_step", "adjust"), "next_step_note", "comment_required"),
    ("measure_evaluation", "missing", _set("results", DROP), "results", "missing"),
]


@pytest.mark.parametrize(
    ("form_key", "case", "mutate", "where", "kind"), BAD_INPUT, ids=[f"{c[0]}-{c[1]}" for c in BAD_INPUT]
)
def test_bad_input_is_refused_alike_by_both_faces(
    runtime: Runtime, client: TestClient, form_key: str, case: str, mutate: Mutation, where: str, kind: str
) -> None:
    task = task_for(runtime, form_key)
    data = valid_input(open_task(runtime, task.token))
    mutate(data)

    answer = client.post(f"/api/t/{task.token}?lang=en", json=data)
    assert answer.status_code == 422, answer.text
    errors = answer.json()["detail"]
    loc = ["body", *[int(p) if p.isdigit() else p for p in where.split(".")]]
    matching = [e for e in errors if e["loc"] == loc and e["type"] == kind]
    assert matching, errors

    page = client.post(
        f"/t/{task.token}?lang=en",
        data={**flatten(data), "csrf": csrf_token(runtime, task.token), "action": "submit"},
        follow_redirects=False,
    )
    assert page.status_code == 422
    assert html.escape(matching[0]["msg"], quote=True) in page.text  # the same message beside the field
    field_id = "f-" + where.replace(".", "-")
    assert f'id="{field_id}-error"' in page.text
    assert f'href="#{field_id}"' in page.text  # the summary at the top links to it
    if where not in LIST_NAMES:
        control = rf'<(?:input|select|textarea)[^>]*id="{re.escape(field_id)}"[^>]*aria-invalid="true"'
        assert re.search(control, page.text)
    assert count_versions(runtime, task.id) == 0
    assert task_state(runtime, task.id) == "open"


@pytest.mark.parametrize(
    ("body", "loc", "kind"),
    [
        ({"goals": [], "extra": 1}, ["body", "extra"], "extra_forbidden"),
        ({"goals": "many"}, ["body", "goals"], "list_type"),
        (["not", "an", "object"], ["body"], "model_type"),
    ],
)
def test_json_only_bad_shapes(runtime: Runtime, client: TestClient, body: Any, loc: list[Any], kind: str) -> None:
    task = task_for(runtime, "unit_goals")
    answer = client.post(f"/api/t/{task.token}", json=body)
    assert answer.status_code == 422
    assert any(e["loc"] == loc and e["type"] == kind for e in answer.json()["detail"]), answer.json()
    broken = client.post(f"/api/t/{task.token}", content=b"{not json", headers={"content-type": "application/json"})
    assert broken.status_code == 422 and broken.json()["detail"][0]["type"] == "json_invalid"


def test_norwegian_messages_by_default_english_on_request(runtime: Runtime, client: TestClient) -> None:
    task = task_for(runtime, "unit_goals")
    data = valid_input(open_task(runtime, task.token))
    del data["goals"][0]["title"]
    nb = client.post(f"/api/t/{task.token}", json=data).json()["detail"][0]["msg"]
    en = client.post(f"/api/t/{task.token}", json=data, headers={"Accept-Language": "en-GB"}).json()["detail"][0]["msg"]
    assert (nb, en) == ("Dette feltet må fylles ut.", "This field is required.")
    assert "Enhetens mål" in client.get(f"/t/{task.token}").text
    english = client.get(f"/t/{task.token}?lang=en").text
    assert "The unit&#39;s goals" in english and "Strategic main goal it serves" in english


# --- text is kept as typed and shown escaped ----------------------------------------------------------


def test_script_and_letters_round_trip_escaped(runtime: Runtime, client: TestClient) -> None:
    task = task_for(runtime, "unit_goals")
    data = valid_input(open_task(runtime, task.token))
    typed = '<script>alert("x")</script> Æøå ÆØÅ 🎉👩🏽‍💻'
    data["goals"][0]["title"] = typed
    assert post_html(client, runtime, task, flatten(data)).status_code == 303
    assert client.get(f"/api/t/{task.token}").json()["data"]["goals"][0]["title"] == typed
    for page in (client.get(f"/t/{task.token}").text, client.get(f"/t/{task.token}?edit=1").text):
        assert "<script>alert" not in page
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; Æøå ÆØÅ 🎉👩🏽‍💻" in page


# --- lists without JavaScript --------------------------------------------------------------------------


def test_add_row_keeps_input_and_adds_one_row(runtime: Runtime, client: TestClient) -> None:
    task = task_for(runtime, "unit_goals")
    fields = {"goals.0.title": "Første mål", "goals.1.title": "", "goals.2.title": ""}
    page = post_html(client, runtime, task, fields, action="add_row:goals")
    assert page.status_code == 200
    assert 'value="Første mål"' in page.text
    # one filled row kept, then two empty ones and the one asked for
    assert 'name="goals.3.title"' in page.text and 'name="goals.4.title"' not in page.text
    assert count_versions(runtime, task.id) == 0


# --- drafts, double submits, amendments ---------------------------------------------------------------


def test_draft_keeps_unfinished_input_without_changing_the_task(runtime: Runtime, client: TestClient) -> None:
    task = task_for(runtime, "measure_proposal")
    answer = post_html(client, runtime, task, {"measures.0.title": "Halvferdig tiltak"}, action="save_draft")
    assert answer.status_code == 303
    page = client.get(answer.headers["location"])
    assert "Utkastet ditt er lagret" in page.text and 'value="Halvferdig tiltak"' in page.text
    assert task_state(runtime, task.id) == "open"
    assert client.post(f"/api/t/{task.token}?draft=true", json={"measures": []}).status_code == 200
    assert count_versions(runtime, task.id) == 2


def test_opening_a_link_changes_nothing(runtime: Runtime, client: TestClient) -> None:
    task = task_for(runtime, "strategy_review")
    for _ in range(3):
        client.get(f"/t/{task.token}")
        client.get(f"/api/t/{task.token}")
    assert task_state(runtime, task.id) == "open"
    assert count_versions(runtime, task.id) == 0


def test_a_double_submit_is_one_submission(runtime: Runtime, client: TestClient) -> None:
    task = task_for(runtime, "unit_goals")
    data = valid_input(open_task(runtime, task.token))
    first = client.post(f"/api/t/{task.token}", json=data).json()["receipt"]
    second = client.post(f"/api/t/{task.token}", json=data).json()["receipt"]
    assert (first["version"], second["version"], second["repeated"]) == (1, 1, True)
    assert post_html(client, runtime, task, flatten(data)).status_code == 303
    assert count_versions(runtime, task.id) == 1


def test_csrf_token_is_required(runtime: Runtime, client: TestClient) -> None:
    task = task_for(runtime, "strategy_review")
    data = flatten(valid_input(open_task(runtime, task.token)))
    answer = client.post(f"/t/{task.token}", data={**data, "action": "submit", "csrf": "forged"})
    assert answer.status_code == 403
    assert count_versions(runtime, task.id) == 0


# --- links that no longer take input ---------------------------------------------------------------------


def test_submit_after_reassignment_gets_a_clear_answer(runtime: Runtime, client: TestClient) -> None:
    task = task_for(runtime, "strategy_review")
    data = valid_input(open_task(runtime, task.token))
    reassign_tasks(runtime, [task.id], person_id(runtime, "eirik.kraakenes"), actor="test")
    page = post_html(client, runtime, task, flatten(data))
    assert page.status_code == 409
    assert "Denne lenken er erstattet" in page.text and 'href="/link/new"' in page.text
    assert "Traceback" not in page.text
    api = client.post(f"/api/t/{task.token}", json=data)
    assert api.status_code == 409 and api.json()["reason"] == "replaced"
    assert client.get(f"/t/{task.token}").status_code == 410
    assert client.get("/t/1.2.3.forged").status_code == 404


def test_closed_task_shows_a_receipt_then_expires(runtime: Runtime, client: TestClient) -> None:
    task = task_for(runtime, "unit_goals")
    data = valid_input(open_task(runtime, task.token))
    assert client.post(f"/api/t/{task.token}", json=data).status_code == 200
    with runtime.sessions() as session:
        cycle_id = session.get(HumanTask, task.id).cycle_id  # type: ignore[union-attr]
    cancel_cycle(runtime, cycle_id, actor="test")
    receipt = client.get(f"/t/{task.token}")
    assert receipt.status_code == 200 and "Raskere svar til innbyggerne" in receipt.text
    assert 'name="csrf"' not in receipt.text  # read only
    assert client.post(f"/api/t/{task.token}", json=data).status_code == 409
    runtime.clock.advance(days=31)  # type: ignore[attr-defined]
    assert client.get(f"/t/{task.token}").status_code == 410
    assert client.get(f"/api/t/{task.token}").json()["reason"] == "expired"


def test_body_over_one_megabyte_is_refused(runtime: Runtime, client: TestClient) -> None:
    task = task_for(runtime, "strategy_review")
    big = {"overall_comment": "x" * (1024 * 1024 + 10)}
    assert client.post(f"/api/t/{task.token}", json=big).status_code == 413
    assert client.post(f"/t/{task.token}", data=big).status_code == 413


# --- the JSON Schema --------------------------------------------------------------------------------------


def test_schema_lists_the_valid_ids_and_the_limits(runtime: Runtime, client: TestClient) -> None:
    task = task_for(runtime, "measure_proposal")
    shown = client.get(f"/api/t/{task.token}").json()
    item = shown["schema"]["$defs"]["MeasureItem"]["properties"]
    needs = [n["id"] for n in shown["context"]["critical_needs"]]
    assert item["critical_need_id"]["enum"] == needs
    assert item["desired_effect"]["maxLength"] == 2000
    assert (item["first_year"]["minimum"], item["first_year"]["maximum"]) == (2025, 2028)
    assert item["starts_on"]["formatMinimum"] == "2025-01-01"
    assert shown["schema"]["properties"]["measures"]["maxItems"] == 50
    assert shown["schema"]["additionalProperties"] is False


def test_schema_states_the_rows_and_the_dates_of_this_task(runtime: Runtime, client: TestClient) -> None:
    record = task_for(runtime, "talk_record")
    follow_up = client.get(f"/api/t/{record.token}").json()["schema"]["$defs"]["FollowUp"]["properties"]["on"]
    assert (follow_up["formatMinimum"], follow_up["formatMaximum"]) == ("2027-01-04", "2028-12-31")  # from today
    # The employee's self-assessment has one row per critical need of the unit.
    [preparation] = find_tasks(runtime, record_cycle(runtime, record), "talk_preparation", record.unit_id)[:1]
    rows = client.get(f"/api/t/{preparation.token}").json()["schema"]["properties"]["self_assessment"]
    needs = len(open_task(runtime, preparation.token).rules.choices["critical_need"])
    assert (rows["minItems"], rows["maxItems"]) == (needs, needs) == (1, 1)


def record_cycle(runtime: Runtime, task: TaskRef) -> int:
    with runtime.sessions() as session:
        found = session.get(HumanTask, task.id)
        assert found is not None
        return found.cycle_id


def test_schema_has_one_row_per_main_goal_in_the_strategy_review(runtime: Runtime, client: TestClient) -> None:
    review = task_for(runtime, "strategy_review")
    goals = client.get(f"/api/t/{review.token}").json()["schema"]["properties"]["goals"]
    assert (goals["minItems"], goals["maxItems"]) == (4, 4)  # the demo's four main goals


def test_date_and_year_inputs_carry_the_period_as_min_and_max(runtime: Runtime, client: TestClient) -> None:
    proposal = client.get(f"/t/{task_for(runtime, 'measure_proposal').token}").text
    for name in ("starts_on", "evaluate_on"):
        control = re.search(rf'<input type="date"[^>]*name="measures\.0\.{name}"[^>]*>', proposal)
        assert control and 'min="2025-01-01"' in control[0] and 'max="2028-12-31"' in control[0]
    year = re.search(r'<input type="number"[^>]*name="measures\.0\.first_year"[^>]*>', proposal)
    assert year and 'min="2025"' in year[0] and 'max="2028"' in year[0]


def test_follow_up_dates_start_today_in_the_browser(runtime: Runtime, client: TestClient) -> None:
    record = client.get(f"/t/{task_for(runtime, 'talk_record').token}").text
    control = re.search(r'<input type="date"[^>]*name="follow_ups\.0\.on"[^>]*>', record)
    assert control and 'min="2027-01-04"' in control[0]


def test_a_receipt_shows_dates_as_people_write_them(runtime: Runtime, client: TestClient) -> None:
    task = task_for(runtime, "action_plan")
    data = valid_input(open_task(runtime, task.token))
    assert post_html(client, runtime, task, flatten(data)).status_code == 303
    assert "1. februar 2027" in client.get(f"/t/{task.token}").text
    assert "1 February 2027" in client.get(f"/t/{task.token}?lang=en").text


def test_a_form_posted_after_its_task_closed_gets_a_clear_page(runtime: Runtime, client: TestClient) -> None:
    task = task_for(runtime, "unit_goals")
    data = valid_input(open_task(runtime, task.token))
    open_page = client.get(f"/t/{task.token}")  # the person opens the form ...
    assert 'name="csrf"' in open_page.text
    with runtime.sessions() as session:
        cycle_id = session.get(HumanTask, task.id).cycle_id  # type: ignore[union-attr]
    cancel_cycle(runtime, cycle_id, actor="test")  # ... and the cycle closes before they submit
    for language, says in (("nb", "Det du sendte, ble ikke lagret."), ("en", "What you sent was not saved.")):
        body = {**flatten(data), "csrf": csrf_token(runtime, task.token), "action": "submit"}
        page = client.post(f"/t/{task.token}?lang={language}", data=body, follow_redirects=False)
        assert page.status_code == 409, page.text
        assert html.escape(says, quote=True) in page.text and 'href="/link/new' in page.text
        assert "Traceback" not in page.text and 'name="csrf"' not in page.text
    assert count_versions(runtime, task.id) == 0
