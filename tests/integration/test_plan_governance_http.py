"""The plan's governance over HTTP, on both faces: the JSON API (the contract: version, totals,
costs and funding, versions, a version by number, PDF, the yearly status in four formats) and HR's
HTML forms (consultation with a minutes PDF, adoption, HR's measure, merging, cost adjustment),
which refuse with the errors beside the fields."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from httpx import Response
from openpyxl import load_workbook
from pypdf import PdfReader, PdfWriter
from sqlalchemy import select, update

from aarshjul.db.models import CriticalNeed, Notification
from aarshjul.runtime import Runtime
from tests.builders import demo_cycle, drive_unit, find_tasks, unit_id
from tests.hr_support import HrClients, hr_clients, sign_in
from tests.planning_support import area_id


@pytest.fixture(name="hr")
def hr_fixture(runtime: Runtime) -> Iterator[HrClients]:
    cycle_id = demo_cycle(runtime)
    for code in ("HEL", "HJE"):
        drive_unit(runtime, cycle_id, unit_id(runtime, code), "measure_approval")
    with runtime.sessions.begin() as session:
        session.execute(update(CriticalNeed).values(competence_area_id=area_id(runtime, "DIGITAL")))
    with hr_clients(runtime) as clients:
        yield clients


def _post_pairs(hr: HrClients, url: str, pairs: list[tuple[str, str]], **kwargs: object) -> Response:
    """A form with repeated names (ticked boxes), encoded as a browser does."""
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    return hr.client.post(url, content=urlencode(pairs), headers=headers, **kwargs)  # type: ignore[arg-type]


def _pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def test_the_api_face_from_costs_to_an_adopted_version_and_its_pdf(hr: HrClients, runtime: Runtime) -> None:
    api = hr.api()
    first, second = hr.client.get("/api/measures", headers=api).json()
    adjusted = {
        "decision": "approve",
        "costs": [
            {
                "year": 2027,
                "kind": "course_fees",
                "amount": "12 500,50",
                "funding": "grant",
                "scheme": "Kompetanseløftet",
            },
            {"year": 2028, "kind": "substitute_cover", "amount": 40000, "funding": "unfunded"},
        ],
    }
    no_scheme = {"decision": "approve", "costs": [{"year": 2027, "kind": "travel", "amount": "1", "funding": "grant"}]}
    refused = hr.client.post(f"/api/measures/{first['id']}/decision", json=no_scheme, headers=api)
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["body", "costs"]
    nan = {"decision": "approve", "costs": [{"year": 2027, "kind": "travel", "amount": "NaN", "funding": "other"}]}
    assert hr.client.post(f"/api/measures/{first['id']}/decision", json=nan, headers=api).status_code == 422
    assert hr.client.post(f"/api/measures/{first['id']}/decision", json=adjusted, headers=api).status_code == 204
    assert (
        hr.client.post(f"/api/measures/{second['id']}/decision", json={"decision": "approve"}, headers=api).status_code
        == 204
    )

    plan = hr.client.get("/api/plan", headers=api).json()
    assert plan["version"]["number"] == 1 and plan["version"]["state"] == "draft"
    assert plan["version"]["adopted_on"] is None and plan["version"]["case_number"] == ""
    measure = next(m for a in plan["areas"] for m in a["measures"] if m["id"] == first["id"])
    assert measure["costs"][0] == {
        "year": 2027,
        "kind": "course_fees",
        "amount": "12500.50",
        "funding": "grant",
        "scheme": "Kompetanseløftet",
    }
    assert measure["funding"] == [
        {"funding": "grant", "scheme": "Kompetanseløftet", "amount": "12500.50"},
        {"funding": "unfunded", "scheme": "", "amount": "40000.00"},
    ]
    totals = plan["totals"]
    assert totals["all"] == {"total": "52500.50", "funded": "12500.50", "unfunded": "40000.00"}
    assert {y["year"]: y["total"] for y in totals["by_year"]} == {
        2025: "0.00",
        2026: "0.00",
        2027: "12500.50",
        2028: "40000.00",
    }
    assert [a["total"] for a in totals["by_area"] if a["area_name"] == "Digital kompetanse"] == ["52500.50"]
    assert {u["unit_name"]: u["total"] for u in totals["by_unit"]} == {"Helse og omsorg": "52500.50"}

    assert hr.client.post("/api/plan/versions", headers=api).json() == {"number": 1}
    early = hr.client.post(
        "/api/plan/versions/1/adoption",
        json={"adopted_by": "Kommunedirektøren", "adopted_on": "2027-03-01", "case_number": "2027/12"},
        headers=api,
    )
    assert early.status_code == 409
    meeting = {
        "meeting_on": "2027-02-20",
        "participants": [
            {"name": "Tove Tillitsvalgt", "union": "Fagforbundet"},
            {"name": "Sunniva Kvåle", "role": "HR-sjef"},
        ],
        "statements": [{"union": "Fagforbundet", "position": "agrees", "comment": "Bra plan"}],
        "minutes_text": "Drøftet. Enighet.",
    }
    assert hr.client.put("/api/plan/versions/1/consultation", json=meeting, headers=api).status_code == 204
    not_pdf = hr.client.put(
        "/api/plan/versions/1/consultation/minutes.pdf",
        content=b"GIF89a",
        headers={**api, "Content-Type": "application/pdf"},
    )
    assert not_pdf.status_code == 422
    minutes = _pdf()
    stored = hr.client.put(
        "/api/plan/versions/1/consultation/minutes.pdf",
        content=minutes,
        headers={**api, "Content-Type": "application/pdf"},
    )
    assert stored.status_code == 204
    assert hr.client.get("/api/plan/versions/1/consultation/minutes.pdf", headers=api).content == minutes

    adopted = hr.client.post(
        "/api/plan/versions/1/adoption",
        json={"adopted_by": "Kommunedirektøren", "adopted_on": "2027-03-01", "case_number": "2027/12"},
        headers=api,
    )
    assert adopted.status_code == 200 and len(adopted.json()["sha256"]) == 64
    versions = hr.client.get("/api/plan/versions", headers=api).json()
    assert [(v["number"], v["state"]) for v in versions] == [(2, "draft"), (1, "adopted")]
    frozen = hr.client.get("/api/plan?version=1", headers=api).json()
    assert frozen["version"] | {"consultation": None, "consultation_started_at": None} == {
        "number": 1,
        "state": "adopted",
        "adopted_on": "2027-03-01",
        "adopted_by": "Kommunedirektøren",
        "case_number": "2027/12",
        "consultation": None,
        "consultation_started_at": None,
        "sha256": adopted.json()["sha256"],
    }
    assert frozen["version"]["consultation"]["statements"] == [
        {"union": "Fagforbundet", "position": "agrees", "comment": "Bra plan"}
    ]
    assert hr.client.get("/api/plan?version=9", headers=api).status_code == 404
    assert hr.client.get("/api/plan?version=0", headers=api).status_code == 422
    again = hr.client.put("/api/plan/versions/1/consultation", json=meeting, headers=api)
    assert again.status_code == 409

    pdf = hr.client.get("/api/plan?format=pdf&version=1&lang=nb", headers=api)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "Kompetanseplan 2025–2028" in text and first["title"] in text
    assert "2027/12" in text and "Fagforbundet" in text and "12 500,50 kr" in text.replace("\xa0", " ")
    english = hr.client.get("/api/plan?format=pdf&version=1&lang=en", headers=api)
    english_text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(english.content)).pages)
    assert "Competence plan 2025–2028" in english_text and "NOK 12,500.50" in english_text.replace("\xa0", " ")
    assert hr.client.get("/api/plan?format=pdf", headers=hr.api(hr.leader_token)).status_code in (401, 403)


def test_the_yearly_status_in_every_format(hr: HrClients, runtime: Runtime) -> None:
    api = hr.api()
    for proposal in hr.client.get("/api/measures", headers=api).json():
        hr.client.post(f"/api/measures/{proposal['id']}/decision", json={"decision": "approve"}, headers=api)
    status = hr.client.get("/api/plan/status?year=2027", headers=api)
    assert status.status_code == 200
    body = status.json()
    assert body["year"] == 2027 and body["totals"]["measures"] == 2 and body["totals"]["cost_planned"] == "0.00"
    assert {m["planned"] for m in body["measures"]} == {True}
    rows = list(csv.reader(io.StringIO(hr.client.get("/api/plan/status?year=2027&format=csv", headers=api).text)))
    assert rows[0][:3] == ["measure", "area", "unit"] and rows[-1][0] == "total" and len(rows) == 4
    workbook = load_workbook(io.BytesIO(hr.client.get("/api/plan/status?year=2027&format=xlsx", headers=api).content))
    assert workbook.sheetnames == ["Status 2027"]
    pdf = hr.client.get("/api/plan/status?year=2027&format=pdf&lang=en", headers=api)
    assert pdf.headers["content-type"] == "application/pdf"
    assert "Yearly status of the competence plan 2027" in PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
    assert hr.client.get("/api/plan/status?year=2040", headers=api).status_code == 422
    assert hr.client.get("/api/plan/status?year=2027&format=doc", headers=api).status_code == 422
    page = hr.client.get("/plan/status?year=2027", headers=api)
    assert page.status_code == 200 and "Årlig status for kompetanseplanen 2027" in page.text


def test_the_pdf_answers_503_with_a_message_when_weasyprint_cannot_run(
    hr: HrClients, monkeypatch: pytest.MonkeyPatch
) -> None:
    import aarshjul.presentation.pdf as pdf_module

    def missing(html: str) -> bytes:
        raise pdf_module.PdfUnavailable("cannot load library 'libpango-1.0-0'")

    monkeypatch.setattr("service.routes.hr.documents.html_to_pdf", missing)
    answer = hr.client.get("/api/plan?format=pdf", headers=hr.api())
    assert answer.status_code == 503 and "WeasyPrint" in answer.json()["detail"]
    page = hr.client.get("/api/plan/status?year=2027&format=pdf&lang=nb", headers=hr.api())
    assert page.status_code == 503


def test_the_html_face_consultation_adoption_and_hr_measures(hr: HrClients, runtime: Runtime) -> None:
    csrf = sign_in(hr.client)
    proposals = hr.client.get("/api/measures", headers=hr.api()).json()
    # The proposals page offers merging; the merge form is prefilled from the proposals.
    listing = hr.client.get("/hr/measures")
    assert 'form="merge-form"' in listing.text and "Juster kostnadene ved godkjenning" in listing.text
    merge = hr.client.get("/plan/merge", params=[("measure_id", p["id"]) for p in proposals])
    assert merge.status_code == 200 and all(p["title"] in merge.text for p in proposals)
    form = [
        ("csrf_token", csrf),
        ("title", ""),
        ("learning_form", "programme"),
        ("first_year", "2027"),
        ("last_year", "2028"),
        ("area_id", str(area_id(runtime, "DIGITAL"))),
        ("costs.0.year", "2027"),
        ("costs.0.kind", "course_fees"),
        ("costs.0.amount", "12 5x0"),
        ("costs.0.funding", "own_budget"),
        ("costs.0.scheme", ""),
        *[("merge_id", str(p["id"])) for p in proposals],
    ]
    refused = _post_pairs(hr, "/plan/measures", form)
    assert refused.status_code == 422
    assert "Gi tiltaket en tittel." in refused.text and "Oppgi et beløp i kroner" in refused.text
    assert 'value="12 5x0"' in refused.text  # what was typed is kept
    form = [
        (k, "Felles digital opplæring" if k == "title" else ("12 500" if k == "costs.0.amount" else v)) for k, v in form
    ]
    done = _post_pairs(hr, "/plan/measures", form, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/plan?notice=merged"
    with runtime.sessions() as session:
        told = list(session.scalars(select(Notification).where(Notification.template == "measure_merged")))
    assert len(told) == 2
    plan_page = hr.client.get("/plan")
    assert "Felles digital opplæring" in plan_page.text and "overordnet" in plan_page.text
    assert "Slått sammen fra forslagene" in plan_page.text and "12\xa0500,00\xa0kr" in plan_page.text
    assert "Gjeldende:</strong> ingen versjon av planen er vedtatt ennå" in plan_page.text
    assert "/api/plan?format=pdf&amp;lang=nb" in plan_page.text

    assert hr.client.post("/plan/versions", data={"csrf_token": csrf}, follow_redirects=False).status_code == 303
    page = hr.client.get("/plan/versions")
    assert "Drøftingsmøtet om versjon 1" in page.text
    meeting = {
        "csrf_token": csrf,
        "meeting_on": "2027-02-20",
        "participants.0.name": "Tove Tillitsvalgt",
        "participants.0.union": "Fagforbundet",
        "participants.0.role": "hovedtillitsvalgt",
        "participants.1.name": "Sunniva Kvåle",
        "participants.1.union": "",
        "participants.1.role": "HR-sjef",
        "participants.2.name": "",
        "statements.0.union": "",
        "statements.0.position": "",
        "minutes_text": "",
    }
    missing = hr.client.post(
        "/plan/versions/1/consultation", data=meeting, files={"minutes_pdf": ("p.pdf", b"", "application/pdf")}
    )
    assert missing.status_code == 422 and "Fagforbundet" in missing.text and 'value="Tove Tillitsvalgt"' in missing.text
    meeting |= {"statements.0.union": "Fagforbundet", "statements.0.position": "agrees", "statements.0.comment": "Enig"}
    not_pdf = hr.client.post(
        "/plan/versions/1/consultation", data=meeting, files={"minutes_pdf": ("p.pdf", b"hello", "application/pdf")}
    )
    assert not_pdf.status_code == 422
    recorded = hr.client.post(
        "/plan/versions/1/consultation",
        data=meeting,
        files={"minutes_pdf": ("protokoll.pdf", _pdf(), "application/pdf")},
        follow_redirects=False,
    )
    assert recorded.status_code == 303
    page = hr.client.get("/plan/versions")
    assert "Protokoll (PDF)" in page.text and "Vedta versjon 1" in page.text
    bad = hr.client.post(
        "/plan/versions/1/adoption",
        data={"csrf_token": csrf, "adopted_by": "", "adopted_on": "2027-03-01", "case_number": ""},
    )
    assert bad.status_code == 422 and "Oppgi hvem som vedtok planen." in bad.text
    adopted = hr.client.post(
        "/plan/versions/1/adoption",
        data={
            "csrf_token": csrf,
            "adopted_by": "Kommunedirektøren",
            "adopted_on": "2027-03-01",
            "case_number": "2027/12",
        },
        follow_redirects=False,
    )
    assert adopted.status_code == 303
    board = hr.client.get("/board")
    assert "Gjeldende:</strong> Versjon 1 · vedtatt" in board.text and "Versjon 2 · utkast" in board.text
    audit = hr.client.get("/hr/audit?action=plan.")
    assert "Registrerte vedtaket av kompetanseplanen" in audit.text
    assert dt.date  # dates are posted as text above
    assert find_tasks  # builders stay importable for the scenario above
