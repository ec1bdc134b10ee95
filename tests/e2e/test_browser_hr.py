"""HR in a real browser: sign in, start the demo organisation's cycle, follow a unit leader's
invitation from the local outbox, submit the strategy review, and see the board cell turn done;
approve a measure and see it in the plan with its years marked. Screenshots of the board (wide and
at a phone's 390 px) and of the plan go to test-artifacts/."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select, update

from aarshjul.db.models import CompetenceArea, CriticalNeed
from aarshjul.runtime import Runtime
from aarshjul.usecases.admin.hr_access import set_password
from aarshjul.usecases.admin.org_import import seed_demo
from aarshjul.usecases.cycle.advance import advance_cycle
from notifications.dispatcher import dispatch_due
from tests.builders import drive_unit, unit_id
from tests.fakes import InlineTriggers
from tests.hr_support import HR_EMAIL, HR_PASSWORD

pytestmark = pytest.mark.e2e

LEADER_EMAIL = "brit.aasen@fjordvik.kommune.no"  #: leads Helse og omsorg


def test_hr_starts_the_cycle_and_sees_a_strategy_review_arrive(
    live_runtime: Runtime, live_server: str, page: Page, artifacts: Path
) -> None:
    seed_demo(live_runtime)
    set_password(live_runtime, HR_EMAIL, HR_PASSWORD)
    live_runtime.settings = live_runtime.settings.model_copy(update={"base_url": live_server})
    live_runtime.triggers = InlineTriggers(
        advance=lambda cycle_id, unit: advance_cycle(live_runtime, cycle_id, unit_id=unit),
        dispatch=lambda: dispatch_due(live_runtime),
    )
    page.set_viewport_size({"width": 1400, "height": 1000})
    hel = unit_id(live_runtime, "HEL")

    # Without a session the board answers with the sign-in form, and comes back to the board after.
    page.goto(f"{live_server}/board")
    expect(page.get_by_role("heading", level=1)).to_have_text("Innlogging for HR")
    page.fill("#email", HR_EMAIL)
    page.fill("#password", HR_PASSWORD)
    page.get_by_role("button", name="Logg inn").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Ingen årshjul ennå")

    # Start the year: preview first, then start.
    page.get_by_role("link", name="Start årets årshjul").click()
    page.fill("#year", "2027")
    page.fill("#starts_on", "2027-01-04")
    page.get_by_role("button", name="Forhåndsvis").click()
    expect(page.locator("#preview-h")).to_contain_text("2027")
    expect(page.locator("section.notice")).to_contain_text("Brit Aasen")
    page.get_by_role("button", name="Start årshjulet").click()
    expect(page.get_by_role("status")).to_contain_text("Årshjulet er startet")
    cell = page.locator(f'tr[data-unit="{hel}"] td[data-step="strategy_review"]')
    expect(cell).to_have_attribute("data-state", "open")

    # The unit leader's invitation in the local outbox, and its link.
    page.goto(f"{live_server}/dev/outbox")
    page.locator("tr", has_text=LEADER_EMAIL).get_by_role("link").first.click()
    task_link = page.locator("a[href*='/t/']").first
    expect(task_link).to_be_visible()
    page.goto(task_link.get_attribute("href") or "")
    expect(page.get_by_role("heading", level=1)).to_have_text("Strategigjennomgang")
    for index in range(4):
        page.fill(f"#f-goals-{index}-meaning", f"Dette målet betyr mye for helse og omsorg ({index + 1}).")
        page.fill(f"#f-goals-{index}-relevance", "4")
    page.locator("button[name=action][value=submit]").click()
    expect(page.get_by_role("status")).to_contain_text("Takk")

    # Meanwhile Hjemmetjenesten gets as far as proposing a measure for a change-competence need.
    hje = unit_id(live_runtime, "HJE")
    drive_unit(live_runtime, 1, hje, "measure_approval")
    with live_runtime.sessions.begin() as session:
        change = session.scalar(select(CompetenceArea.id).where(CompetenceArea.code == "ENDRING"))
        session.execute(update(CriticalNeed).where(CriticalNeed.unit_id == hje).values(competence_area_id=change))

    # Back on the board the cell is done, and the next step has opened for the unit.
    page.goto(f"{live_server}/board")
    expect(cell).to_have_attribute("data-state", "done")
    expect(page.locator(f'tr[data-unit="{hel}"] td[data-step="unit_goals"]')).to_have_attribute("data-state", "open")
    expect(page.locator("svg.wheel title").first).to_contain_text("Årshjul 2027")
    page.screenshot(path=str(artifacts / "hr-board.png"), full_page=True)

    # Filters live in the address, so a refresh keeps them.
    page.select_option("#f-unit", str(hel))
    page.get_by_role("button", name="Vis", exact=True).click()
    expect(page).to_have_url(f"{live_server}/board?cycle=1&unit={hel}&step=")
    page.get_by_role("link", name="Oppdater").click()
    expect(page.locator("#f-unit")).to_have_value(str(hel))
    expect(page.locator("#board-grid tbody tr")).to_have_count(3)

    # The drill-down shows the submitted review.
    page.get_by_role("link", name="Helse og omsorg").first.click()
    expect(page.locator("details.form-record")).to_have_count(1)

    # On a phone the page does not scroll sideways: the grid scrolls inside its own box.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server}/board")
    expect(page.locator("#board-grid")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    expect(page.get_by_role("button", name="Vis", exact=True)).to_be_in_viewport()
    # Scrolled to the last step, the grid still says which unit each row is.
    unit_name = page.locator(f'tr[data-unit="{hel}"] th a')
    unit_name.scroll_into_view_if_needed()
    page.locator("#board-grid").evaluate("grid => grid.parentElement.scrollLeft = grid.scrollWidth")
    expect(unit_name).to_be_in_viewport()
    page.locator("#board-grid").evaluate("grid => grid.parentElement.scrollLeft = 0")
    page.screenshot(path=str(artifacts / "hr-board-phone.png"), full_page=True)
    page.set_viewport_size({"width": 1400, "height": 1000})

    # HR approves the proposal; the plan shows it under its area, its two years marked.
    page.goto(f"{live_server}/hr/measures")
    proposal = page.locator("section.proposal").first
    title = proposal.get_by_role("heading", level=2).inner_text()
    proposal.get_by_role("button", name="Godkjenn").click()
    expect(page.get_by_role("status")).to_contain_text("Beslutningen er lagret")
    page.goto(f"{live_server}/plan")
    table = page.locator("#plan-table")
    expect(table).to_contain_text("Endrings- og omstillingskompetanse")
    row = table.locator("tr", has_text=title)
    expect(row.locator("td.year.runs")).to_have_count(2)
    expect(row.locator("td.year.runs").first).to_contain_text("går i 2027")
    page.screenshot(path=str(artifacts / "hr-plan.png"), full_page=True)
