"""An employee fills the competence mapping in a real browser, and the unit leader then sees the unit's
picture on the needs mapping: counts per level, no names, and the competence the employee chose to
share. Both pages pass axe-core's WCAG 2.1 A/AA checks; screenshots go to test-artifacts/."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from aarshjul.db.models import Person
from aarshjul.runtime import Runtime
from tests.builders import demo_cycle, drive_unit, find_tasks, submit_valid, unit_id
from tests.e2e.a11y import assert_accessible

pytestmark = pytest.mark.e2e


def test_an_employee_maps_their_competence_and_the_leader_sees_the_picture(
    live_runtime: Runtime, live_server: str, page: Page, artifacts: Path
) -> None:
    cycle = demo_cycle(live_runtime)
    unit = unit_id(live_runtime, "HEL")  # five direct reports: the counts may be shown
    drive_unit(live_runtime, cycle, unit, "competence_mapping")
    *others, mine = find_tasks(live_runtime, cycle, "competence_mapping", unit)
    for task in others:
        submit_valid(live_runtime, task)

    page.goto(f"{live_server}/t/{mine.token}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Egenvurdering av kompetanse")
    expect(page.locator("details.guidance")).to_have_attribute("open", "")
    assert_accessible(page)
    for row in range(2):
        page.select_option(f"#f-mastery-{row}-level", "proficient")
    page.select_option("#f-unused_from_catalogue-0-competence_id", label="Demensomsorg")
    page.fill("#f-unused_from_catalogue-0-note", "Videreutdanning fra 2019, ikke brukt her")
    page.fill("#f-unused_competence", "Jeg har drevet kurs for frivillige")
    page.check("#f-share_unused_with_leader")
    page.screenshot(path=str(artifacts / "forms-competence-mapping.png"), full_page=True)
    page.get_by_role("button", name="Send inn").click()
    expect(page.get_by_role("status")).to_contain_text("Takk. Vi har mottatt svaret ditt (versjon 1).")

    (mapping,) = find_tasks(live_runtime, cycle, "needs_mapping", unit)
    page.goto(f"{live_server}/t/{mapping.token}")
    picture = page.locator("#ctx-picture").locator("xpath=..")
    expect(picture).to_contain_text("5 av 5 medarbeidere har svart.")
    table = picture.locator("table[data-aggregate=true]")
    expect(table).to_be_visible()
    expect(table.locator("tbody tr")).to_have_count(2)
    for row in range(2):
        counts = [int(c) for c in table.locator("tbody tr").nth(row).locator("td").all_inner_texts()]
        assert sum(counts) == 5 and counts[3] >= 1  # five people; the browser's answer among the proficient
    with live_runtime.sessions() as session:
        people = session.scalars(select(Person.name).where(Person.id.in_([t.subject_id for t in [*others, mine]])))
        for name in people:
            expect(table).not_to_contain_text(name)  # counts, never names
    expect(picture).to_contain_text("Demensomsorg – Videreutdanning fra 2019, ikke brukt her")
    expect(picture).to_contain_text("Jeg har drevet kurs for frivillige")
    assert_accessible(page)
    page.screenshot(path=str(artifacts / "forms-needs-mapping-picture.png"), full_page=True)
