"""A person fills a measure proposal in a real browser: a missing field is reported beside the
field with the rest of the input kept; fixed, it is received and the receipt is shown."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from aarshjul.runtime import Runtime
from tests.builders import demo_cycle, drive_unit, unit_id
from tests.e2e.a11y import assert_accessible
from tests.integration.test_forms_pages import Page as ParsedPage
from tests.integration.test_nynorsk import foreign_texts

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


CONTRAST = """
() => {
  const rgb = (s) => (s.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const c = [r, g, b].map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  };
  const background = (el) => {
    for (; el; el = el.parentElement) {
      const c = rgb(getComputedStyle(el).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const worst = [];
  for (const el of document.querySelectorAll("main *, header *, footer *")) {
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    const style = getComputedStyle(el);
    if (!own || style.visibility === "hidden" || el.closest(".visually-hidden")) continue;
    const [a, b] = [lum(rgb(style.color)), lum(background(el))];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const text = el.textContent.trim().slice(0, 30);
    if (ratio < 4.5) worst.push(`${el.tagName}.${el.className}: ${ratio.toFixed(2)} "${text}"`);
  }
  return worst;
}
"""


def test_a_long_form_on_a_phone(live_runtime: Runtime, live_server: str, browser: Browser, artifacts: Path) -> None:
    """The measure proposal (the longest form) at 390 px, in bokmål, with errors: nothing wider than
    the screen, every text at least 4.5:1 against its background, the keyboard reaching the inputs
    in the order they are read."""
    cycle = demo_cycle(live_runtime)
    task = drive_unit(live_runtime, cycle, unit_id(live_runtime, "HR"), "measure_proposal")
    context = browser.new_context(locale="nb-NO", viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    try:
        page.goto(f"{live_server}/t/{task.token}")
        page.fill("#f-measures-0-title", "Kollegaveiledning i sakssystemet for alle saksbehandlere i enheten")
        page.get_by_role("button", name="Send inn").click()
        expect(page.locator("#error-summary")).to_be_visible()
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 390, f"the page is {width} px wide on a 390 px screen"
        assert page.evaluate(CONTRAST) == []
        page.screenshot(path=str(artifacts / "forms-measure-proposal-phone-390.png"), full_page=True)

        # Tab order follows reading order: from the first input of the row, Tab reaches the next.
        page.focus("#f-measures-0-critical_need_id")
        order = []
        for _ in range(4):
            page.keyboard.press("Tab")
            order.append(page.evaluate("() => document.activeElement.id"))
        assert order == ["f-measures-0-title", "f-measures-0-target_group", "f-measures-0-desired_effect",
                         "f-measures-0-success_criteria"]  # fmt: skip
    finally:
        context.close()


def test_a_form_read_in_nynorsk(live_runtime: Runtime, live_server: str, browser: Browser, artifacts: Path) -> None:
    """A browser that asks for nynorsk (Accept-Language from its locale) gets the form in nynorsk,
    refused and received in nynorsk, accessible as the other languages are; the links offer all three."""
    cycle = demo_cycle(live_runtime)
    task = drive_unit(live_runtime, cycle, unit_id(live_runtime, "HR"), "measure_proposal")
    context = browser.new_context(locale="nn-NO", viewport={"width": 430, "height": 900})
    page = context.new_page()
    try:
        page.goto(f"{live_server}/t/{task.token}")
        expect(page.locator("html")).to_have_attribute("lang", "nn")
        expect(page.get_by_role("heading", level=1)).to_have_text("Forslag til kompetansetiltak")
        expect(page.get_by_text("Kritisk behov tiltaket svarar på").first).to_be_visible()
        expect(page.get_by_role("link", name="Norsk nynorsk")).to_have_attribute("aria-current", "true")
        expect(page.get_by_role("link", name="Norsk bokmål")).to_be_visible()
        expect(page.get_by_role("link", name="English")).to_be_visible()
        assert_accessible(page)

        page.get_by_role("button", name="Send inn").click()
        expect(page.locator("#error-summary")).to_contain_text("Noko må rettast")
        expect(page.locator("#error-summary")).to_contain_text("Føreslegne kompetansetiltak: Legg til minst 1.")
        shown = ParsedPage(page.content())
        assert foreign_texts(shown) == []  # no bokmål or English text of the catalogues
        assert_accessible(page)
        page.screenshot(path=str(artifacts / "forms-nynorsk-refused.png"), full_page=True)

        page.get_by_role("link", name="English").click()
        expect(page.locator("html")).to_have_attribute("lang", "en")
    finally:
        context.close()
