"""HR in a real browser governs the demo's competence plan: the plan page says which version is in
force and what is draft; HR sends version 2 to consultation, records the meeting with the minutes as
a PDF, adopts it, and downloads the adopted plan as a PDF. The test reads the PDF's text (pypdf) and
saves its first page as an image (test-artifacts/plan-pdf-page1.png); the pages pass axe-core's
WCAG 2.1 A/AA checks."""

from __future__ import annotations

import io
from pathlib import Path

import pypdfium2
import pytest
from playwright.sync_api import Page, expect
from pypdf import PdfReader, PdfWriter

from aarshjul.demo import seed_demo
from aarshjul.runtime import Runtime
from aarshjul.usecases.admin.hr_access import set_password
from tests.e2e.a11y import assert_accessible
from tests.hr_support import HR_EMAIL, HR_PASSWORD

pytestmark = pytest.mark.e2e

LECTURE_FIRST = "Felles opplæring i endringsledelse og endringsprosesser for ledere og tillitsvalgte"


def _minutes(path: Path) -> Path:
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    buffer = io.BytesIO()
    writer.write(buffer)
    path.write_bytes(buffer.getvalue())
    return path


def test_hr_adopts_the_plan_and_downloads_it_as_pdf(
    live_runtime: Runtime, live_server: str, page: Page, artifacts: Path, tmp_path: Path
) -> None:
    seed_demo(live_runtime)
    set_password(live_runtime, HR_EMAIL, HR_PASSWORD)
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(f"{live_server}/plan")
    page.fill("#email", HR_EMAIL)
    page.fill("#password", HR_PASSWORD)
    page.get_by_role("button", name="Logg inn").click()

    # The plan page: version 1 is in force, version 2 is the draft being worked on.
    status = page.locator("section.plan-status")
    expect(status).to_contain_text("Gjeldende: Versjon 1 · vedtatt")
    expect(status).to_contain_text("2025/0142")
    expect(status).to_contain_text("Under arbeid: Versjon 2 · utkast")
    expect(page.locator("#plan-table")).to_contain_text(LECTURE_FIRST)
    expect(page.locator("#plan-totals")).to_contain_text("1 286 500,00 kr")
    assert_accessible(page)
    page.screenshot(path=str(artifacts / "hr-plan-governed.png"), full_page=True)

    # Consultation on version 2, with the minutes as a PDF.
    page.get_by_role("link", name="Versjoner, drøfting og vedtak").click()
    assert_accessible(page)
    page.get_by_role("button", name="Send versjon 2 til drøfting").click()
    expect(page.get_by_role("status")).to_contain_text("Utkastet er til drøfting")
    page.fill("#meeting_on", "2027-02-15")
    page.fill("input[name='participants.0.name']", "Tove Lien")
    page.fill("input[name='participants.0.union']", "Fagforbundet")
    page.fill("input[name='participants.1.name']", "Sunniva Kvåle")
    page.fill("input[name='participants.1.role']", "personalsjef")
    page.fill("input[name='statements.0.union']", "Fagforbundet")
    page.select_option("select[name='statements.0.position']", "agrees")
    page.fill("input[name='statements.0.comment']", "Slutter seg til revidert plan.")
    page.fill("#minutes_text", "Revidert plan drøftet. Enighet.")
    page.set_input_files("#minutes_pdf", str(_minutes(tmp_path / "protokoll.pdf")))
    assert_accessible(page)
    page.get_by_role("button", name="Lagre drøftingen").click()
    expect(page.get_by_role("status")).to_contain_text("Drøftingsmøtet er registrert")
    expect(page.locator("#versions")).to_contain_text("Protokoll (PDF)")

    # Adoption freezes version 2; the plan page says so.
    page.fill("#adopted_by", "Hovedutvalg for administrasjon")
    page.fill("#adopted_on", "2027-03-02")
    page.fill("#case_number", "2027/0088")
    page.get_by_role("button", name="Vedta planen").click()
    expect(page.get_by_role("status")).to_contain_text("Planen er vedtatt")
    expect(status).to_contain_text("Gjeldende: Versjon 2 · vedtatt")
    expect(status).to_contain_text("2027/0088")

    # The adopted plan as a PDF, from the page's button.
    with page.expect_download() as download:
        page.get_by_role("link", name="Gjeldende plan som PDF (versjon 2)").click()
    pdf_path = artifacts / "plan.pdf"
    download.value.save_as(pdf_path)
    reader = PdfReader(str(pdf_path))
    text = "\n".join(p.extract_text() for p in reader.pages).replace("\xa0", " ")
    assert "Fjordvik kommune" in text and "Kompetanseplan 2025–2028" in text
    assert "Arbeidsgiverstrategi 2025–2028" in text
    assert "Versjon 2 · vedtatt" in text and "Hovedutvalg for administrasjon" in text and "2027/0088" in text
    assert "Endrings- og omstillingskompetanse" in text and "Felles opplæring i endringsledelse" in text
    assert "Drøfting med de tillitsvalgte" in text and "Fagforbundet" in text
    assert "1 286 500,00 kr" in text
    image = pypdfium2.PdfDocument(str(pdf_path))[0].render(scale=1.5).to_pil()
    image.save(artifacts / "plan-pdf-page1.png")
    assert image.size[0] > image.size[1]  # A4 landscape

    # The yearly status and a measure's form pass the same checks.
    page.goto(f"{live_server}/plan/status?year=2025")
    expect(page.locator("#status-table")).to_contain_text(LECTURE_FIRST)
    assert_accessible(page)
    page.goto(f"{live_server}/plan/measures/new")
    assert_accessible(page)
    page.goto(f"{live_server}/board")
    assert_accessible(page)
