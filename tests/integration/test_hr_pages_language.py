"""HR's pages rendered in bokmål show no English message id, and in English no bokmål step name.

The pages are rendered with what they can show: a submitted review, a returned and an approved
measure, open and late follow-ups, late tasks, the audit log, the sign-in form and the wheel."""

from __future__ import annotations

import html
import re

from aarshjul.clock import ManualClock
from aarshjul.presentation.i18n import gettext
from aarshjul.runtime import Runtime
from tests.builders import demo_cycle, drive_unit, follow_up_task, submit_valid, unit_id
from tests.hr_support import HrClients, hr_clients, hr_msgids

_TAG = re.compile(r"<[^>]+>")
#: English message ids that are also bokmål words ("To" = two), so typed text may hold them.
HOMOGRAPHS = frozenset({"To"})
_SHOWN_ATTRIBUTE = re.compile(r'(?:aria-label|title|placeholder|alt)="([^"]*)"')


def visible_text(page: str) -> str:
    """What a person reads or hears: the text between tags, and labels in attributes. ``<code>``
    holds identifiers and stored values (the audit log's action codes), not wording."""
    without_code = re.sub(r"<(script|style|code)\b.*?</\1>", " ", page, flags=re.S)
    parts = [_TAG.sub(" ", without_code), *_SHOWN_ATTRIBUTE.findall(without_code)]
    return html.unescape(" ".join(parts))


def _pattern(msgid: str) -> re.Pattern[str]:
    pieces = re.split(r"\{\w+\}", msgid)
    return re.compile(r"(?<!\w)" + r".{1,40}?".join(re.escape(p) for p in pieces) + r"(?!\w)")


def untranslated_in(text: str) -> list[str]:
    """HR's message ids that appear in the text although bokmål words them differently."""
    return sorted(m for m in hr_msgids() - HOMOGRAPHS if gettext("nb", m) != m and _pattern(m).search(text))


def _pages(hr: HrClients, cycle_id: int, units: list[int]) -> dict[str, str]:
    paths = [
        "/board",
        f"/board?cycle={cycle_id}&late=1",
        "/board/wheel.svg",
        *[f"/board/units/{u}?cycle={cycle_id}" for u in units],
        "/hr/cycles",
        "/hr/measures",
        "/plan",
        "/hr/audit",
    ]
    shown = {}
    for path in paths:
        response = hr.client.get(path, headers=hr.api())
        assert response.status_code == 200, (path, response.status_code)
        shown[path] = visible_text(response.text)
    shown["/hr/login"] = visible_text(hr.client.get("/hr/login").text)
    shown["/hr/login (refused)"] = visible_text(
        hr.client.post("/hr/login", data={"email": "x@example.no", "password": "y", "csrf_token": "z"}).text
    )
    return shown


def test_hr_pages_in_bokmal_show_no_english_message(runtime: Runtime, clock: ManualClock) -> None:
    cycle_id = demo_cycle(runtime)
    hel, hr_unit = unit_id(runtime, "HEL"), unit_id(runtime, "HR")
    drive_unit(runtime, cycle_id, hel, "measure_approval")
    submit_valid(runtime, follow_up_task(runtime, cycle_id, hr_unit))
    clock.advance(days=40)  # follow-ups and other units' steps are late
    with hr_clients(runtime) as hr:
        proposals = hr.client.get("/api/measures", headers=hr.api()).json()
        decided = hr.client.post(
            f"/api/measures/{proposals[0]['id']}/decision", json={"decision": "approve"}, headers=hr.api()
        )
        assert decided.status_code == 204
        pages = _pages(hr, cycle_id, [hel, hr_unit])
        found = {path: untranslated_in(text) for path, text in pages.items()}
        assert {path: ids for path, ids in found.items() if ids} == {}
        # The pages did show what the check looks for.
        assert "Oppfølging av utviklingsplanen" in pages[f"/board/units/{hr_unit}?cycle={cycle_id}"]
        assert "Oppfølginger" in pages["/board"] and "Forsinkede oppgaver" in pages["/board"]
        # Submitted forms read with their fields' titles, the audit log with what each action means.
        assert "Enhetens mål 1 › Prioritet" in pages[f"/board/units/{hel}?cycle={cycle_id}"]
        assert "Startet et årshjul" in pages["/hr/audit"] and "Sendte inn et skjema" in pages["/hr/audit"]

        english = visible_text(hr.client.get(f"/board/units/{hr_unit}?cycle={cycle_id}&lang=en", headers=hr.api()).text)
        assert "Follow-up of the development plan" in english and "Oppfølging av utviklingsplanen" not in english
        assert "Goal and development talks – Talk record" in english


def test_the_check_finds_an_english_message_left_in_a_page() -> None:
    assert untranslated_in("Statustavle  Late tasks (3)") == ["Late tasks"]
    assert untranslated_in("12 events; newest first.") == ["{total} events; newest first."]
    assert untranslated_in("Forsinkede oppgaver (3)") == []
