"""The competence plan: approved measures by competence area and year, the needs roll-up, exports."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator

import pytest
from openpyxl import load_workbook
from sqlalchemy import select, update

from aarshjul.db.models import CompetenceArea, CriticalNeed, Measure, Unit
from aarshjul.runtime import Runtime
from aarshjul.usecases.cycle.sweep import sweep
from tests.builders import demo_cycle, drive_unit, find_tasks, submit_valid, unit_id
from tests.hr_support import HrClients, hr_clients


@pytest.fixture(name="hr")
def hr_fixture(runtime: Runtime) -> Iterator[HrClients]:
    cycle_id = demo_cycle(runtime)
    hel, hje = unit_id(runtime, "HEL"), unit_id(runtime, "HJE")
    drive_unit(runtime, cycle_id, hel, "measure_proposal")
    drive_unit(runtime, cycle_id, hje, "measure_proposal")
    with runtime.sessions() as session:
        digital = session.scalar(select(CompetenceArea.id).where(CompetenceArea.code == "DIGITAL"))
    with runtime.sessions.begin() as session:
        session.execute(update(CriticalNeed).values(competence_area_id=digital))
    drive_unit(runtime, cycle_id, hel, "measure_approval")
    drive_unit(runtime, cycle_id, hje, "measure_approval")
    with hr_clients(runtime) as clients:
        yield clients


def test_hr_approves_and_returns_proposals_and_the_plan_shows_the_approved_one(hr: HrClients) -> None:
    proposals = hr.client.get("/api/measures", headers=hr.api()).json()
    assert len(proposals) == 2
    first, second = proposals
    assert first["area_name"] == "Digital kompetanse" and first["need_title"] == "Bruk av sakssystemet"
    approved = hr.client.post(f"/api/measures/{first['id']}/decision", json={"decision": "approve"}, headers=hr.api())
    assert approved.status_code == 204
    no_comment = hr.client.post(f"/api/measures/{second['id']}/decision", json={"decision": "return"}, headers=hr.api())
    assert no_comment.status_code == 422 and no_comment.json()["detail"][0]["loc"] == ["body", "comment"]
    returned = hr.client.post(
        f"/api/measures/{second['id']}/decision",
        json={"decision": "return", "comment": "Beskriv målgruppen"},
        headers=hr.api(),
    )
    assert returned.status_code == 204
    again = hr.client.post(f"/api/measures/{first['id']}/decision", json={"decision": "approve"}, headers=hr.api())
    assert again.status_code == 409

    plan = hr.client.get("/api/plan", headers=hr.api()).json()
    assert plan["years"] == [2025, 2026, 2027, 2028]
    digital = next(a for a in plan["areas"] if a["code"] == "DIGITAL")
    assert digital["main_goal"].startswith("Alle medarbeidere mestrer")
    (measure,) = digital["measures"]
    assert measure["years"] == [2027, 2028] and measure["unit_name"] == "Helse og omsorg"
    assert measure["desired_effect"] and measure["success_criteria"] and measure["learning_goals"]
    assert measure["form_and_content"] and measure["evaluation_method"] and measure["evaluation"] is None
    assert measure["need_title"] == "Bruk av sakssystemet" and measure["strategic_goal"]
    assert all(not a["measures"] for a in plan["areas"] if a["code"] != "DIGITAL")

    (needs,) = plan["needs_by_area"]
    assert needs["area_name"] == "Digital kompetanse"
    (need,) = needs["needs"]
    assert need["units_count"] == 2 and need["units"] == ["Helse og omsorg", "Hjemmetjenesten"]
    assert [p["unit_name"] for p in need["passive"]] == ["Helse og omsorg", "Hjemmetjenesten"]
    assert need["strategies"] == {"mobilise": 2}

    rows = list(csv.reader(io.StringIO(hr.client.get("/api/plan.csv", headers=hr.api()).text)))
    assert rows[0][-4:] == ["2025", "2026", "2027", "2028"]
    row = next(r for r in rows if r[2] == measure["title"])
    assert row[-4:] == ["", "", "x", "x"]

    workbook = load_workbook(io.BytesIO(hr.client.get("/api/plan.xlsx", headers=hr.api()).content))
    assert workbook.sheetnames == ["Kompetanseplan", "Tiltak", "Behov"]
    values = [[c.value for c in r] for r in workbook["Kompetanseplan"].iter_rows()]
    assert any(r[2] == measure["title"] and r[-2:] == ["x", "x"] for r in values)


def test_the_plan_page_shows_the_table_and_each_measure_opens_its_description(hr: HrClients) -> None:
    first = hr.client.get("/api/measures", headers=hr.api()).json()[0]
    hr.client.post(f"/api/measures/{first['id']}/decision", json={"decision": "approve"}, headers=hr.api())
    page = hr.client.get("/plan", headers=hr.api())
    assert page.status_code == 200
    html = page.text
    assert "Endrings- og omstillingskompetanse" in html and first["title"] in html
    assert first["desired_effect"] in html and "<details>" in html
    assert html.count('class="year runs"') == 2


def test_exports_neutralise_text_that_a_spreadsheet_would_run_as_a_formula(hr: HrClients, runtime: Runtime) -> None:
    (first, _) = hr.client.get("/api/measures", headers=hr.api()).json()
    title = '=HYPERLINK("http://example.com/steal","Klikk")'
    with runtime.sessions.begin() as session:
        session.execute(update(Measure).where(Measure.id == first["id"]).values(title=title, target_group="+Alle"))
        session.execute(update(Unit).where(Unit.code == "HEL").values(name="@SUM(A1)"))
    assert hr.client.post(f"/api/measures/{first['id']}/decision", json={"decision": "approve"}, headers=hr.api())

    rows = list(csv.reader(io.StringIO(hr.client.get("/api/plan.csv", headers=hr.api()).text)))
    row = next(r for r in rows if title in r[2])
    assert row[2] == "'" + title and row[3] == "'@SUM(A1)"

    workbook = load_workbook(io.BytesIO(hr.client.get("/api/plan.xlsx", headers=hr.api()).content))
    cells = [c for sheet in workbook for r in sheet.iter_rows() for c in r if c.value in (title, "@SUM(A1)")]
    assert len(cells) >= 3 and all(c.data_type == "s" for c in cells)

    cycle_id = hr.client.get("/api/cycles", headers=hr.api()).json()[0]["id"]
    board_csv = hr.client.get(f"/api/cycles/{cycle_id}/status.csv", headers=hr.api()).text
    assert "'@SUM(A1)" in board_csv and ",@SUM" not in board_csv


def test_an_evaluated_measure_shows_its_answers_under_the_forms_titles(hr: HrClients, runtime: Runtime) -> None:
    first = hr.client.get("/api/measures", headers=hr.api()).json()[0]
    hr.client.post(f"/api/measures/{first['id']}/decision", json={"decision": "approve"}, headers=hr.api())
    cycle_id = hr.client.get("/api/cycles", headers=hr.api()).json()[0]["id"]
    runtime.clock.set(dt.datetime(2027, 11, 2, 8, tzinfo=dt.UTC))  # type: ignore[attr-defined]
    sweep(runtime)
    (evaluation_task,) = find_tasks(runtime, cycle_id, "measure_evaluation", first["unit_id"])
    submit_valid(runtime, evaluation_task)

    plan = hr.client.get("/api/plan", headers=hr.api()).json()
    (measure,) = [m for a in plan["areas"] for m in a["measures"] if m["id"] == first["id"]]
    evaluation = measure["evaluation"]
    assert evaluation["answers"]["reaction"] == "Godt mottatt"  # as submitted, for API readers
    answers = {tuple(f["label"]): (f["value"], f["coded"]) for f in evaluation["fields"]}
    assert answers[("Reaction",)] == ("Godt mottatt", False)
    assert answers[("Were the success criteria met?",)] == ("Yes", True)
    assert answers[("What next",)] == ("Continue as it is", True)
    assert [f["key"] for f in evaluation["fields"]][:2] == ["reaction", "learning"]

    html = hr.client.get("/plan", headers=hr.api()).text  # bokmål
    assert "<dt>Reaksjon</dt><dd>Godt mottatt</dd>" in html
    assert "<dt>Ble suksesskriteriene nådd?</dt><dd>Ja</dd>" in html and "<dt>reaction</dt>" not in html
    english = hr.client.get("/plan?lang=en", headers={**hr.api(), "Accept-Language": "en"}).text
    assert "<dt>Reaction</dt><dd>Godt mottatt</dd>" in english

    workbook = load_workbook(io.BytesIO(hr.client.get("/api/plan.xlsx", headers=hr.api()).content))
    (row,) = [[c.value for c in r] for r in workbook["Tiltak"].iter_rows() if r[0].value == measure["title"]]
    assert str(row[-1]).startswith("Reaction: Godt mottatt; Learning: Alle bruker malene;")
