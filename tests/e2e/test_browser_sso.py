"""Single sign-on in a real browser against a real OpenID Provider (panva/oidc-provider, run with node by
the test): HR signs in, lands on the board and signs out (offered the provider's sign-out too); an
employee signs in and sees their tasks; a talk form that needs sign-in goes through the provider and
back to the form. The sign-in page, my tasks and the signed-out page pass axe-core's WCAG 2.1 A/AA
checks, at a phone's width. Screenshots go to test-artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, expect
from sqlalchemy import select

from aarshjul.db.models import Person
from aarshjul.runtime import Runtime
from aarshjul.usecases.admin.single_sign_on import set_talk_forms_sign_in
from tests.builders import demo_cycle, drive_unit, unit_id
from tests.e2e.a11y import assert_accessible
from tests.oidc_support import OpenIdProvider, running_provider

pytestmark = pytest.mark.e2e


@pytest.fixture
def provider(live_runtime: Runtime, live_server: str) -> Iterator[OpenIdProvider]:
    with running_provider([live_server]) as running:
        live_runtime.settings = running.settings_for(live_runtime.settings.model_copy(update={"base_url": live_server}))
        yield running


def _phone(browser: Browser) -> BrowserContext:
    return browser.new_context(locale="nb-NO", viewport={"width": 390, "height": 844}, is_mobile=True)


def test_sign_in_through_the_provider_for_hr_an_employee_and_a_talk_form(
    live_runtime: Runtime, live_server: str, provider: OpenIdProvider, browser: Browser, artifacts: Path
) -> None:
    cycle_id = demo_cycle(live_runtime)
    task = drive_unit(live_runtime, cycle_id, unit_id(live_runtime, "HJE"), "talk_preparation")
    with live_runtime.sessions() as session:
        employee = session.scalars(select(Person).where(Person.id == task.assignee_id)).one()
        email, name = employee.email, employee.name
    provider.add_user("emp", email, ["staff"])

    # HR: the sign-in page offers the provider; signing in lands on the board; signing out ends it.
    hr = _phone(browser)
    page = hr.new_page()
    page.goto(f"{live_server}/hr/login")
    expect(page.get_by_role("heading", level=1)).to_have_text("Logg inn i Årshjul")
    assert_accessible(page)
    page.screenshot(path=str(artifacts / "sso-sign-in-phone.png"), full_page=True)
    page.get_by_role("link", name="Logg inn med Testleverandøren").click()
    expect(page).to_have_url(f"{live_server}/board")
    expect(page.get_by_role("heading", level=1)).to_contain_text("2027")
    page.get_by_role("button", name="Logg ut").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Du er logget ut av Årshjul")
    end_session = page.get_by_role("link", name="Logg ut av Testleverandøren også").get_attribute("href") or ""
    assert end_session.startswith(f"{provider.issuer}/session/end?") and "post_logout_redirect_uri" in end_session
    assert_accessible(page)
    page.goto(f"{live_server}/board")
    expect(page.get_by_role("heading", level=1)).to_have_text("Logg inn i Årshjul")
    hr.close()

    # An employee: my tasks, through the sign-in page and back.
    provider.next_login("emp")
    mine = _phone(browser)
    page = mine.new_page()
    page.goto(f"{live_server}/me/tasks")
    page.get_by_role("link", name="Logg inn med Testleverandøren").click()
    expect(page).to_have_url(f"{live_server}/me/tasks")
    expect(page.get_by_role("heading", level=1)).to_have_text("Mine oppgaver")
    expect(page.locator("header")).to_contain_text(name)
    expect(page.locator(f'a[href="/t/{task.token}"]')).to_be_visible()
    assert_accessible(page)
    page.screenshot(path=str(artifacts / "sso-my-tasks-phone.png"), full_page=True)
    mine.close()

    # A talk form that needs sign-in: the link leads through the provider and back to the form.
    set_talk_forms_sign_in(live_runtime, True, actor="test")
    talk = _phone(browser)
    page = talk.new_page()
    page.goto(f"{live_server}/t/{task.token}")
    expect(page).to_have_url(f"{live_server}/t/{task.token}")
    expect(page.locator("textarea, input[type=text]").first).to_be_editable()
    assert_accessible(page)
    talk.close()
