"""Nynorsk as a third language: chosen by ``?lang=nn``, by Accept-Language, by a person's language in
the organisation file and by the organisation's default; and a page in nynorsk holds no text of
bokmål or English (every catalogue text whose nynorsk differs is looked for on the page), nor do the
nynorsk catalogue and cycle definition use a bokmål-only word."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient
from sqlalchemy import select

from aarshjul.db.models import Person
from aarshjul.domain.cycle_spec import load_definition
from aarshjul.domain.enums import Language
from aarshjul.presentation.i18n import LOCALE_DIR
from aarshjul.runtime import Runtime
from aarshjul.usecases.admin.org_import import import_org, seed_demo
from aarshjul.usecases.cycle.start import start_cycle
from aarshjul.usecases.work.opening import open_task
from forms.registry import FORMS
from notifications.dispatcher import dispatch_due
from service.app import create_app
from service.routes.forms import csrf_token
from tests.builders import CYCLE_YEAR, demo_cycle, drive_unit, unit_id, valid_input
from tests.hr_support import hr_clients
from tests.integration.test_forms_http import flatten, task_for
from tests.integration.test_forms_pages import Page, _form_texts, accessibility_problems
from tests.notifications_support import Capture

#: Words that are bokmål and never nynorsk (nynorsk: ikkje, kva, eg, korleis, kven, kvar, nokon, noko,
#: eining, leiar, medarbeidar, oppgåve, frå, vere, gjere, vert/blir, enno, sidan …).
BOKMAL_ONLY = frozenset(
    [
        "ikke",
        "hva",
        "hvem",
        "hvor",
        "hvordan",
        "hvorfor",
        "hvilken",
        "hvilke",
        "jeg",
        "noe",
        "noen",
        "hver",
        "hvert",
        "hvis",
        "fra",
        "enhet",
        "enheten",
        "enheter",
        "enhetens",
        "leder",
        "lederen",
        "ledere",
        "lederne",
        "medarbeider",
        "medarbeideren",
        "medarbeidere",
        "oppgave",
        "oppgaven",
        "oppgaver",
        "oppgavene",
        "være",
        "gjøre",
        "ble",
        "ennå",
        "siden",
        "mye",
        "egen",
        "eget",
        "egne",
        "dere",
        "deres",
        "bare",
        "selv",
        "skrevet",
        "mottatt",
        "fortsatt",
        "tidligere",
        "senere",
        "påminnelse",
        "påminnelser",
        "forespørselen",
        "vennlig",
        "forsinket",
        "forsinkede",
        "kommentarer",
        "innhold",
    ]
)
_WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")


def bokmal_words(text: str) -> list[str]:
    return sorted({w for w in _WORD.findall(text.lower()) if w in BOKMAL_ONLY})


@cache
def _catalogue(language: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for path in sorted((LOCALE_DIR / language / "LC_MESSAGES").glob("*.po")):
        with path.open("rb") as fh:
            for message in read_po(fh, locale=language):
                if message.id and isinstance(message.id, str) and isinstance(message.string, str):
                    found[message.id] = message.string
    return found


def _pattern(text: str) -> re.Pattern[str]:
    parts = re.split(r"\{\w*\}", " ".join(text.split()))
    return re.compile(".+?".join(re.escape(p) for p in parts))


@cache
def _foreign_to_nynorsk() -> tuple[tuple[str, re.Pattern[str]], ...]:
    """Bokmål and English texts of the catalogues that nynorsk words otherwise, and that no nynorsk
    text also reads as: the English id of every message, and its bokmål translation."""
    nynorsk = _catalogue("nn")
    ids = set(_catalogue("nb")) | set(nynorsk) | _form_texts()
    own = set(nynorsk.values())
    wrong = {t for t in ids if nynorsk.get(t, t) != t} | {nb for i, nb in _catalogue("nb").items() if nb != nynorsk[i]}
    wrong = {t for t in wrong - own if len(re.sub(r"\{\w*\}", "", t).strip()) >= 8}
    return tuple((text, _pattern(text)) for text in sorted(wrong))


def foreign_texts(page: Page) -> list[str]:
    found = []
    for text in page.texts:
        for message, pattern in _foreign_to_nynorsk():
            if pattern.fullmatch(text) or (len(message) >= 20 and pattern.search(text)):
                found.append(f"{text!r} (from {message!r})")
    return found


def test_the_check_finds_bokmal_and_english_on_a_page() -> None:
    assert bokmal_words("Eg har ikkje sendt det. Hva er dette?") == ["hva"]
    assert bokmal_words("Kva er dette? Korleis går det med eininga?") == []
    page = Page('<html lang="nn"><p>Send inn</p><p>Noe gikk galt</p><p>Something went wrong</p></html>')
    assert len(foreign_texts(page)) == 2


def test_the_nynorsk_catalogue_and_cycle_definition_use_no_bokmal_only_word() -> None:
    found = {msgid: bokmal_words(text) for msgid, text in _catalogue("nn").items() if bokmal_words(text)}
    assert found == {}
    definition = load_definition()
    names = [definition.name, *(s.name for s in definition.steps), *(p.name for s in definition.steps for p in s.parts)]
    assert all(name.nn for name in names)
    assert {name.get("nn"): bokmal_words(name.get("nn")) for name in names if bokmal_words(name.get("nn"))} == {}


def test_every_form_text_has_nynorsk() -> None:
    """Form titles, hints and choices are kept in the form models, out of reach of any extractor."""
    nynorsk = _catalogue("nn")
    assert sorted(t for t in _form_texts() if not nynorsk.get(t)) == []


@pytest.mark.parametrize("form_key", sorted(FORMS))
def test_every_form_reads_in_nynorsk_only(runtime: Runtime, form_key: str) -> None:
    client = TestClient(create_app(runtime))
    task = task_for(runtime, form_key)
    csrf = csrf_token(runtime, task.token)
    data = flatten(valid_input(open_task(runtime, task.token)))
    url = f"/t/{task.token}?lang=nn"
    pages = {
        "empty": client.get(url).text,
        "refused": client.post(url, data={"csrf": csrf, "action": "submit"}).text,
        "draft": client.post(url, data={**data, "csrf": csrf, "action": "save_draft"}).text,
        "receipt": client.post(url, data={**data, "csrf": csrf, "action": "submit"}).text,
    }
    assert "Takk. Vi har motteke svaret ditt" in pages["receipt"]
    assert "Dette feltet må fyllast ut." in pages["refused"] or "Noko må rettast" in pages["refused"]
    for name, source in pages.items():
        page = Page(source)
        assert not foreign_texts(page), (name, foreign_texts(page))
        assert not accessibility_problems(page, "nn"), (name, accessibility_problems(page, "nn"))


def test_the_language_is_chosen_by_query_header_and_default(runtime: Runtime) -> None:
    client = TestClient(create_app(runtime))
    task = task_for(runtime, "unit_goals")
    by_query = client.get(f"/t/{task.token}?lang=nn", headers={"Accept-Language": "en"}).text
    assert '<html lang="nn"' in by_query and "Måla til eininga" in by_query
    for header in ("nn", "nn-NO,nb;q=0.5", "en;q=0.3, nn"):
        page = client.get(f"/t/{task.token}", headers={"Accept-Language": header}).text
        assert '<html lang="nn"' in page, header
    assert '<html lang="nb"' in client.get(f"/t/{task.token}", headers={"Accept-Language": "no"}).text
    # The language links offer all three, each in its own language.
    links = re.findall(r'<a href="[^"]*lang=(\w+)"[^>]*lang="(\w+)">([^<]+)</a>', by_query)
    assert [(code, name) for code, _lang, name in links] == [
        ("nb", "Norsk bokmål"),
        ("nn", "Norsk nynorsk"),
        ("en", "English"),
    ]

    runtime.settings = runtime.settings.model_copy(update={"default_language": Language.NN})
    client = TestClient(create_app(runtime))
    assert '<html lang="nn"' in client.get(f"/t/{task.token}").text
    assert '<html lang="nn"' in client.get(f"/t/{task.token}", headers={"Accept-Language": "sv"}).text
    assert '<html lang="nb"' in client.get(f"/t/{task.token}", headers={"Accept-Language": "nb"}).text
    assert '<html lang="en"' in client.get(f"/t/{task.token}?lang=en").text
    assert '<html lang="nn"' in client.get("/no-such-page").text


def test_hr_pages_and_exports_in_nynorsk(runtime: Runtime) -> None:
    cycle_id = demo_cycle(runtime)
    hel = unit_id(runtime, "HEL")
    drive_unit(runtime, cycle_id, hel, "measure_approval")
    with hr_clients(runtime) as hr:
        board = hr.client.get("/board?lang=nn", headers=hr.api()).text
        assert "Statustavle" in board and "Eininga si prioritering og formulering av eigne mål" in board
        unit = hr.client.get(f"/board/units/{hel}?cycle={cycle_id}&lang=nn", headers=hr.api()).text
        assert "Måla til eininga" in unit
        for path in ("/board", f"/board/units/{hel}?cycle={cycle_id}", "/hr/cycles", "/hr/measures", "/plan"):
            page = Page(hr.client.get(f"{path}{'&' if '?' in path else '?'}lang=nn", headers=hr.api()).text)
            assert not foreign_texts(page), (path, foreign_texts(page))
        csv = hr.client.get(f"/api/cycles/{cycle_id}/status.csv?lang=nn", headers=hr.api()).text
        assert "2. Eininga si prioritering og formulering av eigne mål" in csv and "Enhetens" not in csv
        status = hr.client.get(f"/api/cycles/{cycle_id}/status", headers=hr.api()).json()
        assert status["steps"][1]["names"] == {
            "nb": "Enhetens prioritering og formulering av egne mål",
            "nn": "Eininga si prioritering og formulering av eigne mål",
            "en": "Unit goals",
        }


ORG_CSV = """employee_no,name,email,unit,unit_name,parent_unit,role,language,deputy
1,Hilde Hovland,hilde@vestvik.kommune.no,ADM,Administrasjon,,hr,nn,
2,Ola Leiar,ola@vestvik.kommune.no,ADM,Administrasjon,,leader,,
3,Kari Tilsett,kari@vestvik.kommune.no,ADM,Administrasjon,,employee,NN,
4,Per Bokmål,per@vestvik.kommune.no,ADM,Administrasjon,,employee,nb,
"""


def test_the_organisation_file_gives_each_person_a_language_and_the_default_the_rest(
    runtime: Runtime, tmp_path: Path
) -> None:
    runtime.settings = runtime.settings.model_copy(update={"default_language": Language.NN})
    path = tmp_path / "org.csv"
    path.write_text(ORG_CSV, encoding="utf-8")
    import_org(runtime, path)
    with runtime.sessions() as session:
        languages = {p.email.split("@")[0]: p.language for p in session.scalars(select(Person))}
    assert languages == {"hilde": "nn", "ola": "nn", "kari": "nn", "per": "nb"}


def test_a_person_whose_language_is_nynorsk_gets_nynorsk_emails(runtime: Runtime) -> None:
    seed_demo(runtime)
    with runtime.sessions.begin() as session:
        for person in session.scalars(select(Person)):
            person.language = Language.NN if person.role == "leader" else Language.NB
    # Each message is queued in its reader's language: the cycle's invitations when it starts.
    cycle_id = start_cycle(runtime, CYCLE_YEAR, starts_on=runtime.clock().astimezone(runtime.settings.zone).date())
    backend = Capture()
    dispatch_due(runtime, backend=backend)
    with runtime.sessions() as session:
        leaders = {p.email for p in session.scalars(select(Person).where(Person.role == "leader"))}
    nynorsk = [m for m in backend.sent if m.to in leaders]
    bokmal = [m for m in backend.sent if m.to not in leaders]
    assert nynorsk and bokmal and cycle_id
    for message in nynorsk:
        assert 'lang="nn"' in message.html and "Opne oppgåva" in message.text, message.subject
        assert "Nye oppgåver i årshjulet" in message.subject or "oppgåve" in message.subject.lower()
        assert bokmal_words(message.subject) == [], message.subject
        for pattern_text, pattern in _foreign_to_nynorsk():
            assert not (len(pattern_text) >= 20 and pattern.search(message.text)), pattern_text
    for message in bokmal:
        assert 'lang="nb"' in message.html and "oppgåve" not in message.text
    assert any("De første oppgavene er sendt ut" in m.text for m in bokmal)  # HR's news of the start
