"""HR's HTML forms are parsed into the API's command models: a bad value in any of them answers 422
with the page it came from, the error beside the field in the reader's language (bokmål and English)
and what was typed kept. Path and query parameters are typed and bounded: Unicode digits and ids
beyond 64 bits are a 4xx on every face, never a 500."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from aarshjul.clock import ManualClock
from aarshjul.presentation.i18n import gettext
from aarshjul.runtime import Runtime
from tests.builders import demo_cycle, drive_unit, find_tasks, unit_id
from tests.hr_support import HrClients, hr_clients, sign_in

BIG = "99999999999999999999"  #: 20 digits: more than a 64-bit integer holds


@dataclass
class World:
    hr: HrClients
    csrf: str
    cycle_id: int
    hr_unit: int
    open_task: int  #: an open task of the HR unit
    late_task: int  #: a late task on the board
    measure: int  #: a proposal waiting for HR


@pytest.fixture(name="world")
def world_fixture(runtime: Runtime, clock: ManualClock) -> Iterator[World]:
    cycle_id = demo_cycle(runtime)
    hr_unit = unit_id(runtime, "HR")
    drive_unit(runtime, cycle_id, unit_id(runtime, "HEL"), "measure_approval")
    open_task = find_tasks(runtime, cycle_id, "strategy_review", hr_unit)[0].id
    clock.advance(days=60)  # the other units' first steps are late
    with hr_clients(runtime) as hr:
        csrf = sign_in(hr.client)
        late = hr.client.get(f"/api/cycles/{cycle_id}/status", headers=hr.api()).json()["late"]
        measure = hr.client.get("/api/measures", headers=hr.api()).json()[0]["id"]
        yield World(hr, csrf, cycle_id, hr_unit, open_task, late[0]["task_id"], measure)


@dataclass
class Case:
    """A form posted with a bad value: where the error must show and what must be kept."""

    name: str
    path: str
    data: dict[str, str | list[str]]
    error_id: str  #: the id of the field the error is beside (its message is "<id>-error")
    message: str  #: the English message id
    ctx: dict[str, str] = field(default_factory=dict)
    kept: tuple[str, str] | None = None  #: (element id, text the element must hold)
    marked: bool = True  #: the field itself is marked aria-invalid (a list of boxes is not one field)


def _cases(w: World) -> list[Case]:
    c, unit_page, board = w.cycle_id, f"/board/units/{w.hr_unit}?cycle={w.cycle_id}", f"/board?cycle={w.cycle_id}"
    return [
        Case("start: year", "/hr/cycles/preview", {"year": "²", "starts_on": "2027-03-06"},
             "year", "Give a whole number.", kept=("year", 'value="²"')),
        Case("start: date", "/hr/cycles/start", {"year": "2028", "starts_on": "2028-02-30"},
             "starts_on", "Give a date as YYYY-MM-DD.", kept=("starts_on", 'value="2028-02-30"')),
        Case("start: deadline out of range", "/hr/cycles/preview", {"year": "2028", "due_talks": "2101-01-01"},
             "due_talks", "Give a date from {first} to {last}.", {"first": "2000-01-01", "last": "2100-12-31"},
             kept=("due_talks", 'value="2101-01-01"')),
        Case("clone", "/hr/cycles/clone", {"starts_on": "4.1.2028"},
             "clone-start", "Give a date as YYYY-MM-DD.", kept=("clone-start", 'value="4.1.2028"')),
        Case("close", f"/hr/cycles/{c}/close", {"force": "kanskje"},
             f"force-{c}", "Give yes or no (true or false)."),
        Case("deadline on the board", f"/hr/cycles/{c}/deadlines",
             {"step_key": "talks", "new_due": "2027-02-30", "back": board},
             "extend-date", "Give a date as YYYY-MM-DD.", kept=("extend-date", 'value="2027-02-30"')),
        Case("deadline in the drill-down", f"/hr/cycles/{c}/deadlines",
             {"unit_id": str(w.hr_unit), "step_key": "strategy_review", "new_due": "99999-01-01", "back": unit_page},
             "new-due-strategy_review", "Give a date as YYYY-MM-DD.",
             kept=("new-due-strategy_review", 'value="99999-01-01"')),
        Case("reassign on the board", f"/hr/cycles/{c}/reassign",
             {"task_id": [str(w.late_task)], "assignee_email": "  ", "back": board},
             "assignee-email", "Write the email address of the person who takes over.",
             kept=(f"late-{w.late_task}", "checked")),
        Case("reassign in the drill-down", f"/hr/cycles/{c}/reassign",
             {"task_id": ["²", BIG], "assignee_email": "kari@fjordvik.kommune.no", "back": unit_page},
             "open-tasks", "Choose at least one task.",
             kept=("assignee-email", 'value="kari@fjordvik.kommune.no"'), marked=False),
        Case("remind", f"/hr/cycles/{c}/remind", {"step_key": "Talks!"},
             "remind-step", "Choose one of the options."),
        Case("decision", f"/hr/measures/{w.measure}/decision", {"decision": "kanskje", "comment": "Må ha mer"},
             f"decision-{w.measure}", "Choose one of the options.",
             kept=(f"comment-{w.measure}", ">Må ha mer</textarea>"), marked=False),
        Case("decision's own rule", f"/hr/measures/{w.measure}/decision", {"decision": "return", "comment": " "},
             f"comment-{w.measure}", "Write a comment."),
        Case("invitation", "/plan/reviewers", {"name": "Per\x00", "email": "per@example.no", "language": "nb"},
             "invite-name", "Remove the control characters from the text.",
             kept=("invite-email", 'value="per@example.no"')),
    ]  # fmt: skip


def _element(page: str, element_id: str) -> str:
    """The opening tag of the element with this id (with a textarea, its text too)."""
    found = re.search(rf'<(input|select|textarea)\b[^>]*\bid="{re.escape(element_id)}"[^>]*>([^<]*</textarea>)?', page)
    assert found is not None, f"no element {element_id!r} in the page"
    return found.group(0)


def _check(case: Case, page: str, language: str) -> None:
    message = gettext(language, case.message).format(**case.ctx)
    beside = f'<p class="error" id="{case.error_id}-error">{html.escape(message)}</p>'
    assert beside in page, (case.name, language, message)
    if case.marked:
        tag = _element(page, case.error_id)
        assert f'aria-invalid="true" aria-describedby="{case.error_id}-error"' in tag, (case.name, tag)
    if case.kept is not None:
        element, text = case.kept
        assert text in _element(page, element), (case.name, language)


def test_every_hr_form_refuses_a_bad_value_beside_the_field_with_the_input_kept(world: World) -> None:
    client = world.hr.client
    for case in _cases(world):
        for language in ("nb", "en"):
            answer = client.post(
                case.path,
                data={**case.data, "csrf_token": world.csrf},
                headers={"Accept-Language": language},
                follow_redirects=False,
            )
            assert answer.status_code == 422, (case.name, language, answer.status_code, answer.text[:300])
            assert answer.headers["content-language"] == language
            _check(case, answer.text, language)
        assert gettext("nb", case.message) != case.message, case.message  # bokmål says it in bokmål
    # Nothing was changed: no second cycle, no reviewer, the proposal still waiting.
    assert len(client.get("/api/cycles", headers=world.hr.api()).json()) == 1
    assert [m["id"] for m in client.get("/api/measures", headers=world.hr.api()).json()][0] == world.measure


def test_a_refused_form_shows_its_page_with_that_pages_navigation_and_language_links(world: World) -> None:
    board = f"/board?cycle={world.cycle_id}"
    answer = world.hr.client.post(
        f"/hr/cycles/{world.cycle_id}/remind", data={"step_key": "²", "csrf_token": world.csrf}
    )
    assert answer.status_code == 422
    assert 'href="/board" aria-current="page"' in answer.text
    assert f'href="/board?cycle={world.cycle_id}&amp;lang=en"' in answer.text
    assert "Ingenting ble endret. Rett det som er markert, og prøv igjen." in answer.text
    # The person's filters stay when the refused form came from a filtered board.
    filtered = world.hr.client.post(
        f"/hr/cycles/{world.cycle_id}/reassign",
        data={"task_id": "x", "assignee_email": "a@b.no", "back": f"{board}&late=1", "csrf_token": world.csrf},
    )
    assert filtered.status_code == 422 and 'id="f-late" name="late" value="1" checked' in filtered.text


def test_a_use_cases_refusal_is_shown_beside_the_field_it_names(world: World) -> None:
    unit_page = f"/board/units/{world.hr_unit}?cycle={world.cycle_id}"
    answer = world.hr.client.post(
        f"/hr/cycles/{world.cycle_id}/reassign",
        data={
            "task_id": str(world.open_task),
            "assignee_email": "ingen@example.no",
            "back": unit_page,
            "csrf_token": world.csrf,
        },
    )
    assert answer.status_code == 422
    assert '<p class="error" id="assignee-email-error">ingen person har denne e-postadressen</p>' in answer.text
    assert 'value="ingen@example.no"' in _element(answer.text, "assignee-email")
    box = re.search(rf'<input type="checkbox" name="task_id" value="{world.open_task}"[^>]*>', answer.text)
    assert box is not None and "checked" in box.group(0)


#: (method, path, JSON body or None): each must answer 4xx.
BAD_PARAMETERS = [
    ("GET", "/board?unit=²", None),
    ("GET", f"/board?cycle={BIG}", None),
    ("GET", "/board?cycle=0", None),
    ("GET", "/board?step=%00", None),
    ("GET", f"/board/units/{BIG}", None),
    ("GET", "/board/units/²", None),
    ("GET", "/board/wheel.svg?cycle=¹", None),
    ("GET", f"/board/units/1?task={BIG}", None),
    ("GET", f"/hr/audit?offset={BIG}", None),
    ("GET", "/hr/audit?action=%00", None),
    ("GET", "/plan?needs_year=²", None),
    ("GET", "/plan?needs_year=99999", None),
    ("POST", f"/hr/tasks/{BIG}/link/revoke", None),
    ("POST", f"/hr/cycles/{BIG}/close", None),
    ("POST", "/plan/reviewers/²/remove", None),
    ("POST", f"/hr/measures/{BIG}/decision", None),
    ("GET", f"/api/cycles/{BIG}/status", None),
    ("GET", "/api/cycles/1/status?unit_id=²", None),
    ("GET", f"/api/cycles/1/status.csv?unit_id={BIG}", None),
    ("GET", f"/api/cycles/1/units/{BIG}", None),
    ("GET", "/api/audit?offset=²", None),
    ("GET", f"/api/measures?cycle_id={BIG}", None),
    ("GET", f"/api/plan?period_id={BIG}", None),
    ("GET", "/api/plan?needs_year=²", None),
    ("DELETE", f"/api/tokens/{BIG}", None),
    ("POST", "/api/cycles/1/reassignments", {"task_ids": [2**64], "assignee_email": "a@b.no"}),
    ("POST", "/api/cycles/1/deadlines", {"new_due": "2027-05-01", "task_ids": [2**63]}),
    ("POST", "/api/cycles", {"year": 2027, "starts_on": "9999-12-31"}),
    ("POST", "/api/cycles", {"year": 2027, "step_due": {"talks": "1900-01-01"}}),
    ("POST", "/api/measures/1/decision", {"decision": "approve", "comment": "\u0000"}),
]


def test_unicode_digits_and_ids_beyond_64_bits_are_refused_on_every_face(world: World) -> None:
    client = world.hr.client
    for method, path, body in BAD_PARAMETERS:
        headers = world.hr.api() if path.startswith("/api/") else {"X-CSRF-Token": world.csrf}
        answer = client.request(method, path, json=body, headers=headers)
        assert 400 <= answer.status_code < 500, (method, path, answer.status_code, answer.text[:200])
        if not path.startswith("/api/"):
            assert answer.headers["content-type"].startswith("text/html"), (method, path)
    # A form posted with an id beyond 64 bits is a refused form too, not a server error.
    extend = client.post(
        f"/hr/cycles/{world.cycle_id}/deadlines",
        data={"task_id": BIG, "new_due": "2027-06-01", "csrf_token": world.csrf},
    )
    assert extend.status_code == 422 and "Skriv et tall som er høyst 9223372036854775807." in extend.text


def test_ids_past_the_databases_integer_name_nothing(world: World) -> None:
    """The edge takes 64-bit ids; PostgreSQL's INTEGER ends at 2**31 - 1, and an id past it is no such
    thing (not a server error), as on SQLite."""
    past = 2**31
    for path in (f"/api/measures?cycle_id={past}", f"/api/cycles/{past}/status", f"/board/units/{past}"):
        headers = world.hr.api() if path.startswith("/api/") else {}
        answer = world.hr.client.get(path, headers=headers)
        assert answer.status_code in (200, 404), (path, answer.status_code, answer.text[:200])
        if answer.status_code == 200:
            assert answer.json() == [], path
