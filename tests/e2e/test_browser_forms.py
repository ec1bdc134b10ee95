"""A person fills a measure proposal in a real browser: a missing field is reported beside the
field with the rest of the input kept; fixed, it is received and the receipt is shown."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from aarshjul.runtime import Runtime
from tests.builders import demo_cycle, drive_unit, unit_id

pytestmark = pytest.mark.e2e


def test_measure_proposal_in_a_browser(live_runtime: Runtime, live_server: str, page: Page, artifacts: Path) -> None:
    cycle = demo_cycle(live_runtime)
    task = drive_unit(live_runtime, cycle, unit_id(live_runtime, "HR"), "measure_proposal")

    page.goto(f"{live_server}/t/{task.token}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Forslag til kompetansetiltak")
    row = "#f-measures-0-"
    page.select_option(row + "critical_need_id", label="Bruk av sakssystemet")
    page.fill(row + "title", "Kollegaveiledning i sakssystemet – «superbrukere» 👩‍🏫")
    page.fill(row + "target_group", "Alle saksbehandlere")
    page.fill(row + "success_criteria", "Halvparten færre henvendelser til brukerstøtte")
    page.fill(row + "learning_goals", "Alle kan bruke malene")
    page.select_option(row + "learning_form", "mentoring")
    page.fill(row + "form_and_content", "En time i uka med en superbruker")
    page.fill(row + "evaluation_method", "Spørreundersøkelse")
    page.fill(row + "starts_on", "2027-03-01")
    page.fill(row + "evaluate_on", "2027-11-01")
    page.fill(row + "first_year", "2027")
    page.fill(row + "last_year", "2028")
    page.get_by_role("button", name="Send inn").click()

    # The missing desired effect is reported beside its field, and in the summary at the top.
    error = page.locator(row + "desired_effect-error")
    expect(error).to_contain_text("Dette feltet må fylles ut.")
    expect(page.locator(row + "desired_effect")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#error-summary a[href='#f-measures-0-desired_effect']")).to_be_visible()
    expect(page.locator(row + "title")).to_have_value("Kollegaveiledning i sakssystemet – «superbrukere» 👩‍🏫")
    expect(page.locator(row + "evaluate_on")).to_have_value("2027-11-01")
    page.screenshot(path=str(artifacts / "forms-measure-proposal-error.png"), full_page=True)

    page.fill(row + "desired_effect", "Raskere og riktigere saksbehandling")
    page.get_by_role("button", name="Send inn").click()
    expect(page.get_by_role("status")).to_contain_text("Takk. Vi har mottatt svaret ditt (versjon 1).")
    expect(page.locator("main")).to_contain_text("Kollegaveiledning i sakssystemet – «superbrukere» 👩‍🏫")
    expect(page.locator("main")).to_contain_text("Venter på HR")
    page.screenshot(path=str(artifacts / "forms-measure-proposal-receipt.png"), full_page=True)

    page.goto(f"{live_server}/t/{task.token}?lang=en")
    expect(page.get_by_role("heading", name="Submitted")).to_be_visible()
