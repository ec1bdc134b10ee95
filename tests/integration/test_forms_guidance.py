"""The forms as the leader and the employee meet them: guidance that folds away (no JavaScript), the
leader's talk guide, and the talk record's mastery need by need with a described scale and "what
would help" instead of one overall grade, which no page shows HR or ranks people by."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from aarshjul.runtime import Runtime
from aarshjul.usecases.work.opening import open_task
from service.app import create_app
from tests.builders import demo_cycle, drive_unit, unit_id, valid_input
from tests.hr_support import hr_clients


@pytest.fixture
def client(runtime: Runtime) -> TestClient:
    return TestClient(create_app(runtime))


def test_guidance_opens_the_form_and_the_talk_guide_is_the_leaders(runtime: Runtime, client: TestClient) -> None:
    cycle = demo_cycle(runtime)
    unit = unit_id(runtime, "HR")
    review = drive_unit(runtime, cycle, unit, "strategy_review")
    page = client.get(f"/t/{review.token}").text
    guidance = page.index('<details class="guidance" open>')
    assert guidance < page.index('<form method="post" id="form"')
    assert "Strategien er der året begynner." in page and "Slik ser et godt svar ut:" in page
    assert "<script" not in page and 'class="talk-guide"' not in page
    assert "The strategy is where the year starts." in client.get(f"/t/{review.token}?lang=en").text

    record = drive_unit(runtime, cycle, unit, "talk_record")
    page = client.get(f"/t/{record.token}").text
    assert 'class="talk-guide"' in page and "Vær en sparringspartner" in page


def test_the_talk_record_describes_mastery_need_by_need(runtime: Runtime, client: TestClient) -> None:
    cycle = demo_cycle(runtime)
    unit = unit_id(runtime, "HR")
    record = drive_unit(runtime, cycle, unit, "talk_record")
    body = client.get(f"/api/t/{record.token}").json()
    properties = body["schema"]["properties"]
    assert "mastery_level" not in properties
    assert (properties["mastery"]["minItems"], properties["mastery"]["maxItems"]) == (1, 1)  # one per need
    data = valid_input(open_task(runtime, record.token))
    refused = client.post(f"/api/t/{record.token}", json={**data, "mastery_level": 3})
    assert refused.status_code == 422 and refused.json()["detail"][0]["type"] == "extra_forbidden"
    page = client.get(f"/t/{record.token}").text
    assert "Mestring av enhetens kritiske kompetansebehov" in page and "Hva vil hjelpe" in page
    assert "Kan lære bort: veileder andre og lærer det bort" in page  # the scale is described
    assert "Mestringsnivå" not in page
    assert client.post(f"/api/t/{record.token}", json=data).status_code == 200
    # HR sees that the talk happened, never the mastery it records.
    with hr_clients(runtime) as clients:
        detail = clients.client.get(f"/api/cycles/{cycle}/units/{unit}", headers=clients.api()).json()
        records = [f for f in detail["submitted"] if f["form_key"] == "talk_record"]
        assert records and all(f["private"] and f["fields"] == [] for f in records)
        assert "independent" not in str(detail) and "Tid til å øve" not in str(detail)
