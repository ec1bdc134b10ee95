"""The competence mapping before the needs mapping: each employee assesses the competences the unit's
goals call for; the leader's needs mapping shows the unit's counts per level (never names, nothing
below five people: tested at four and five), and the competence not in use that people chose to share;
HR sees the roll-up across units with the same minimum; the answers are personal data."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from aarshjul.db.models import Competence, CompetenceAssessment, Person, SharedCompetence
from aarshjul.domain.competence import MIN_GROUP_SIZE
from aarshjul.runtime import Runtime
from aarshjul.usecases.personal.export import _export
from aarshjul.usecases.work.links import Mode
from aarshjul.usecases.work.opening import open_task
from aarshjul.usecases.work.submitting import submit_form
from forms.fields import RefKind
from service.app import create_app
from tests.builders import TaskRef, demo_cycle, drive_unit, find_tasks, submit_valid, unit_id, valid_input
from tests.hr_support import hr_clients, sign_in

LEVELS = ["new", "basic", "independent", "independent", "teaches", "proficient"]


@pytest.fixture
def client(runtime: Runtime) -> TestClient:
    return TestClient(create_app(runtime))


def names(runtime: Runtime, ids: set[int]) -> set[str]:
    with runtime.sessions() as session:
        return set(session.scalars(select(Person.name).where(Person.id.in_(ids))))


def map_unit(runtime: Runtime, cycle: int, code: str, share: set[int] | None = None) -> list[TaskRef]:
    """Drive the unit to its competence mapping and let every employee answer: the n-th employee at
    LEVELS[n] for every competence; those in ``share`` (by position) share their unused competence."""
    unit = unit_id(runtime, code)
    drive_unit(runtime, cycle, unit, "competence_mapping")
    tasks = find_tasks(runtime, cycle, "competence_mapping", unit)
    for n, task in enumerate(tasks):
        data = valid_input(open_task(runtime, task.token))
        for row in data["mastery"]:
            row["level"] = LEVELS[n]
        data["share_unused_with_leader"] = n in (share or set())
        data["unused_competence"] = f"Kan noe ingen vet om ({n})"
        submit_form(runtime, task.token, data)
    return tasks


def test_the_mapping_asks_about_the_competences_the_unit_goals_call_for(runtime: Runtime, client: TestClient) -> None:
    cycle = demo_cycle(runtime)
    task = drive_unit(runtime, cycle, unit_id(runtime, "HR"), "competence_mapping")
    assert task.subject_id == task.assignee_id  # each employee's own task
    opened = open_task(runtime, task.token)
    with runtime.sessions() as session:
        catalogue = {c.id: c.code for c in session.scalars(select(Competence))}
    # valid_input's unit goals call for the catalogue's 4th and 5th competences.
    assert [catalogue[i] for i, _ in opened.choices[RefKind.UNIT_COMPETENCE]] == ["DIG-SAK", "DIG-TJENESTE"]
    assert [g.competences for g in opened.context.unit_goals] == [
        ["Bruk av sakssystemet", "Utvikling av digitale tjenester"],
        ["Utvikling av digitale tjenester"],
    ]
    # The JSON API offers the form like any other: one row per competence, the described scale.
    body = client.get(f"/api/t/{task.token}").json()
    assert body["task"]["form"] == "competence_mapping"
    mastery = body["schema"]["properties"]["mastery"]
    assert (mastery["minItems"], mastery["maxItems"]) == (2, 2)
    level = body["schema"]["$defs"]["CompetenceMastery"]["properties"]["level"]
    assert body["schema"]["$defs"][level["$ref"].rsplit("/", 1)[-1]]["enum"] == [
        "new",
        "basic",
        "independent",
        "proficient",
        "teaches",
    ]
    # Every competence must be answered.
    data = valid_input(opened)
    data["mastery"] = data["mastery"][:1]
    refused = client.post(f"/api/t/{task.token}?lang=en", json=data)
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["type"] == "every_choice_needed"
    # The page describes the scale and says who sees what.
    page = client.get(f"/t/{task.token}").text
    assert "Selvstendig: gjør det på egen hånd i det daglige arbeidet" in page
    assert "aldri svarene dine" in page


@pytest.mark.parametrize(("code", "people"), [("HR", 4), ("HEL", 5)])
def test_the_leader_sees_counts_only_from_five_people(
    runtime: Runtime, client: TestClient, code: str, people: int
) -> None:
    cycle = demo_cycle(runtime)
    tasks = map_unit(runtime, cycle, code, share={1})
    assert len(tasks) == people
    unit = unit_id(runtime, code)
    (mapping,) = find_tasks(runtime, cycle, "needs_mapping", unit)
    context = client.get(f"/api/t/{mapping.token}").json()["context"]["competence_picture"]
    assert (context["asked"], context["respondents"], context["minimum_group_size"]) == (people, people, MIN_GROUP_SIZE)
    page = client.get(f"/t/{mapping.token}").text
    if people < MIN_GROUP_SIZE:
        assert context["hidden"] is True and context["competences"] == []
        assert 'data-hidden="true"' in page and "færre enn 5 personer har svart" in page
        assert 'data-aggregate="true"' not in page
    else:
        assert context["hidden"] is False
        assert [c["name"] for c in context["competences"]] == [
            "Bruk av sakssystemet",
            "Utvikling av digitale tjenester",
        ]
        for competence in context["competences"]:
            counts = {c["value"]: c["count"] for c in competence["counts"]}
            assert counts == {"new": 1, "basic": 1, "independent": 2, "proficient": 0, "teaches": 1}
        assert 'data-aggregate="true"' in page
    # Never a name in the counts; the one who shared is named with what they shared, nobody else.
    table = page.split('data-aggregate="true"', 1)[1].split("</table>", 1)[0] if people >= 5 else ""
    everyone = names(runtime, {t.subject_id for t in tasks if t.subject_id})
    assert not any(name in table for name in everyone)
    sharer = names(runtime, {tasks[1].subject_id or 0}).pop()
    assert [(s["person"], s["competence"], s["text"]) for s in context["shared"]] == [
        (sharer, "Lede endringsprosesser", "Fra forrige jobb"),  # from the catalogue, with a note
        (sharer, "", "Kan noe ingen vet om (1)"),  # in their own words
    ]
    assert sharer in page and "Kan noe ingen vet om (1)" in page and "Kan noe ingen vet om (0)" not in page


def test_a_mapping_is_settled_once_the_unit_is_done_and_stays_private(runtime: Runtime) -> None:
    cycle = demo_cycle(runtime)
    tasks = map_unit(runtime, cycle, "HR")
    # Once everyone has answered the leader has seen the counts: a change would show who changed what.
    assert open_task(runtime, tasks[0].token).task.mode is Mode.READ
    with runtime.sessions() as session:
        assert len(session.scalars(select(CompetenceAssessment)).all()) == 2 * len(tasks)
        assert session.scalars(select(SharedCompetence)).all() == []  # nobody shared
    with hr_clients(runtime) as clients:
        detail = clients.client.get(f"/api/cycles/{cycle}/units/{unit_id(runtime, 'HR')}", headers=clients.api())
        forms = [f for f in detail.json()["submitted"] if f["form_key"] == "competence_mapping"]
        assert len(forms) == len(tasks) and all(f["private"] and f["fields"] == [] for f in forms)
    # The person's export has their own answers.
    with runtime.sessions() as session:
        person = session.get(Person, tasks[0].subject_id)
        assert person is not None
        exported = _export(session, runtime, person, runtime.clock())
    (mine,) = [s for s in exported["submissions"] if s["form"] == "competence_mapping"]
    assert {row["level"] for row in mine["data"]["mastery"]} == {"new"}
    assert {a["competence"] for a in exported["competence_mapping"]} == {
        "Bruk av sakssystemet",
        "Utvikling av digitale tjenester",
    }


def test_hr_sees_the_roll_up_by_competence_with_the_same_minimum(runtime: Runtime) -> None:
    cycle = demo_cycle(runtime)
    # The HR unit's goals also call for data protection; only its four people answer for it.
    unit = unit_id(runtime, "HR")
    goals = drive_unit(runtime, cycle, unit, "unit_goals")
    data: dict[str, Any] = valid_input(open_task(runtime, goals.token))
    with runtime.sessions() as session:
        data_protection = session.scalar(select(Competence.id).where(Competence.code == "DIG-DATA"))
    data["goals"][1]["competence_ids"] = [*data["goals"][1]["competence_ids"], data_protection]
    submit_form(runtime, goals.token, data)
    map_unit(runtime, cycle, "HR", share={0})
    map_unit(runtime, cycle, "HEL")
    submit_valid(runtime, find_tasks(runtime, cycle, "needs_mapping", unit)[0])
    with hr_clients(runtime) as clients:
        answer = clients.client.get(f"/api/cycles/{cycle}/competences", headers=clients.api())
        assert answer.status_code == 200
        rows = {r["code"]: r for r in answer.json()["competences"]}
        assert list(rows) == ["END-LEDE", "DIG-SAK", "DIG-TJENESTE", "DIG-DATA"]  # the catalogue's order
        assert rows["DIG-SAK"]["respondents"] == 9 and not rows["DIG-SAK"]["hidden"]
        assert sum(c["count"] for c in rows["DIG-SAK"]["levels"]) == 9
        assert rows["DIG-SAK"]["units_asking"] == 2
        assert rows["DIG-SAK"]["need_units"] == ["Personal og organisasjon"]
        assert rows["DIG-DATA"]["respondents"] == 4 and rows["DIG-DATA"]["hidden"]
        assert rows["DIG-DATA"]["levels"] == []
        # Shared as not in use (valid_input shares the catalogue's first competence): the unit, not the person.
        assert rows["END-LEDE"]["shared_in_units"] == ["Personal og organisasjon"]
        assert (
            clients.client.get(
                f"/api/cycles/{cycle}/competences", headers=clients.api(clients.leader_token)
            ).status_code
            == 403
        )
        sign_in(clients.client)
        page = clients.client.get(f"/hr/competences?cycle={cycle}")
        assert page.status_code == 200 and "Bruk av sakssystemet" in page.text
        assert "Færre enn 5 svar" in page.text  # data protection, four answers
